import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CsrfSettings } from '../csrf.js';
import { base64urlDecode } from '../encoding.js';
import { createHybridSessions, type HybridSessions } from '../hybrid.js';
import { JwtKeySet } from '../jwt/key-set.js';
import { generateSigningKey } from '../jwt/keys.js';
import { createSessionJwt } from '../jwt/session-jwt.js';
import { SessionManager } from '../manager.js';
import { MemoryStore } from '../memory-store.js';
import { randomBytes, randomString } from '../random.js';
import { createTestClock } from './clock.js';
import { createLintedClient, type LintedClient, type LintedResponse, parseSetCookie } from './http-lint.js';
import { instrumentStore } from './instrument.js';

/** What the hybrid suite hands the adapter's test app. */
export interface HybridSuiteSetup {
  manager: SessionManager;
  /** CSRF options for the adapter (it fills in the manager). */
  csrf: CsrfSettings;
  /** Pass it as the adapter's `hybrid` option. */
  hybrid: HybridSessions;
}

export interface HybridHttpSuiteOptions {
  /** Shown in the suite title, e.g. `express`. */
  name: string;
  /**
   * Starts the adapter's app on 127.0.0.1 (ephemeral port) in hybrid mode and returns its base
   * URL. The app serves these JSON routes:
   *
   * | route | guards | does | answers |
   * |---|---|---|---|
   * | `GET /private` | requireSession | - | `{ userId }` |
   * | `GET /sensitive` | requireSession `{ strict: true }` | - | `{ userId }` |
   * | `GET /csrf` | - | csrfToken | `{ csrfToken }` |
   * | `POST /login` | csrf | login `{ userId }` from the JSON body | `{ userId }` |
   * | `POST /logout` | csrf | logout | `{ ok: true }` |
   * | `POST /rotate` | requireSession, csrf | rotate `{ reauthenticated: true }` | `{ userId }` |
   *
   * `SessionError`s thrown by handlers are answered with core's `errorResponse`.
   */
  start(setup: HybridSuiteSetup): Promise<{ url: string; close(): Promise<void> }>;
}

const SUITE_ORIGIN = 'https://app.example';
const PRE = '__Host-pre';

/**
 * Registers the hybrid-mode HTTP suite as vitest tests: with a session-JWT cookie next to the
 * session cookie, reads need no store round trip, a revoked session stays usable at most until
 * its JWT expires (on the injected clock) and is refused at once on a strict route, a fresh JWT
 * cookie follows an expired one while the session lives, and login, logout and rotation set or
 * clear both cookies. The header-lint runs on every response.
 *
 * @example
 * ```ts
 * runHybridHttpSuite({ name: 'express', start: async ({ manager, csrf, hybrid }) => listen(buildApp(manager, { csrf, hybrid })) })
 * ```
 */
export function runHybridHttpSuite(options: HybridHttpSuiteOptions): void {
  describe(`adapter hybrid suite: ${options.name}`, () => {
    const clock = createTestClock(Date.UTC(2026, 0, 1));
    const probe = instrumentStore(new MemoryStore());
    const manager = new SessionManager({ store: probe.store, clock, storeTimeoutMs: 200 });
    const SID = manager.cookie.name;
    let hybrid: HybridSessions;
    let JWT = '';
    let server: { url: string; close(): Promise<void> } | undefined;
    let client: LintedClient;

    beforeAll(async () => {
      const keys = new JwtKeySet({ active: await generateSigningKey('EdDSA') });
      const jwt = createSessionJwt({ manager, keys, issuer: 'https://auth.app.example', audience: 'web' });
      hybrid = createHybridSessions({ jwt });
      JWT = hybrid.cookieName;
      const csrf = { key: randomBytes(32), allowedOrigins: [SUITE_ORIGIN] };
      server = await options.start({ manager, csrf, hybrid });
      client = createLintedClient(server.url, { sessionCookie: manager.cookie, preSessionCookieName: PRE });
    });
    afterAll(async () => {
      await server?.close();
    });
    afterEach(() => {
      probe.fail(null);
    });

    type Jar = Record<string, string>;
    const sameOrigin = { 'sec-fetch-site': 'same-origin', origin: SUITE_ORIGIN };

    /** Applies a response's Set-Cookie lines to a copy of the jar, as a browser would. */
    const receive = (jar: Jar, res: LintedResponse): Jar => {
      const next = { ...jar };
      for (const line of res.setCookies) {
        const cookie = parseSetCookie(line);
        if (!cookie) continue;
        if (cookie.value === '' || cookie.attributes.get('max-age') === '0') delete next[cookie.name];
        else next[cookie.name] = cookie.value;
      }
      return next;
    };
    const setCookieOf = (res: LintedResponse, name: string) =>
      res.setCookies.filter((line) => line.startsWith(`${name}=`));
    const isDeletion = (lines: string[]) => lines.length === 1 && /=; .*Max-Age=0/.test(lines[0] as string);
    /** `exp` of the JWT cookie in ms: the only deadline the JWT path knows. */
    const expiryOf = (jar: Jar) => {
      const payload = base64urlDecode((jar[JWT] ?? '').split('.')[1] ?? '');
      return (JSON.parse(new TextDecoder().decode(payload ?? new Uint8Array())) as { exp: number }).exp * 1000;
    };

    const post = async (path: string, jar: Jar, json: unknown = {}) => {
      const page = await client.request('/csrf', { cookies: jar });
      const withPre = receive(jar, page);
      const res = await client.request(path, {
        cookies: withPre,
        headers: { ...sameOrigin, 'x-csrf-token': page.json<{ csrfToken: string }>().csrfToken },
        json,
      });
      return { res, jar: receive(withPre, res) };
    };
    const login = async () => {
      const userId = `hybrid-${randomString(8)}`;
      const { res, jar } = await post('/login', {}, { userId });
      expect(res.status).toBe(200);
      client.addSecret(jar[JWT] as string);
      return { userId, jar, res };
    };
    const expectError = (res: LintedResponse, status: number, code: string) => {
      expect({ status: res.status, code: res.json<{ error: { code: string } }>().error.code }).toEqual({
        status,
        code,
      });
    };

    it('login sets the session cookie and a JWT cookie (same attributes, Max-Age = TTL); reads need no store call', async () => {
      const { res, jar, userId } = await login();
      expect(setCookieOf(res, SID)).toHaveLength(1);
      expect(setCookieOf(res, JWT)).toEqual([
        `${JWT}=${jar[JWT]}; Path=/; Max-Age=300; Secure; HttpOnly; SameSite=Lax`,
      ]);
      expect(res.headers.get('cache-control')).toContain('no-store');
      probe.reset();
      for (let i = 0; i < 5; i++) {
        const read = await client.request('/private', { cookies: jar });
        expect({ status: read.status, body: read.json(), setCookies: read.setCookies }).toEqual({
          status: 200,
          body: { userId },
          setCookies: [],
        });
      }
      expect(probe.total()).toBe(0);
    });

    it('a strict route asks the store once and passes a live session', async () => {
      const { jar, userId } = await login();
      probe.reset();
      const res = await client.request('/sensitive', { cookies: jar });
      expect({ status: res.status, body: res.json(), setCookies: res.setCookies }).toEqual({
        status: 200,
        body: { userId },
        setCookies: [],
      });
      expect(probe.calls.get).toBe(1);
    });

    it('a revoked session stays usable through the JWT cookie at most until the JWT expires, and a strict route refuses it at once', async () => {
      const { jar, userId } = await login();
      const [session] = await manager.list(userId);
      await manager.revoke(session?.id as string);
      const expiresAt = expiryOf(jar);

      clock.set(expiresAt - 1);
      const stale = await client.request('/private', { cookies: jar });
      expect({ status: stale.status, body: stale.json() }).toEqual({ status: 200, body: { userId } });

      const strict = await client.request('/sensitive', { cookies: jar });
      expectError(strict, 401, 'UNAUTHENTICATED');
      expect(isDeletion(setCookieOf(strict, SID)) && isDeletion(setCookieOf(strict, JWT))).toBe(true);

      // A client that kept both cookies (a copied cookie jar) gets nothing once the JWT expires.
      clock.set(expiresAt);
      const expired = await client.request('/private', { cookies: jar });
      expectError(expired, 401, 'UNAUTHENTICATED');
      expect(isDeletion(setCookieOf(expired, SID)) && isDeletion(setCookieOf(expired, JWT))).toBe(true);
    });

    it('a fresh JWT cookie is issued after the old one expires while the session lives', async () => {
      const { jar, userId } = await login();
      clock.set(expiryOf(jar));
      probe.reset();
      // The browser may still send the expired cookie, or may have dropped it (Max-Age).
      for (const sent of [jar, { [SID]: jar[SID] as string }]) {
        const res = await client.request('/private', { cookies: sent });
        expect({ status: res.status, body: res.json() }).toEqual({ status: 200, body: { userId } });
        const [line] = setCookieOf(res, JWT);
        expect(line).toMatch(/; Path=\/; Max-Age=300; Secure; HttpOnly; SameSite=Lax$/);
        expect(line).not.toContain(jar[JWT] as string);
        expect(res.headers.get('cache-control')).toContain('no-store');
      }
      expect(probe.calls.get).toBe(2);

      const renewed = receive(jar, await client.request('/private', { cookies: jar }));
      expect(renewed[JWT]).not.toBe(jar[JWT]);
      probe.reset();
      expect((await client.request('/private', { cookies: renewed })).status).toBe(200);
      expect(probe.total()).toBe(0);
    });

    it('logout revokes the session and deletes both cookies; the old pair fails a strict route', async () => {
      const { jar } = await login();
      const { res, jar: after } = await post('/logout', jar);
      expect(res.status).toBe(200);
      expect(isDeletion(setCookieOf(res, SID)) && isDeletion(setCookieOf(res, JWT))).toBe(true);
      expect(after[SID] ?? after[JWT]).toBeUndefined();
      expectError(await client.request('/sensitive', { cookies: jar }), 401, 'UNAUTHENTICATED');
    });

    it('rotation re-issues both cookies once each; the new pair reads from the JWT, the old pair is dead', async () => {
      const { jar, userId } = await login();
      const { res, jar: rotated } = await post('/rotate', jar);
      expect(res.status).toBe(200);
      expect([setCookieOf(res, SID).length, setCookieOf(res, JWT).length]).toEqual([1, 1]);
      expect(rotated[SID]).not.toBe(jar[SID]);
      client.addSecret(rotated[JWT] as string);
      probe.reset();
      const read = await client.request('/private', { cookies: rotated });
      expect({ status: read.status, body: read.json() }).toEqual({ status: 200, body: { userId } });
      expect(probe.total()).toBe(0);
      expectError(await client.request('/sensitive', { cookies: jar }), 401, 'UNAUTHENTICATED');
    });

    it('during a store outage JWT reads go on, strict routes answer 503, and no cookie is deleted', async () => {
      const { jar, userId } = await login();
      probe.fail('error');
      const read = await client.request('/private', { cookies: jar });
      expect({ status: read.status, body: read.json() }).toEqual({ status: 200, body: { userId } });
      const strict = await client.request('/sensitive', { cookies: jar });
      expectError(strict, 503, 'STORE_UNAVAILABLE');
      expect(strict.setCookies).toEqual([]);
    });
  });
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDbsc, type Dbsc, type DbscOptions } from '../dbsc.js';
import type { SessionEvent } from '../events.js';
import { createSessionManager, type SessionManager } from '../manager.js';
import { MemoryStore } from '../memory-store.js';
import type { SessionData } from '../types.js';
import { createTestClock } from './clock.js';
import {
  type DbscTestKey,
  generateDbscKey,
  parseChallengeHeader,
  parseRegistrationHeader,
  sessionResponseHeader,
  signDbscProof,
} from './dbsc-client.js';

/**
 * Device Bound Session Credentials over real HTTP, the same for every adapter: the adapter mounts
 * its DBSC helpers on the routes below, and the suite plays a DBSC browser (the spec client of
 * `dbsc-client.ts`), a browser without DBSC, and a thief holding copied cookies.
 */

export interface DbscServerInput {
  /** The suite's manager: a memory store, a test clock the suite advances, events it reads. */
  manager: SessionManager<SessionData>;
  /** `createDbsc(manager, options)`, for adapters that mount the suite's own object. */
  dbsc: Dbsc<SessionData>;
  /**
   * The options `dbsc` was made with, for an app that makes its own manager from the suite's
   * store, clock and event hook (as Next's fixture app does) and its own DBSC object from these.
   */
  options: DbscOptions;
}

export interface DbscSuiteOptions {
  /** The adapter's name, prefixed to the suite's `describe` title. */
  name: string;
  /**
   * Starts the adapter's app with its session middleware and these routes:
   * - `POST /dbsc/login`: logs in user `alice` and offers registration (`Secure-Session-Registration`);
   * - `POST /dbsc/register` and `POST /dbsc/refresh`: the DBSC endpoints;
   * - `GET /dbsc/profile`: requires a session, answers `{ user }`;
   * - `GET /dbsc/transfer`: requires a session and a bound one when it is bound (the default guard);
   * - `GET /dbsc/strict`: requires a bound session (`'always'`);
   * - `POST /dbsc/logout`: logs out and deletes the bound cookie.
   */
  start(input: DbscServerInput): Promise<{ url: string; close(): Promise<void> }>;
}

/** A cookie jar of name=value pairs, as a browser keeps them (Max-Age=0 deletes). */
class Jar {
  readonly cookies = new Map<string, string>();
  take(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      if (/Max-Age=0(?:;|$)/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, pair.slice(eq + 1));
    }
  }
  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
  copy(only?: string): Jar {
    const jar = new Jar();
    for (const [name, value] of this.cookies) if (!only || name === only) jar.cookies.set(name, value);
    return jar;
  }
}

const BOUND_TTL_MS = 60_000;

/**
 * Registers the DBSC HTTP suite as vitest tests against one adapter's app: registration at login,
 * the bound routes, the 403 challenge round of a refresh, copied cookies (alone, and with the bound
 * cookie until its lifetime ends), a refresh with another key (refused and reported), browsers
 * without DBSC, a second registration, and logout deleting the bound cookie.
 *
 * @example
 * ```ts
 * runDbscHttpSuite({ name: 'express', start: async ({ manager, dbsc }) => startApp(manager, dbsc) })
 * ```
 */
export function runDbscHttpSuite(options: DbscSuiteOptions): void {
  describe(`${options.name}: Device Bound Session Credentials over HTTP`, () => {
    const events: SessionEvent[] = [];
    const clock = createTestClock(Date.now());
    const manager = createSessionManager({
      store: new MemoryStore(),
      clock,
      onEvent: (event) => events.push(event),
    });
    const dbscOptions: DbscOptions = { secret: new Uint8Array(32).fill(3), boundCookieTtlMs: BOUND_TTL_MS };
    const dbsc = createDbsc(manager, dbscOptions);
    let server: { url: string; close(): Promise<void> };

    beforeAll(async () => {
      server = await options.start({ manager, dbsc, options: dbscOptions });
    });
    afterAll(async () => {
      await server?.close();
      await manager.close();
    });

    const sid = manager.cookie.name;
    const bound = dbsc.cookieName;
    const call = async (path: string, jar: Jar, init: { method?: string; headers?: Record<string, string> } = {}) => {
      const response = await fetch(`${server.url}${path}`, {
        method: init.method ?? 'GET',
        headers: { cookie: jar.header(), ...init.headers },
        redirect: 'manual',
        signal: AbortSignal.timeout(15_000),
      });
      jar.take(response);
      return response;
    };
    const statusOf = async (path: string, jar: Jar) => (await call(path, jar)).status;
    const codeOf = async (response: Response) => ((await response.json()) as { error?: { code?: string } }).error?.code;
    /** Events since `from` of one type, by reason. */
    const reasons = (from: number, type: SessionEvent['type']) =>
      events
        .slice(from)
        .filter((event) => event.type === type)
        .map((event) => ('reason' in event ? event.reason : null));

    /** Login and registration as a DBSC browser does them: the device's jar and key. */
    async function boundBrowser(alg: 'ES256' | 'RS256' = 'ES256') {
      const jar = new Jar();
      const login = await call('/dbsc/login', jar, { method: 'POST' });
      expect(login.status).toBe(200);
      const offer = parseRegistrationHeader(login.headers.get('secure-session-registration') ?? '');
      const key = await generateDbscKey(alg);
      const proof = await signDbscProof(key, { challenge: offer.challenge, registration: true });
      const registration = await call(offer.path, jar, {
        method: 'POST',
        headers: { 'secure-session-response': sessionResponseHeader(proof) },
      });
      expect(registration.status).toBe(200);
      const instructions = (await registration.json()) as {
        session_identifier: string;
        refresh_url: string;
        credentials: Array<{ name: string }>;
      };
      return { jar, key, instructions, offer };
    }

    /** The browser's refresh: POST without a proof, sign the 403's challenge, POST again. */
    async function refresh(jar: Jar, key: DbscTestKey, id: string) {
      const first = await call('/dbsc/refresh', jar, {
        method: 'POST',
        headers: { 'sec-secure-session-id': `"${id}"` },
      });
      expect(first.status).toBe(403);
      const challenge = parseChallengeHeader(first.headers.get('secure-session-challenge') ?? '');
      expect(challenge.id).toBe(id);
      const proof = await signDbscProof(key, { challenge: challenge.challenge });
      return call('/dbsc/refresh', jar, {
        method: 'POST',
        headers: { 'sec-secure-session-id': `"${id}"`, 'secure-session-response': sessionResponseHeader(proof) },
      });
    }

    it('login offers registration; the device registers its key and uses the bound routes', async () => {
      const from = events.length;
      const { jar, instructions, offer } = await boundBrowser();
      expect(offer.algorithms).toEqual(['ES256', 'RS256']);
      expect(offer.path).toBe('/dbsc/register');
      expect(instructions.refresh_url).toBe('/dbsc/refresh');
      expect(instructions.credentials.map((credential) => credential.name)).toEqual([bound]);
      expect(jar.cookies.has(sid)).toBe(true);
      expect(jar.cookies.has(bound)).toBe(true);
      expect(await statusOf('/dbsc/transfer', jar)).toBe(200);
      expect(await statusOf('/dbsc/strict', jar)).toBe(200);
      expect(events.slice(from).filter((event) => event.type === 'session.dbsc_registered')).toHaveLength(1);
    });

    it('an RS256 device key registers and refreshes too', async () => {
      const { jar, key, instructions } = await boundBrowser('RS256');
      const refreshed = await refresh(jar, key, instructions.session_identifier);
      expect(refreshed.status).toBe(200);
      expect(await statusOf('/dbsc/strict', jar)).toBe(200);
    });

    it('refreshes the short-lived cookie by proof of possession; a copied cookie stops working after its lifetime', async () => {
      const from = events.length;
      const { jar, key, instructions } = await boundBrowser();

      // Copied without the bound cookie: refused at once on bound routes, fine elsewhere.
      const sessionOnly = jar.copy(sid);
      expect(await statusOf('/dbsc/profile', sessionOnly)).toBe(200);
      const refused = await call('/dbsc/transfer', sessionOnly);
      expect(refused.status).toBe(401);
      expect(await codeOf(refused)).toBe('DBSC_BINDING_REQUIRED');

      // Copied with it: works until the bound cookie's short lifetime passes.
      const thief = jar.copy();
      expect(await statusOf('/dbsc/transfer', thief)).toBe(200);
      clock.advance(BOUND_TTL_MS);
      expect(await statusOf('/dbsc/transfer', thief)).toBe(401);
      expect(await statusOf('/dbsc/transfer', jar)).toBe(401);

      // The device refreshes with its key; the thief cannot, and is reported.
      const refreshed = await refresh(jar, key, instructions.session_identifier);
      expect(refreshed.status).toBe(200);
      expect(((await refreshed.json()) as { session_identifier: string }).session_identifier).toBe(
        instructions.session_identifier,
      );
      expect(await statusOf('/dbsc/transfer', jar)).toBe(200);
      const stolen = await refresh(thief, await generateDbscKey('ES256'), instructions.session_identifier);
      expect(stolen.status).toBe(401);
      expect(await codeOf(stolen)).toBe('DBSC_PROOF_INVALID');
      expect(await statusOf('/dbsc/transfer', thief)).toBe(401);
      expect(reasons(from, 'session.dbsc_rejected')).toEqual(['key_mismatch']);
    });

    it('a refresh proof is accepted once, and a refresh naming another bound session is refused', async () => {
      const from = events.length;
      const { jar, key } = await boundBrowser();
      const first = await call('/dbsc/refresh', jar, { method: 'POST' });
      expect(first.status).toBe(403);
      const { challenge } = parseChallengeHeader(first.headers.get('secure-session-challenge') ?? '');
      const proof = sessionResponseHeader(await signDbscProof(key, { challenge }));
      const answered = await call('/dbsc/refresh', jar, {
        method: 'POST',
        headers: { 'secure-session-response': proof },
      });
      expect(answered.status).toBe(200);
      const replayed = await call('/dbsc/refresh', jar, {
        method: 'POST',
        headers: { 'secure-session-response': proof },
      });
      expect(replayed.status).toBe(401);
      expect(await codeOf(replayed)).toBe('DBSC_CHALLENGE_INVALID');
      const other = await call('/dbsc/refresh', jar, {
        method: 'POST',
        headers: { 'sec-secure-session-id': `"${'x'.repeat(24)}"` },
      });
      expect(other.status).toBe(401);
      expect(await codeOf(other)).toBe('DBSC_PROOF_INVALID');
      expect(reasons(from, 'session.dbsc_rejected')).toEqual(['challenge_invalid', 'id_mismatch']);
    });

    it('a second registration of a bound session is refused: a stolen session cookie cannot swap in a key', async () => {
      const { jar, offer } = await boundBrowser();
      const thiefKey = await generateDbscKey('ES256');
      const proof = await signDbscProof(thiefKey, { challenge: offer.challenge, registration: true });
      const again = await call('/dbsc/register', jar, {
        method: 'POST',
        headers: { 'secure-session-response': sessionResponseHeader(proof) },
      });
      expect(again.status).toBe(401);
      expect(await codeOf(again)).toBe('DBSC_PROOF_INVALID');
      expect(await statusOf('/dbsc/transfer', jar)).toBe(200);
    });

    it('keeps ordinary sessions for browsers without DBSC unless the route requires binding', async () => {
      const jar = new Jar();
      const login = await call('/dbsc/login', jar, { method: 'POST' });
      expect(login.headers.get('secure-session-registration')).toMatch(
        /^\(ES256 RS256\);path="\/dbsc\/register";challenge="/,
      );
      expect(await statusOf('/dbsc/transfer', jar)).toBe(200);
      const strict = await call('/dbsc/strict', jar);
      expect(strict.status).toBe(401);
      expect(await codeOf(strict)).toBe('DBSC_BINDING_REQUIRED');
      // Refresh of a session that never registered: refused, the browser would end its bound session.
      expect((await call('/dbsc/refresh', jar, { method: 'POST' })).status).toBe(401);
      // Without a session cookie: 401 before any proof is read, and the guards refuse.
      expect((await call('/dbsc/register', new Jar(), { method: 'POST' })).status).toBe(401);
      expect((await call('/dbsc/refresh', new Jar(), { method: 'POST' })).status).toBe(401);
      expect(await statusOf('/dbsc/transfer', new Jar())).toBe(401);
    });

    it('logout deletes the bound cookie with the session cookie', async () => {
      const { jar } = await boundBrowser();
      const copy = jar.copy();
      const logout = await call('/dbsc/logout', jar, { method: 'POST' });
      expect(logout.status).toBeLessThan(400);
      expect(jar.cookies.has(bound)).toBe(false);
      expect(jar.cookies.has(sid)).toBe(false);
      // The session is revoked: the copied cookies are worth nothing, bound cookie or not.
      expect(await statusOf('/dbsc/transfer', copy)).toBe(401);
    });
  });
}

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CsrfSettings } from '../csrf.js';
import { utf8 } from '../encoding.js';
import type { SessionEvent } from '../events.js';
import { SessionManager } from '../manager.js';
import { MemoryStore } from '../memory-store.js';
import { randomBytes, randomString } from '../random.js';
import { createTestClock } from './clock.js';
import { createLintedClient, type LintedClient, type LintedResponse } from './http-lint.js';
import { instrumentStore } from './instrument.js';

/** What the suite hands the adapter's test app. */
export interface AdapterSuiteSetup {
  manager: SessionManager;
  /** CSRF options for the adapter (it fills in the manager). */
  csrf: CsrfSettings;
}

export interface RawResponse {
  status: number;
  /** The raw response head (status line and headers). */
  head: string;
  body: string;
}

export interface AdapterHttpSuiteOptions {
  /** Shown in the suite title, e.g. `express`. */
  name: string;
  /**
   * Starts the adapter's reference app on 127.0.0.1 (ephemeral port) with the given manager and
   * CSRF options, and returns its base URL. The app serves these JSON routes:
   *
   * | route | guards | does | answers |
   * |---|---|---|---|
   * | `GET /me` | - | - | `{ userId: string \| null }` |
   * | `GET /private` | requireSession | - | `{ userId }` |
   * | `GET /fresh` | requireFresh(10 min) | - | `{ userId }` |
   * | `GET /csrf` | - | csrfToken | `{ csrfToken }` |
   * | `POST /login` | csrf | login `{ userId, persistent }` from the JSON body | `{ userId }` |
   * | `POST /logout` | csrf | logout | `{ ok: true }` |
   * | `POST /rotate` | requireSession, csrf | rotate `{ reauthenticated: true }` | `{ userId }` |
   * | `POST /switch-user` | requireSession, csrf | rotate, then login `{ userId }` from the body | `{ userId }` |
   * | `POST /transfer` | requireSession, csrf | (JSON or url-encoded form body) | `{ ok: true }` |
   * | `POST /json` | requireSession, csrf `{ requireJson: true }` | - | `{ ok: true }` |
   * | `GET /sessions` | requireSession | `manager.list` | `{ sessions: [{ id, current }] }` |
   * | `POST /sessions/revoke-others` | requireSession, csrf | `manager.revokeAll(userId, { except })` | `{ revoked }` |
   * | `DELETE /sessions/:id` | requireSession, csrf | `manager.revoke(id, { userId })` | 204 |
   * | anything else | - | - | 404, without echoing the URL (it may hold a token) |
   *
   * `SessionError`s thrown by handlers are answered with core's `errorResponse`.
   */
  start(setup: AdapterSuiteSetup): Promise<{ url: string; close(): Promise<void> }>;
  /**
   * Sends raw bytes to the server and reads the answer (the connection is closed by the request's
   * `Connection: close`). Needed for cases fetch cannot express: split Cookie lines (CK-10),
   * non-ASCII and control bytes (CK-05), headers above the server's limit (CK-11). Without it,
   * those cases are skipped with a message.
   */
  sendRaw?: (url: string, request: Uint8Array) => Promise<RawResponse>;
}

const SUITE_ORIGIN = 'https://app.example';
const MINUTE = 60_000;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/;

/**
 * Registers the adapter HTTP suite as vitest tests: cookie attributes, fixation, logout and
 * revocation, expiry with an injected clock, CSRF, hostile cookies, store outage and D5, with the
 * header-lint on every response. Each adapter runs it against its own reference app, so the same
 * request gets the same status and code on every framework.
 *
 * @example
 * ```ts
 * runAdapterHttpSuite({ name: 'express', start: async ({ manager, csrf }) => listen(buildApp(manager, csrf)) })
 * ```
 */
export function runAdapterHttpSuite(options: AdapterHttpSuiteOptions): void {
  describe(`adapter HTTP suite: ${options.name}`, () => {
    const clock = createTestClock(Date.UTC(2026, 0, 1));
    const events: SessionEvent[] = [];
    const instrumented = instrumentStore(new MemoryStore());
    const manager = new SessionManager({
      store: instrumented.store,
      clock,
      onEvent: (event) => events.push(event),
      storeTimeoutMs: 200,
    });
    const SID = manager.cookie.name;
    const PRE = '__Host-pre';
    const issuedTokens = new Set<string>();
    let server: { url: string; close(): Promise<void> } | undefined;
    let client: LintedClient;

    beforeAll(async () => {
      server = await options.start({ manager, csrf: { key: randomBytes(32), allowedOrigins: [SUITE_ORIGIN] } });
      client = createLintedClient(server.url, { sessionCookie: manager.cookie, preSessionCookieName: PRE });
    });
    afterAll(async () => {
      await server?.close();
    });
    afterEach(() => {
      instrumented.fail(null);
    });

    const sameOrigin = { 'sec-fetch-site': 'same-origin', origin: SUITE_ORIGIN };
    const cookiesFor = (sid: string | null, extra: Record<string, string> = {}) =>
      sid ? { ...extra, [SID]: sid } : extra;

    const get = (path: string, sid: string | null = null, headers: Record<string, string> = {}) =>
      client.request(path, { cookies: cookiesFor(sid), headers });

    const csrfToken = async (sid: string | null, extra: Record<string, string> = {}) => {
      const res = await client.request('/csrf', { cookies: cookiesFor(sid, extra) });
      expect(res.status).toBe(200);
      return { token: res.json<{ csrfToken: string }>().csrfToken, pre: res.cookie(PRE) };
    };

    const post = async (
      path: string,
      sid: string | null,
      init: { json?: unknown; form?: Record<string, string>; headers?: Record<string, string>; method?: string } = {},
    ) => {
      const { token } = await csrfToken(sid);
      return client.request(path, {
        method: init.method ?? 'POST',
        cookies: cookiesFor(sid),
        headers: { ...sameOrigin, 'x-csrf-token': token, ...init.headers },
        json: init.form ? undefined : (init.json ?? {}),
        form: init.form,
      });
    };

    /** Logs in through the real form flow: GET /csrf (pre-session), then POST /login. */
    const login = async (userId: string, init: { cookies?: Record<string, string>; persistent?: boolean } = {}) => {
      const { token, pre } = await csrfToken(null, init.cookies);
      const res = await client.request('/login', {
        cookies: { ...init.cookies, ...(pre ? { [PRE]: pre } : {}) },
        headers: { ...sameOrigin, 'x-csrf-token': token },
        json: { userId, persistent: init.persistent === true },
      });
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({ userId });
      const sid = res.cookie(SID);
      expect(sid).toMatch(TOKEN_PATTERN);
      issuedTokens.add(sid as string);
      return { sid: sid as string, res };
    };

    const expectError = async (response: Promise<LintedResponse> | LintedResponse, status: number, code: string) => {
      const res = await response;
      expect({ status: res.status, code: res.json<{ error: { code: string } }>().error.code }).toEqual({
        status,
        code,
      });
      return res;
    };

    const fakeToken = () => `${randomString(16)}.${randomString(32)}`;
    let users = 0;
    const newUser = () => `user-${++users}-${randomString(6)}`;

    describe('cookies (B1-B8, SC-02)', () => {
      it('login sets one session cookie with exactly the policy flags, no-store, no token in the body, and ends the pre-session', async () => {
        const { sid, res } = await login(newUser());
        const line = res.setCookies.find((c) => c.startsWith(`${SID}=`));
        expect(line).toBe(`${SID}=${sid}; Path=/; Secure; HttpOnly; SameSite=Lax`);
        expect(res.headers.get('cache-control')).toContain('no-store');
        expect(res.text).not.toContain(sid);
        expect(res.cookie(PRE)).toBe('');
      });

      it('a persistent ("remember me") login gets Max-Age = the remaining absolute lifetime', async () => {
        const { res } = await login(newUser(), { persistent: true });
        expect(res.setCookies.find((c) => c.startsWith(`${SID}=`))).toMatch(/; Max-Age=43200; /);
      });

      it('an authenticated read sets no cookie and writes nothing; guarded responses are not cached', async () => {
        const { sid } = await login(newUser());
        instrumented.reset();
        const res = await get('/private', sid);
        expect(res.status).toBe(200);
        expect(res.setCookies).toEqual([]);
        expect(res.headers.get('cache-control')).toContain('no-store');
        expect(instrumented.writes()).toBe(0);
      });

      it('logout sends the deletion cookie with the same name, path and flags (B7)', async () => {
        const { sid } = await login(newUser());
        const res = await post('/logout', sid);
        expect(res.status).toBe(200);
        expect(res.setCookies).toEqual([
          `${SID}=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Lax`,
        ]);
      });

      it('SC-02: a login after a rotation in the same request sends one Set-Cookie for the name', async () => {
        const { sid } = await login('switch-from');
        const res = await post('/switch-user', sid, { json: { userId: 'switch-to' } });
        expect(res.status).toBe(200);
        expect(res.setCookies.filter((c) => c.startsWith(`${SID}=`))).toHaveLength(1);
        const next = res.cookie(SID) as string;
        expect((await get('/me', next)).json()).toEqual({ userId: 'switch-to' });
        await expectError(get('/private', sid), 401, 'UNAUTHENTICATED');
        expect(await manager.list('switch-from')).toEqual([]);
      });
    });

    describe('fixation and rotation (D1, D2, FX-01, FX-02, FX-05)', () => {
      it('D1: logging in again issues a new token and kills the old one at once', async () => {
        const user = newUser();
        const first = await login(user);
        const second = await login(user, { cookies: { [SID]: first.sid } });
        expect(second.sid).not.toBe(first.sid);
        await expectError(get('/private', first.sid), 401, 'UNAUTHENTICATED');
        expect((await get('/private', second.sid)).status).toBe(200);
        expect(await manager.list(user)).toHaveLength(1);
      });

      it('FX-01: an attacker-chosen token set before login never becomes valid', async () => {
        const chosen = fakeToken();
        const { sid } = await login(newUser(), { cookies: { [SID]: chosen } });
        expect(sid).not.toBe(chosen);
        await expectError(get('/private', chosen), 401, 'UNAUTHENTICATED');
      });

      it("FX-02: a planted valid session is dead after the victim's login, and the victim's session is the victim's", async () => {
        const planted = await login('attacker');
        const victim = await login('victim', { cookies: { [SID]: planted.sid } });
        await expectError(get('/private', planted.sid), 401, 'UNAUTHENTICATED');
        expect((await get('/me', victim.sid)).json()).toEqual({ userId: 'victim' });
        expect(await manager.list('attacker')).toEqual([]);
      });

      it("FX-05: user B logging in with user A's cookie revokes A's session; nothing carries over", async () => {
        const a = await login('user-a');
        const b = await login('user-b', { cookies: { [SID]: a.sid } });
        await expectError(get('/private', a.sid), 401, 'UNAUTHENTICATED');
        const sessions = (await get('/sessions', b.sid)).json<{ sessions: Array<{ id: string }> }>().sessions;
        expect(sessions).toHaveLength(1);
        expect(await manager.list('user-a')).toEqual([]);
      });

      it('D2/D4: rotation on re-authentication kills the old token and makes the session fresh', async () => {
        const { sid } = await login(newUser());
        clock.advance(11 * MINUTE);
        await expectError(get('/fresh', sid), 401, 'REAUTH_REQUIRED');
        const res = await post('/rotate', sid);
        expect(res.status).toBe(200);
        const rotated = res.cookie(SID) as string;
        expect(rotated).toMatch(TOKEN_PATTERN);
        expect((await get('/fresh', rotated)).status).toBe(200);
        await expectError(get('/private', sid), 401, 'UNAUTHENTICATED');
      });
    });

    describe('logout and revocation (E1, E5)', () => {
      it('E1: logout kills the token server-side; replaying it gets 401', async () => {
        const { sid } = await login(newUser());
        expect((await post('/logout', sid)).status).toBe(200);
        await expectError(get('/private', sid), 401, 'UNAUTHENTICATED');
      });

      it('revoke-others ends every other session of the user and keeps the current one', async () => {
        const user = newUser();
        const devices = [await login(user), await login(user), await login(user)];
        const res = await post('/sessions/revoke-others', devices[0]?.sid ?? null);
        expect(res.json()).toEqual({ revoked: 2 });
        expect((await get('/private', devices[0]?.sid ?? null)).status).toBe(200);
        for (const other of devices.slice(1)) await expectError(get('/private', other.sid), 401, 'UNAUTHENTICATED');
      });

      it("E5: a user can revoke their own other session but never another user's (404, and it survives)", async () => {
        const alice = newUser();
        const mine = [await login(alice), await login(alice)];
        const bob = await login(newUser());
        const bobsId = (await get('/sessions', bob.sid)).json<{ sessions: Array<{ id: string }> }>().sessions[0]?.id;
        await expectError(
          post(`/sessions/${bobsId}`, mine[0]?.sid ?? null, { method: 'DELETE' }),
          404,
          'SESSION_NOT_FOUND',
        );
        await expectError(
          post('/sessions/not-an-id', mine[0]?.sid ?? null, { method: 'DELETE' }),
          404,
          'SESSION_NOT_FOUND',
        );
        expect((await get('/private', bob.sid)).status).toBe(200);

        const list = (await get('/sessions', mine[0]?.sid ?? null)).json<{
          sessions: Array<{ id: string; current: boolean }>;
        }>().sessions;
        expect(list.filter((s) => s.current)).toHaveLength(1);
        const other = list.find((s) => !s.current)?.id;
        expect((await post(`/sessions/${other}`, mine[0]?.sid ?? null, { method: 'DELETE' })).status).toBe(204);
        await expectError(get('/private', mine[1]?.sid ?? null), 401, 'UNAUTHENTICATED');
      });
    });

    describe('expiry with the injected clock (C rows)', () => {
      it('idle timeout: 31 minutes without a request ends the session and clears the cookie', async () => {
        const { sid } = await login(newUser());
        clock.advance(29 * MINUTE);
        expect((await get('/private', sid)).status).toBe(200);
        clock.advance(31 * MINUTE);
        const res = await expectError(get('/private', sid), 401, 'SESSION_EXPIRED');
        expect(res.cookie(SID)).toBe('');
      });

      it('absolute timeout: activity every 10 minutes slides the idle deadline but never past 12 hours', async () => {
        const { sid } = await login(newUser());
        const start = clock.now();
        let lastOk = 0;
        for (let step = 1; step <= 80; step++) {
          clock.advance(10 * MINUTE);
          const res = await get('/private', sid);
          if (res.status !== 200) {
            expect(res.json<{ error: { code: string } }>().error.code).toBe('SESSION_EXPIRED');
            break;
          }
          lastOk = clock.now() - start;
        }
        expect(lastOk).toBe(12 * 60 * MINUTE - 10 * MINUTE);
      });

      it('touches the store at most once per touch interval', async () => {
        const { sid } = await login(newUser());
        instrumented.reset();
        for (let i = 0; i < 5; i++) {
          clock.advance(MINUTE);
          expect((await get('/private', sid)).status).toBe(200);
        }
        expect(instrumented.writes()).toBe(1);
      });
    });

    describe('CSRF (H1-H7, CS rows)', () => {
      it('CS-01: a cross-site POST is rejected even with a valid token', async () => {
        const { sid } = await login(newUser());
        await expectError(
          post('/transfer', sid, { headers: { 'sec-fetch-site': 'cross-site', origin: 'https://attacker.example' } }),
          403,
          'CSRF_REJECTED',
        );
        expect(events.at(-1)).toMatchObject({ type: 'csrf.rejected', reason: 'cross_site' });
      });

      it('same-origin with a token is accepted: header, Origin alone, or the _csrf form field', async () => {
        const { sid } = await login(newUser());
        expect((await post('/transfer', sid)).json()).toEqual({ ok: true });
        const { token } = await csrfToken(sid);
        const viaOrigin = await client.request('/transfer', {
          cookies: cookiesFor(sid),
          headers: { origin: SUITE_ORIGIN, 'x-csrf-token': token },
          json: {},
        });
        expect(viaOrigin.status).toBe(200);
        const viaForm = await client.request('/transfer', {
          cookies: cookiesFor(sid),
          headers: { 'sec-fetch-site': 'same-origin' },
          form: { amount: '10', _csrf: token },
        });
        expect(viaForm.status).toBe(200);
      });

      it('CS-05: missing, foreign, cookie-only and pre-session tokens are rejected', async () => {
        const { sid } = await login(newUser());
        const other = await login(newUser());
        const { token: foreign } = await csrfToken(other.sid);
        const { token: preToken, pre } = await csrfToken(null);
        const attempt = (headers: Record<string, string>, cookies: Record<string, string> = {}) =>
          client.request('/transfer', {
            cookies: cookiesFor(sid, cookies),
            headers: { ...sameOrigin, ...headers },
            json: {},
          });
        await expectError(attempt({}), 403, 'CSRF_REJECTED');
        await expectError(attempt({ 'x-csrf-token': foreign }), 403, 'CSRF_REJECTED');
        await expectError(attempt({}, { _csrf: foreign, 'x-csrf-token': foreign }), 403, 'CSRF_REJECTED');
        await expectError(attempt({ 'x-csrf-token': preToken }, { [PRE]: pre as string }), 403, 'CSRF_REJECTED');
      });

      it('CS-03/CS-04: foreign, null or missing origins are rejected', async () => {
        const { sid } = await login(newUser());
        const { token } = await csrfToken(sid);
        const variants: Array<Record<string, string>> = [
          { origin: 'https://attacker.example' },
          { origin: 'null' },
          { origin: 'https://app.example.attacker.com' },
          { origin: 'http://app.example' },
          { referer: 'https://app.example.attacker.com/x' },
          {},
        ];
        for (const headers of variants) {
          const res = client.request('/transfer', {
            cookies: cookiesFor(sid),
            headers: { ...headers, 'x-csrf-token': token },
            json: {},
          });
          await expectError(res, 403, 'CSRF_REJECTED');
        }
        const viaReferer = await client.request('/transfer', {
          cookies: cookiesFor(sid),
          headers: { referer: `${SUITE_ORIGIN}/pay`, 'x-csrf-token': token },
          json: {},
        });
        expect(viaReferer.status).toBe(200);
      });

      it('CS-06: DELETE needs a token too; a GET with method-override headers is never handled as a POST', async () => {
        const user = newUser();
        const { sid } = await login(user);
        const second = await login(user);
        const id = (await get('/sessions', sid))
          .json<{ sessions: Array<{ id: string; current: boolean }> }>()
          .sessions.find((s) => !s.current)?.id;
        const res = client.request(`/sessions/${id}`, {
          method: 'DELETE',
          cookies: cookiesFor(sid),
          headers: sameOrigin,
        });
        await expectError(res, 403, 'CSRF_REJECTED');
        expect((await get('/private', second.sid)).status).toBe(200);
        const override = await get('/transfer?_method=POST', sid, { 'x-http-method-override': 'POST' });
        expect(override.status).toBe(404);
      });

      it('CS-07: a JSON endpoint rejects text/plain with 415', async () => {
        const { sid } = await login(newUser());
        const { token } = await csrfToken(sid);
        const plain = client.request('/json', {
          cookies: cookiesFor(sid),
          headers: { ...sameOrigin, 'x-csrf-token': token, 'content-type': 'text/plain' },
          body: '{"amount":10}',
        });
        await expectError(plain, 415, 'CONTENT_TYPE_REJECTED');
        expect((await post('/json', sid)).status).toBe(200);
      });

      it('CS-09: login is CSRF-protected (cross-site, no pre-session, foreign pre-session)', async () => {
        const { token, pre } = await csrfToken(null);
        const { pre: otherPre } = await csrfToken(null);
        const attempt = (headers: Record<string, string>, cookies: Record<string, string>) =>
          client.request('/login', {
            cookies,
            headers: { 'x-csrf-token': token, ...headers },
            json: { userId: 'mallory' },
          });
        for (const [headers, cookies] of [
          [{ 'sec-fetch-site': 'cross-site', origin: 'https://attacker.example' }, { [PRE]: pre as string }],
          [sameOrigin, {}],
          [sameOrigin, { [PRE]: otherPre as string }],
        ] as const) {
          const res = await expectError(attempt(headers, cookies), 403, 'CSRF_REJECTED');
          expect(res.cookie(SID)).toBeUndefined();
        }
        expect(await manager.list('mallory')).toEqual([]);
      });
    });

    describe('hostile cookies (CK rows, A7)', () => {
      it('CK-01/CK-02: no cookie or an empty one means no session and no store call', async () => {
        for (const cookie of [undefined, `${SID}=`, SID, '=tok', 'tok', `${SID}=; other=1`]) {
          instrumented.reset();
          await expectError(get('/private', null, cookie === undefined ? {} : { cookie }), 401, 'UNAUTHENTICATED');
          expect(instrumented.total()).toBe(0);
        }
      });

      it('CK-03/CK-04: malformed tokens get 401, never 500, with no store call', async () => {
        const valid = fakeToken();
        for (const value of [
          valid.replace(/[-_]/g, '+').replace(/^./, '+'),
          `${valid}=`,
          valid.slice(0, -1),
          `${valid}.x`,
          valid.replace('.', ''),
          `"${valid}"`,
          valid.replace('.', '%2E'),
          'x'.repeat(4000),
        ]) {
          instrumented.reset();
          await expectError(get('/private', null, { cookie: `${SID}=${value}` }), 401, 'UNAUTHENTICATED');
          expect(instrumented.total()).toBe(0);
        }
      });

      it('CK-06: only the exact-case cookie name is read', async () => {
        const { sid } = await login(newUser());
        for (const cookie of [`__host-sid=${sid}`, `__HOST-SID=${sid}`, `__Host-Sid=${sid}`]) {
          await expectError(get('/private', null, { cookie }), 401, 'UNAUTHENTICATED');
        }
      });

      it('CK-07/CK-08: junk next to a valid token is fine; two valid tokens are ambiguous', async () => {
        const a = await login(newUser());
        const b = await login(newUser());
        expect((await get('/private', null, { cookie: `${SID}=junk; ${SID}=${a.sid}` })).status).toBe(200);
        instrumented.reset();
        await expectError(
          get('/private', null, { cookie: `${SID}=${a.sid}; ${SID}=${b.sid}` }),
          401,
          'UNAUTHENTICATED',
        );
        expect(instrumented.writes()).toBe(0);
      });

      it('CK-09: fifty duplicates cost at most four store lookups', async () => {
        const cookie = Array.from({ length: 50 }, () => `${SID}=${fakeToken()}`).join('; ');
        instrumented.reset();
        await expectError(get('/private', null, { cookie }), 401, 'UNAUTHENTICATED');
        expect(instrumented.calls.get).toBeLessThanOrEqual(4);
      });

      it('CK-11: 8 KiB of junk cookies and an oversized pair before ours do not hide it', async () => {
        const { sid } = await login(newUser());
        const junk = Array.from({ length: 128 }, (_, i) => `junk${i}=${'x'.repeat(58)}`).join('; ');
        expect((await get('/private', null, { cookie: `${junk}; ${SID}=${sid}` })).status).toBe(200);
        expect((await get('/private', null, { cookie: `big=${'y'.repeat(5000)}; ${SID}=${sid}` })).status).toBe(200);
      });

      it('CK-12/A7: a token in the URL, the body or an Authorization header is ignored', async () => {
        const { sid } = await login(newUser());
        await expectError(get(`/private?sid=${sid}`), 401, 'UNAUTHENTICATED');
        // Routers see the matrix parameter as part of the path: not found, or no session.
        expect([401, 404]).toContain((await get(`/private;jsessionid=${sid}`)).status);
        await expectError(get('/private', null, { authorization: `Bearer ${sid}` }), 401, 'UNAUTHENTICATED');
        const viaBody = client.request('/transfer', { headers: sameOrigin, form: { sid, [SID]: sid } });
        await expectError(viaBody, 401, 'UNAUTHENTICATED');
      });

      const raw = options.sendRaw;
      describe.skipIf(!raw)('over a raw connection', () => {
        const send = async (headerLines: string[], extra?: Uint8Array) => {
          const url = new URL((server as { url: string }).url);
          const head = [`GET /private HTTP/1.1`, `Host: ${url.host}`, 'Connection: close', ...headerLines].join('\r\n');
          const start = utf8(`${head}\r\n`);
          const tail = utf8('\r\n');
          const parts = extra ? [start, extra, tail, tail] : [start, tail];
          const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
          let offset = 0;
          for (const part of parts) {
            bytes.set(part, offset);
            offset += part.length;
          }
          return (raw as NonNullable<typeof raw>)(url.toString(), bytes);
        };

        it('CK-10: two Cookie header lines, ours in the second, are both read', async () => {
          const { sid } = await login(newUser());
          expect((await send(['Cookie: theme=dark', `Cookie: ${SID}=${sid}`])).status).toBe(200);
        });

        it('CK-05: non-ASCII and control bytes never give a 500; a homoglyph name is not ours', async () => {
          const { sid } = await login(newUser());
          const nonAscii = await send([], utf8(`Cookie: caf\u00e9=cr\u00e8me; ${SID}=${sid}`));
          expect(nonAscii.status).toBe(200);
          const control = await send([`Cookie: a=\u0001b; ${SID}=${sid}`]);
          expect([200, 400]).toContain(control.status);
          const homoglyph = await send([], utf8(`Cookie: __\u0397ost-sid=${sid}`));
          expect([400, 401]).toContain(homoglyph.status);
        });

        it('CK-11: a header above the server limit gets 431, never 500', async () => {
          const res = await send([`Cookie: pad=${'z'.repeat(20 * 1024)}`]);
          expect(res.status).toBe(431);
        });
      });
    });

    describe('store outage (I1, ST-01, ST-02, ST-06)', () => {
      it('fails closed: 503 on protected routes, anonymous on open ones, no cookie deleted, recovery without restart', async () => {
        const { sid } = await login(newUser());
        instrumented.fail('error');
        const down = await expectError(get('/private', sid), 503, 'STORE_UNAVAILABLE');
        expect(down.setCookies).toEqual([]);
        const open = await get('/me', sid);
        expect({ status: open.status, body: open.json(), cookies: open.setCookies }).toEqual({
          status: 200,
          body: { userId: null },
          cookies: [],
        });
        instrumented.fail(null);
        expect((await get('/private', sid)).status).toBe(200);
      });

      it('a hanging store times out into 503 instead of waiting', async () => {
        const { sid } = await login(newUser());
        instrumented.fail('hang');
        await expectError(get('/private', sid), 503, 'STORE_UNAVAILABLE');
      });

      it('ST-06: login during an outage gets 503 and no session cookie', async () => {
        const { token, pre } = await csrfToken(null);
        instrumented.fail('error');
        const res = await expectError(
          client.request('/login', {
            cookies: { [PRE]: pre as string },
            headers: { ...sameOrigin, 'x-csrf-token': token },
            json: { userId: 'during-outage' },
          }),
          503,
          'STORE_UNAVAILABLE',
        );
        expect(res.cookie(SID)).toBeUndefined();
      });
    });

    describe('no store records without an explicit login (D5)', () => {
      it('100 anonymous GETs (pages, CSRF tokens, guarded routes) make no store call', async () => {
        instrumented.reset();
        for (let i = 0; i < 100; i++) {
          const path = ['/me', '/csrf', '/private'][i % 3] as string;
          const res = await get(path);
          expect(res.status).toBe(path === '/private' ? 401 : 200);
        }
        expect(instrumented.total()).toBe(0);
      });
    });

    it('events never carry a token (J1)', () => {
      const serialised = JSON.stringify(events);
      expect(events.length).toBeGreaterThan(0);
      for (const token of issuedTokens) {
        expect(serialised).not.toContain(token);
        expect(serialised).not.toContain(token.split('.')[1]);
      }
    });
  });
}

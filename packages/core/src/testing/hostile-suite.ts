import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CsrfSettings } from '../csrf.js';
import { base64urlDecode, base64urlEncode, utf8 } from '../encoding.js';
import { errorResponse, readBearerToken } from '../http.js';
import { createHybridSessions, type HybridSessions } from '../hybrid.js';
import { JwtKeySet } from '../jwt/key-set.js';
import { generateSigningKey, type JwtKey } from '../jwt/keys.js';
import { createSessionJwt, type SessionJwt } from '../jwt/session-jwt.js';
import { SessionManager } from '../manager.js';
import { MemoryStore } from '../memory-store.js';
import { randomBytes, randomString } from '../random.js';
import { createRefreshTokens, type RefreshTokens } from '../refresh.js';
import type { RawResponse } from './adapter-suite.js';
import { createTestClock } from './clock.js';
import {
  buildRawRequest,
  concatBytes,
  decodeRawBody,
  HEADER_BYTES,
  type HostileExpectation,
  HostileReport,
  type HostileResponse,
  hostileResponseProblems,
  latin1Bytes,
  ODD_UTF8,
  type RawHeaderValue,
  REACHABLE_BYTES,
  SeededBytes,
  VISIBLE_ASCII,
} from './hostile-corpus.js';
import { createLintedClient, type LintedClient } from './http-lint.js';
import { instrumentStore } from './instrument.js';

/** An API route's answer, for the adapter to send as JSON with these headers. */
export interface HostileApiAnswer {
  status: number;
  headers: Array<[string, string]>;
  body: unknown;
}

/** What the hostile suite hands the adapter's test app. */
export interface HostileSuiteSetup {
  manager: SessionManager;
  /** CSRF options for the adapter (it fills in the manager). */
  csrf: CsrfSettings;
  /** Pass it as the adapter's `hybrid` option: the JWT cookie is attack surface too. */
  hybrid: HybridSessions;
  /** What `hybrid` was made from, for an app that builds its own from the same keys (one per process). */
  jwtOptions: { keys: JwtKeySet; issuer: string; audience: string; ttlSeconds: number };
  /**
   * The two API routes the app adds to the reference app, as plain functions of the request:
   * `POST /api/token` answers `api.refresh(body)` (JSON body, no CSRF: API clients hold no cookie),
   * `GET /api/me` answers `api.me(authorizationHeader)`.
   */
  api: {
    refresh(body: unknown): Promise<HostileApiAnswer>;
    me(authorization: string | undefined): Promise<HostileApiAnswer>;
  };
}

export interface HostileHttpSuiteOptions {
  /** Shown in the suite title and the report, e.g. `express`. */
  name: string;
  /**
   * Starts the adapter's reference app (the routes documented on `runAdapterHttpSuite`) in hybrid
   * mode, with the two API routes of {@link HostileSuiteSetup.api}, on 127.0.0.1 (ephemeral port).
   */
  start(setup: HostileSuiteSetup): Promise<{ url: string; close(): Promise<void> }>;
  /** Sends raw bytes and reads the answer; every hostile request goes this way, so no client normalises it. */
  sendRaw: (url: string, request: Uint8Array) => Promise<RawResponse>;
  /** Seed of the generated inputs (default 20260101); a failure names the seed and the input. */
  seed?: number;
  /** Generated inputs per class (default 40). */
  runs?: number;
  /** The server's header limit in bytes (default 16 KiB, Node's). */
  maxHeaderBytes?: number;
  /**
   * Statuses the framework itself answers a method with before any app or adapter code runs, when
   * that is outside the usual refusals: Next answers TRACE with 500 (the Fetch `Request` constructor
   * refuses the method). They are accepted for that method only, counted in the report, and the
   * answer must still echo nothing and carry no session.
   */
  frameworkMethodStatuses?: Record<string, readonly number[]>;
  /** Receives the report table at the end (default: printed with console.log). */
  onReport?: (table: string, report: HostileReport) => void;
}

const SUITE_ORIGIN = 'https://app.example';
const PRE = '__Host-pre';
const GRACE_MS = 10_000;

/**
 * Registers the hostile HTTP corpus as vitest tests: the HTTP-visible cases of the security
 * checklist (CK-, JW-, RT-, FX-, CS-, TM-, ST- ids in the test names) and seeded generated inputs
 * (arbitrary bytes in Cookie, Authorization and CSRF headers and form fields, percent-encoded and
 * non-UTF-8 cookies, headers up to and over the server's limit), all sent as raw bytes. Every
 * answer must be a refusal with a stable code where ours answers (or the HTTP parser's 400/431),
 * never a 500, never a session, never an echoed credential. Ends with a table of inputs by class.
 *
 * @example
 * ```ts
 * runHostileHttpSuite({
 *   name: 'express',
 *   start: async ({ manager, csrf, hybrid, api }) => {
 *     const app = referenceApp(manager, { csrf, hybrid }) // the routes of runAdapterHttpSuite
 *     app.post('/api/token', async (req, res) => send(res, await api.refresh(req.body)))
 *     app.get('/api/me', async (req, res) => send(res, await api.me(req.headers.authorization)))
 *     return listen(app)
 *   },
 *   sendRaw, // raw bytes on a socket, e.g. node:net
 * })
 * ```
 */
export function runHostileHttpSuite(options: HostileHttpSuiteOptions): void {
  describe(`hostile HTTP corpus: ${options.name}`, () => {
    const clock = createTestClock(Date.UTC(2026, 0, 1));
    const instrumented = instrumentStore(new MemoryStore());
    const manager = new SessionManager({ store: instrumented.store, clock, storeTimeoutMs: 200 });
    const SID = manager.cookie.name;
    const report = new HostileReport();
    const seed = options.seed ?? 20260101;
    const runs = options.runs ?? 40;
    const maxHeaderBytes = options.maxHeaderBytes ?? 16 * 1024;
    let key: JwtKey;
    let jwt: SessionJwt;
    let hybrid: HybridSessions;
    let refresh: RefreshTokens;
    let JWT = '';
    let server: { url: string; close(): Promise<void> } | undefined;
    let client: LintedClient;

    beforeAll(async () => {
      key = await generateSigningKey('EdDSA');
      const jwtOptions = {
        keys: new JwtKeySet({ active: key }),
        issuer: 'https://auth.app.example',
        audience: 'web',
        ttlSeconds: 300,
      };
      jwt = createSessionJwt({ manager, ...jwtOptions });
      hybrid = createHybridSessions({ jwt });
      JWT = hybrid.cookieName;
      refresh = createRefreshTokens({ jwt, secret: randomBytes(32), graceMs: GRACE_MS });
      const answer = async (work: () => Promise<unknown>): Promise<HostileApiAnswer> => {
        try {
          return { status: 200, headers: [['cache-control', 'no-store']], body: await work() };
        } catch (error) {
          return errorResponse(error);
        }
      };
      const api: HostileSuiteSetup['api'] = {
        refresh: (body) =>
          answer(async () => {
            const token = (body as { refreshToken?: unknown } | null)?.refreshToken;
            const pair = await refresh.refresh(typeof token === 'string' ? token : null);
            return { accessToken: pair.accessToken, refreshToken: pair.refreshToken, userId: pair.session.userId };
          }),
        me: (authorization) => answer(async () => ({ userId: (await jwt.verify(readBearerToken(authorization))).sub })),
      };
      const csrf = { key: randomBytes(32), allowedOrigins: [SUITE_ORIGIN] };
      server = await options.start({ manager, csrf, hybrid, jwtOptions, api });
      client = createLintedClient(server.url, { sessionCookie: manager.cookie, preSessionCookieName: PRE });
    });
    afterAll(async () => {
      await server?.close();
      const table = report.table(`${options.name} (seed ${seed}, ${runs} generated inputs per class)`);
      if (options.onReport) options.onReport(table, report);
      else console.log(table);
    });
    afterEach(() => {
      instrumented.fail(null);
    });

    const sessionCookies = () => [SID, JWT];
    const sameOrigin = [
      ['Sec-Fetch-Site', 'same-origin'],
      ['Origin', SUITE_ORIGIN],
    ] as const;

    /** One raw request, checked by the oracle and counted in the report; returns the problems. */
    const attempt = async (
      inputClass: string,
      request: {
        method?: string;
        path: string;
        headers?: Array<readonly [string, RawHeaderValue]>;
        body?: RawHeaderValue;
      },
      expected: Omit<HostileExpectation, 'sessionCookies'> & { code?: string; sessionCookies?: readonly string[] },
    ): Promise<{ res: HostileResponse; problems: string[] }> => {
      const url = new URL(request.path, (server as { url: string }).url).toString();
      const bytes = buildRawRequest({
        method: request.method ?? 'GET',
        url,
        headers: request.headers,
        body: request.body,
      });
      const raw = await options.sendRaw(url, bytes);
      const res = { status: raw.status, head: raw.head, body: decodeRawBody(raw.head, raw.body) };
      const problems = hostileResponseProblems(res, { sessionCookies: sessionCookies(), ...expected });
      if (expected.code && res.status !== 400 && res.status !== 431) {
        const code = safeJson<{ error?: { code?: string } }>(res.body)?.error?.code;
        if (code !== expected.code) problems.push(`code ${String(code)}, expected ${expected.code}`);
      }
      report.record(inputClass, res.status, problems.length);
      return { res, problems };
    };
    /** Like attempt, failing the test at once with the input shown. */
    const refused = async (...args: Parameters<typeof attempt>) => {
      const { res, problems } = await attempt(...args);
      expect(problems, `${args[0]}: ${describeRequest(args[1])}`).toEqual([]);
      return res;
    };

    /** Runs `count` generated inputs and fails with the first few that got a wrong answer. */
    const generated = async (
      inputClass: string,
      salt: number,
      make: (
        gen: SeededBytes,
        index: number,
      ) => Parameters<typeof attempt>[1] & { expected: Parameters<typeof attempt>[2] },
      count = runs,
    ) => {
      const gen = new SeededBytes(seed ^ Math.imul(salt, 0x9e3779b1));
      const failures: string[] = [];
      for (let i = 0; i < count; i++) {
        const { expected, ...request } = make(gen, i);
        const { problems } = await attempt(inputClass, request, expected);
        if (problems.length > 0 && failures.length < 5) {
          failures.push(`#${i} ${describeRequest(request)}: ${problems.join('; ')}`);
        }
      }
      expect(failures, `${inputClass} (seed ${seed}, salt ${salt})`).toEqual([]);
    };

    const csrfToken = async (sid: string | null, extra: Record<string, string> = {}) => {
      const res = await client.request('/csrf', { cookies: sid ? { ...extra, [SID]: sid } : extra });
      expect(res.status).toBe(200);
      return { token: res.json<{ csrfToken: string }>().csrfToken, pre: res.cookie(PRE) };
    };
    let users = 0;
    /** Logs in through the real flow; returns the session token and the JWT cookie's value. */
    const login = async (userId = `hostile-${++users}-${randomString(6)}`, cookies: Record<string, string> = {}) => {
      const { token, pre } = await csrfToken(null, cookies);
      const res = await client.request('/login', {
        cookies: { ...cookies, ...(pre ? { [PRE]: pre } : {}) },
        headers: { 'sec-fetch-site': 'same-origin', origin: SUITE_ORIGIN, 'x-csrf-token': token },
        json: { userId },
      });
      expect(res.status).toBe(200);
      return { userId, sid: res.cookie(SID) as string, jwt: res.cookie(JWT) as string };
    };
    const apiPair = async () => {
      const { session } = await manager.create({ userId: `api-${++users}-${randomString(6)}` });
      return refresh.issue(session);
    };
    const fakeToken = () => `${randomString(16)}.${randomString(32)}`;
    const cookie = (value: RawHeaderValue) => ['Cookie', value] as const;
    const unauthenticated = (credentials: string[] = []) => ({
      statuses: [400, 401],
      credentials,
      code: 'UNAUTHENTICATED',
    });

    /** A JWT with our header and claims, patched, then signed raw (no library checks the header first). */
    const forge = async (
      template: string,
      patch: { header?: Record<string, unknown>; claims?: Record<string, unknown> },
      signWith: { alg: string; key: CryptoKey | Uint8Array } | 'none' = {
        alg: 'EdDSA',
        key: key.signingKey as CryptoKey,
      },
    ) => {
      const [h = '', p = ''] = template.split('.');
      const header = { ...decodeSegment(h), ...patch.header };
      const claims = { ...decodeSegment(p), ...patch.claims };
      for (const [name, value] of Object.entries(patch.header ?? {})) if (value === undefined) delete header[name];
      for (const [name, value] of Object.entries(patch.claims ?? {})) if (value === undefined) delete claims[name];
      const input = `${encodeSegment(header)}.${encodeSegment(claims)}`;
      if (signWith === 'none') return `${input}.`;
      return `${input}.${base64urlEncode(await rawSign(signWith.alg, signWith.key, utf8(input)))}`;
    };

    describe('checklist cases', () => {
      it('CK-01/CK-02: no cookie, empty, nameless or valueless cookies are no session', async () => {
        for (const value of [undefined, `${SID}=`, SID, '=tok', 'tok', `${SID}=; other=1`, ';;;', '=']) {
          await refused(
            'CK-01/02 absent',
            { path: '/private', headers: value === undefined ? [] : [cookie(value)] },
            unauthenticated(),
          );
        }
      });

      it('CK-03/CK-04: malformed, quoted and percent-encoded tokens are refused without a store call', async () => {
        const valid = (await login()).sid;
        const [id = '', secret = ''] = valid.split('.');
        instrumented.reset();
        for (const value of [
          `${id.replace(/^./, '+')}.${secret}`,
          `${valid}=`,
          valid.slice(0, -1),
          `${valid}.x`,
          `${id}${secret}`,
          `${id}. ${secret}`,
          `"${valid}"`,
          valid.replace('.', '%2E'),
          [...valid].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''),
          'x'.repeat(4000),
        ]) {
          await refused(
            'CK-03/04 malformed',
            { path: '/private', headers: [cookie(`${SID}=${value}`)] },
            unauthenticated([valid, secret]),
          );
        }
        expect(instrumented.total()).toBe(0);
      });

      it('CK-05: control, NUL, non-ASCII bytes and a homoglyph name never give a 500 or a session', async () => {
        const { sid } = await login();
        const cases: RawHeaderValue[] = [
          `a=\u0001b; ${SID}=${fakeToken()}`,
          concatBytes([utf8(`${SID}=`), new Uint8Array([0]), utf8(fakeToken())]),
          utf8(`caf\u00e9=cr\u00e8me; ${SID}=${fakeToken()}`),
          utf8(`__\u0397ost-sid=${sid}`),
          utf8(`${SID}=${sid.slice(0, 10)}\u00e9${sid.slice(11)}`),
          concatBytes([utf8(`${SID}=`), new Uint8Array([0xff, 0xfe]), utf8(sid.slice(2))]),
          `${SID}=${sid}\u007f`,
        ];
        for (const value of cases) {
          await refused('CK-05 bytes', { path: '/private', headers: [cookie(value)] }, unauthenticated([sid]));
        }
      });

      it('CK-06: only the exact-case cookie name is read', async () => {
        const { sid } = await login();
        for (const name of [
          '__host-sid',
          '__HOST-SID',
          '__Host-Sid',
          ' __Host-sid_',
          '__Host-sid\t2',
          '%5F%5FHost-sid',
          '__Host%2Dsid',
        ]) {
          await refused(
            'CK-06 names',
            { path: '/private', headers: [cookie(`${name}=${sid}`)] },
            unauthenticated([sid]),
          );
        }
      });

      it('CK-08/CK-09: two valid tokens are ambiguous; fifty duplicates cost at most four lookups', async () => {
        const a = await login();
        const b = await login();
        await refused(
          'CK-08/09 duplicates',
          { path: '/private', headers: [cookie(`${SID}=${a.sid}; ${SID}=${b.sid}`)] },
          unauthenticated([a.sid, b.sid]),
        );
        instrumented.reset();
        const many = Array.from({ length: 50 }, () => `${SID}=${fakeToken()}`).join('; ');
        await refused('CK-08/09 duplicates', { path: '/private', headers: [cookie(many)] }, unauthenticated());
        expect(instrumented.calls.get).toBeLessThanOrEqual(4);
      });

      it('A7: TRACE and OPTIONS never reflect the Cookie header (cross-site tracing) nor answer with the session', async () => {
        const { sid } = await login();
        for (const method of ['TRACE', 'OPTIONS']) {
          for (const path of ['/private', '/transfer', '/nowhere']) {
            const res = await refused(
              'A7 reflection',
              { method, path, headers: [cookie(`${SID}=${sid}`), ['Max-Forwards', '0']] },
              // Frameworks answer OPTIONS themselves (200/204 with Allow); none may carry the session.
              {
                statuses: [200, 204, 400, 404, 405, 501, ...(options.frameworkMethodStatuses?.[method] ?? [])],
                credentials: [sid],
                sessionCookies: [SID],
              },
            );
            expect(safeJson<{ userId?: unknown }>(res.body)?.userId, `${method} ${path}`).toBeUndefined();
          }
        }
      });

      it('CK-12/FX-03: a session token in the URL, a matrix parameter, the body or a Bearer header is ignored', async () => {
        const { sid } = await login();
        const expected = { statuses: [400, 401, 404], credentials: [sid] };
        await refused('CK-12/FX-03 elsewhere', { path: `/private?sid=${sid}` }, expected);
        await refused('CK-12/FX-03 elsewhere', { path: `/private?${SID}=${sid}` }, expected);
        await refused('CK-12/FX-03 elsewhere', { path: `/private;jsessionid=${sid}` }, expected);
        await refused(
          'CK-12/FX-03 elsewhere',
          { path: '/private', headers: [['Authorization', `Bearer ${sid}`]] },
          expected,
        );
        await refused(
          'CK-12/FX-03 elsewhere',
          {
            method: 'POST',
            path: '/transfer',
            headers: [...sameOrigin, ['Content-Type', 'application/x-www-form-urlencoded']],
            body: `sid=${sid}&${encodeURIComponent(SID)}=${sid}`,
          },
          expected,
        );
      });

      it('FX-01/FX-02: a chosen or planted token never becomes the session after login', async () => {
        const chosen = fakeToken();
        const victim = await login(undefined, { [SID]: chosen });
        expect(victim.sid).not.toBe(chosen);
        await refused(
          'FX-01/02 fixation',
          { path: '/private', headers: [cookie(`${SID}=${chosen}`)] },
          unauthenticated([chosen]),
        );
        const planted = await login('attacker');
        await login('victim', { [SID]: planted.sid });
        await refused(
          'FX-01/02 fixation',
          { path: '/private', headers: [cookie(`${SID}=${planted.sid}`)] },
          unauthenticated([planted.sid]),
        );
      });

      const jwtCookieOnly = (value: string) => ({ path: '/private', headers: [cookie(`${JWT}=${value}`)] });
      const bearer = (value: string) => ({ path: '/api/me', headers: [['Authorization', `Bearer ${value}`] as const] });
      /** A forged JWT must be refused as a cookie (no session) and as a Bearer token (401 with a JWT_ code). */
      const refuseJwt = async (inputClass: string, token: string) => {
        await refused(inputClass, jwtCookieOnly(token), unauthenticated([token]));
        const res = await refused(inputClass, bearer(token), { statuses: [400, 401], credentials: [token] });
        // The HTTP parser refuses control bytes with 400 before we see them; ours name the JWT failure.
        if (res.status === 400) expect([...token].some((c) => c.charCodeAt(0) < 0x20)).toBe(true);
        else {
          const code = safeJson<{ error: { code: string } }>(res.body)?.error.code ?? '';
          expect({ status: res.status, code, jwtCode: code.startsWith('JWT_') }).toEqual({
            status: 401,
            code,
            jwtCode: true,
          });
        }
      };

      it('JW-01/JW-02/JW-03: alg none in every case, HS256 keyed with our public key, an attacker key under our kid', async () => {
        const { jwt: good } = await login();
        for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
          const unsigned = await forge(good, { header: { alg } }, 'none');
          await refuseJwt('JW-01..03 algorithm', unsigned);
          await refuseJwt('JW-01..03 algorithm', `${unsigned}${good.split('.')[2]}`);
        }
        const publicJwk = JSON.stringify(key.publicJwk);
        await refuseJwt(
          'JW-01..03 algorithm',
          await forge(good, { header: { alg: 'HS256' } }, { alg: 'HS256', key: utf8(publicJwk) }),
        );
        for (const alg of ['EdDSA', 'ES256', 'PS256'] as const) {
          const attacker = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519' } : {});
          await refuseJwt(
            'JW-01..03 algorithm',
            await forge(good, { header: { alg } }, { alg, key: attacker.privateKey }),
          );
        }
      });

      it('JW-05/JW-06: an embedded jwk, jku or x5u header and hostile kids are refused', async () => {
        const { jwt: good } = await login();
        const attacker = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
        const attackerJwk = await exportJWK(attacker.publicKey);
        for (const header of [
          { jwk: attackerJwk },
          { jku: 'http://127.0.0.1:9/jwks.json' },
          { x5u: 'http://127.0.0.1:9/cert.pem' },
          { x5c: ['MIIB'] },
        ]) {
          await refuseJwt(
            'JW-05/06 headers',
            await forge(good, { header }, { alg: 'EdDSA', key: attacker.privateKey }),
          );
        }
        for (const kid of [
          '../../../../dev/null',
          '/proc/self/environ',
          "' OR '1'='1",
          'x\u0000',
          'k'.repeat(10_000),
          7,
          {},
          [],
          '',
          undefined,
        ]) {
          await refuseJwt(
            'JW-05/06 headers',
            await forge(good, { header: { kid } }, { alg: 'EdDSA', key: attacker.privateKey }),
          );
        }
      });

      it('JW-08/JW-10/JW-11/JW-12: our signature over wrong time, audience, issuer, typ or crit claims is refused', async () => {
        const { jwt: good } = await login();
        const now = Math.floor(clock.now() / 1000);
        for (const claims of [
          { exp: now - 31 },
          { exp: undefined },
          { exp: 'soon' },
          { exp: null },
          { nbf: now + 31 },
          { iat: now + 31 },
        ]) {
          await refuseJwt('JW-08..12 claims', await forge(good, { claims }));
        }
        for (const claims of [
          { aud: 'other' },
          { aud: ['other', 'api'] },
          { aud: undefined },
          { iss: 'https://evil.example' },
          { iss: 'https://auth.app.example/' },
          { iss: undefined },
          { sub: undefined },
          { sid: undefined },
        ]) {
          await refuseJwt('JW-08..12 claims', await forge(good, { claims }));
        }
        for (const header of [
          { typ: undefined },
          { typ: 'JWT' },
          { typ: 'at+jwt' },
          { crit: ['exp'] },
          { crit: ['x-unknown'], 'x-unknown': 1 },
          { b64: false, crit: ['b64'] },
        ]) {
          await refuseJwt('JW-08..12 claims', await forge(good, { header }));
        }
      });

      it('JW-13/JW-15/JW-16: broken structure, flipped bits, cut signatures and tokens of another kind are refused', async () => {
        const { sid, jwt: good } = await login();
        const [h = '', p = '', s = ''] = good.split('.');
        const flipped = base64urlDecode(p) as Uint8Array;
        flipped[flipped.length - 3] = (flipped[flipped.length - 3] as number) ^ 0x01;
        const pair = await apiPair();
        for (const token of [
          `${h}.${p}`,
          `${h}.${p}.${s}.${s}`,
          `${h}.${p}.${s}.${s}.${s}`,
          `${h}..${s}`,
          `${h}.${p}.${s}=`,
          `${h}.${p.slice(0, 5)}+/${p.slice(7)}.${s}`,
          `${h}.${p}.\n${s}`,
          JSON.stringify({ protected: h, payload: p, signature: s }),
          `${h}.${'A'.repeat(9000)}.${s}`,
          `${h}.${base64urlEncode(flipped)}.${s}`,
          `${h}.${p}.${s.slice(0, -4)}`,
          `${h}.${p}.${s}AAAA`,
          sid,
          pair.refreshToken,
        ]) {
          await refuseJwt('JW-13..16 structure', token);
        }
        // Two JWT cookies (each valid, of two users) are not unique: neither is used.
        const other = await login();
        await refused(
          'JW-13..16 structure',
          { path: '/private', headers: [cookie(`${JWT}=${good}; ${JWT}=${other.jwt}`)] },
          unauthenticated([good, other.jwt]),
        );
        // Our JWT where a session token, a CSRF token or a refresh token belongs.
        await refused(
          'JW-13..16 structure',
          { path: '/private', headers: [cookie(`${SID}=${good}`)] },
          unauthenticated([good]),
        );
        const res = await refused(
          'JW-13..16 structure',
          {
            method: 'POST',
            path: '/transfer',
            headers: [
              cookie(`${SID}=${sid}`),
              ...sameOrigin,
              ['X-CSRF-Token', good],
              ['Content-Type', 'application/json'],
            ],
            body: '{}',
          },
          { statuses: [403], credentials: [good, sid], code: 'CSRF_REJECTED', sessionCookies: [SID] },
        );
        expect(res.status).toBe(403);
        await refused(
          'JW-13..16 structure',
          {
            method: 'POST',
            path: '/api/token',
            headers: [['Content-Type', 'application/json']],
            body: JSON.stringify({ refreshToken: good }),
          },
          { statuses: [401], credentials: [good], code: 'TOKEN_MALFORMED' },
        );
      });

      it('RT-01/RT-05/RT-07/RT-08: replayed, foreign, post-logout and malformed refresh tokens are refused', async () => {
        const post = (refreshToken: unknown) => ({
          method: 'POST',
          path: '/api/token',
          headers: [['Content-Type', 'application/json'] as const],
          body: JSON.stringify({ refreshToken }),
        });
        // RT-05: a foreign or garbage token never revokes a family it does not match.
        const victim = await apiPair();
        const [family = ''] = victim.refreshToken.split('.');
        for (const token of [`${family}.${randomString(32)}`, fakeToken()]) {
          await refused('RT refresh', post(token), {
            statuses: [401],
            credentials: [token, victim.refreshToken],
            code: 'REFRESH_INVALID',
          });
        }
        // RT-08: malformed tokens, never a store call.
        instrumented.reset();
        for (const token of [
          '',
          'x',
          `${family}.`,
          `.${family}`,
          `${victim.refreshToken}=`,
          `${victim.refreshToken} `,
          42,
          null,
          ['a'],
          { a: 1 },
        ]) {
          const res = await refused('RT refresh', post(token), {
            statuses: [401],
            credentials: [victim.refreshToken],
          });
          expect(res.status).toBe(401);
        }
        expect(instrumented.total()).toBe(0);
        const next = await client.request('/api/token', { json: { refreshToken: victim.refreshToken } });
        expect(next.status).toBe(200);
        const successor = next.json<{ refreshToken: string }>().refreshToken;

        // RT-01: the rotated token replayed after the grace window revokes the family; the successor is dead too.
        clock.advance(GRACE_MS + 1000);
        await refused('RT refresh', post(victim.refreshToken), {
          statuses: [401],
          credentials: [victim.refreshToken],
          code: 'REFRESH_REUSED',
        });
        await refused('RT refresh', post(successor), {
          statuses: [401],
          credentials: [successor],
          code: 'REFRESH_INVALID',
        });

        // RT-07: after the user's sessions are revoked, the refresh token is dead.
        const other = await apiPair();
        await manager.revokeAll(other.session.userId);
        await refused('RT refresh', post(other.refreshToken), {
          statuses: [401],
          credentials: [other.refreshToken],
          code: 'REFRESH_INVALID',
        });
      });

      it('CS-01..CS-06/CS-09: cross-site, foreign origins, missing or wrong tokens and method overrides are refused', async () => {
        const { sid } = await login();
        const { token } = await csrfToken(sid);
        const other = await login();
        const { token: foreign } = await csrfToken(other.sid);
        const post = (headers: Array<readonly [string, string]>, method = 'POST', path = '/transfer') => ({
          method,
          path,
          headers: [cookie(`${SID}=${sid}`), ['Content-Type', 'application/json'] as const, ...headers],
          body: '{}',
        });
        // The session is valid: its JWT cookie may be renewed, but no session cookie is set.
        const expected = { statuses: [403], credentials: [sid, token], code: 'CSRF_REJECTED', sessionCookies: [SID] };
        for (const headers of [
          [
            ['Sec-Fetch-Site', 'cross-site'],
            ['Origin', 'https://attacker.example'],
            ['X-CSRF-Token', token],
          ],
          [
            ['Sec-Fetch-Site', 'same-site'],
            ['Origin', 'https://sub.app.example'],
            ['X-CSRF-Token', token],
          ],
          [
            ['Origin', 'https://attacker.example'],
            ['X-CSRF-Token', token],
          ],
          [
            ['Origin', 'null'],
            ['X-CSRF-Token', token],
          ],
          [
            ['Origin', 'https://app.example.attacker.com'],
            ['X-CSRF-Token', token],
          ],
          [
            ['Origin', 'https://app.example:8443'],
            ['X-CSRF-Token', token],
          ],
          [
            ['Origin', 'http://app.example'],
            ['X-CSRF-Token', token],
          ],
          [
            ['Referer', 'https://app.example.attacker.com/x'],
            ['X-CSRF-Token', token],
          ],
          [['X-CSRF-Token', token]],
          [...sameOrigin],
          [...sameOrigin, ['X-CSRF-Token', foreign]],
          [...sameOrigin, ['X-CSRF-Token', `${token.slice(0, -2)}AA`]],
          [...sameOrigin, ['X-CSRF-Token', `${token},${token}`]],
          // Repeated headers reach the app joined with ', ': never read as the trusted one.
          // (An exactly allowed Origin is trusted whatever Sec-Fetch-Site says, so these carry none.)
          [
            ['Sec-Fetch-Site', 'same-origin'],
            ['Sec-Fetch-Site', 'cross-site'],
            ['X-CSRF-Token', token],
          ],
          [
            ['Sec-Fetch-Site', 'cross-site'],
            ['Sec-Fetch-Site', 'same-origin'],
            ['Origin', 'https://attacker.example'],
            ['X-CSRF-Token', token],
          ],
          [
            ['Origin', SUITE_ORIGIN],
            ['Origin', 'https://attacker.example'],
            ['X-CSRF-Token', token],
          ],
          [
            ['Origin', 'https://attacker.example'],
            ['Origin', SUITE_ORIGIN],
            ['X-CSRF-Token', token],
          ],
          [
            ['Origin', `${SUITE_ORIGIN}/`],
            ['X-CSRF-Token', token],
          ],
          [
            ['Origin', `${SUITE_ORIGIN}.`],
            ['X-CSRF-Token', token],
          ],
          [
            ['Referer', `${SUITE_ORIGIN}@attacker.example/`],
            ['X-CSRF-Token', token],
          ],
          [
            ['Referer', 'https://attacker.example/?https://app.example/'],
            ['X-CSRF-Token', token],
          ],
        ] as Array<Array<readonly [string, string]>>) {
          await refused('CS csrf', post(headers), expected);
        }
        for (const method of ['PUT', 'PATCH', 'DELETE', 'PROPFIND']) {
          // The framework may answer an unrouted method itself (404, 405; Node's parser 400 for PROPFIND).
          const res = await refused('CS csrf', post([...sameOrigin], method), {
            statuses: [400, 403, 404, 405],
            credentials: [sid],
            sessionCookies: [SID],
          });
          expect(res.status).not.toBe(200);
        }
        await refused(
          'CS csrf',
          { path: '/transfer?_method=POST', headers: [cookie(`${SID}=${sid}`), ['X-HTTP-Method-Override', 'POST']] },
          { statuses: [404], credentials: [sid], sessionCookies: [SID] },
        );
        // A valid token anywhere but the header or the parsed form or JSON body is not read: the
        // URL, another header name, a text/plain body. (Multipart bodies are parsed by some
        // frameworks and not others; a valid token there is still a valid token.)
        const elsewhere: Array<{ path: string; headers: Array<readonly [string, string]>; body: string }> = [
          { path: `/transfer?_csrf=${token}`, headers: [['Content-Type', 'application/json']], body: '{}' },
          {
            path: '/transfer',
            headers: [
              ['X-XSRF-Token', token],
              ['Content-Type', 'application/json'],
            ],
            body: '{}',
          },
          { path: '/transfer', headers: [['Content-Type', 'text/plain']], body: `_csrf=${token}` },
        ];
        for (const request of elsewhere) {
          const res = await refused(
            'CS csrf',
            { method: 'POST', ...request, headers: [cookie(`${SID}=${sid}`), ...sameOrigin, ...request.headers] },
            { statuses: [403, 415], credentials: [sid, token], sessionCookies: [SID] },
          );
          expect(res.status, request.path).not.toBe(200);
        }
        // CS-09: login CSRF, cross-site with a valid pre-session.
        const pre = await csrfToken(null);
        await refused(
          'CS csrf',
          {
            method: 'POST',
            path: '/login',
            headers: [
              cookie(`${PRE}=${pre.pre}`),
              ['Sec-Fetch-Site', 'cross-site'],
              ['Origin', 'https://attacker.example'],
              ['X-CSRF-Token', pre.token],
              ['Content-Type', 'application/json'],
            ],
            body: JSON.stringify({ userId: 'mallory' }),
          },
          { statuses: [403], credentials: [pre.token], code: 'CSRF_REJECTED' },
        );
        expect(await manager.list('mallory')).toEqual([]);
      });

      it('TM-03: unknown id, wrong secret and malformed token get the same status, body and headers', async () => {
        const { sid } = await login();
        const [id = ''] = sid.split('.');
        const shapes: string[] = [];
        for (const value of [fakeToken(), `${id}.${randomString(32)}`, 'malformed']) {
          const res = await refused(
            'TM-03 uniform',
            { path: '/private', headers: [cookie(`${SID}=${value}`)] },
            unauthenticated([sid]),
          );
          shapes.push(`${res.status} ${headShape(res.head)} ${res.body}`);
        }
        expect(new Set(shapes).size).toBe(1);
      });

      it('ST-01/ST-06: with the store down, a valid session gets 503 and no cookie; login gets 503 and no session', async () => {
        const { sid } = await login();
        const { token, pre } = await csrfToken(null);
        instrumented.fail('error');
        const down = await refused(
          'ST outage',
          { path: '/private', headers: [cookie(`${SID}=${sid}`)] },
          { statuses: [503], credentials: [sid], code: 'STORE_UNAVAILABLE' },
        );
        expect(down.head).not.toMatch(/^set-cookie:/im);
        await refused(
          'ST outage',
          {
            method: 'POST',
            path: '/login',
            headers: [
              cookie(`${PRE}=${pre}`),
              ...sameOrigin,
              ['X-CSRF-Token', token],
              ['Content-Type', 'application/json'],
            ],
            body: JSON.stringify({ userId: 'during-outage' }),
          },
          { statuses: [503], credentials: [token], code: 'STORE_UNAVAILABLE' },
        );
        instrumented.fail(null);
        expect((await client.request('/private', { cookies: { [SID]: sid } })).status).toBe(200);
      });
    });

    describe('generated inputs (seeded)', () => {
      let victim: { sid: string; jwt: string; userId: string };
      let csrf: string;
      let access: string;
      beforeAll(async () => {
        victim = await login();
        csrf = (await csrfToken(victim.sid)).token;
        access = (await apiPair()).accessToken;
      });
      const text = (bytes: Uint8Array) => String.fromCharCode(...bytes);
      /** The generated value is a credential too: if it comes back, the server echoed input. */
      const echoable = (value: Uint8Array) => (value.length >= 8 ? [text(value)] : []);

      it('arbitrary bytes as the whole Cookie header', async () => {
        await generated('cookie: any bytes', 1, (gen) => {
          const value = gen.bytes(1, 200, gen.pick([HEADER_BYTES, REACHABLE_BYTES]));
          return { path: '/private', headers: [cookie(value)], expected: unauthenticated(echoable(value)) };
        });
      });

      it('arbitrary bytes as the session cookie value, next to real cookies', async () => {
        await generated('cookie: any value', 2, (gen) => {
          const value = gen.bytes(1, 120, gen.pick([HEADER_BYTES, REACHABLE_BYTES, VISIBLE_ASCII]));
          const header = concatBytes([utf8(`theme=dark; ${SID}=`), value, utf8('; lang=en')]);
          return { path: '/private', headers: [cookie(header)], expected: unauthenticated(echoable(value)) };
        });
      });

      it('a real token with one hostile edit: an odd character, a percent-escape or a non-UTF-8 sequence', async () => {
        const hostileChars = ['%', '+', '/', '=', '"', ',', ' ', '\\', '\t', '%2E', '%00', ';', '\u00a0'];
        await generated('cookie: edited token', 3, (gen) => {
          const at = gen.int(0, victim.sid.length - 1);
          const insert =
            gen.int(0, 2) === 0
              ? (ODD_UTF8[gen.int(0, ODD_UTF8.length - 1)] as Uint8Array)
              : latin1Bytes(gen.pick(hostileChars));
          const replace = gen.int(0, 1) === 0;
          const value = concatBytes([
            latin1Bytes(victim.sid.slice(0, at)),
            insert,
            latin1Bytes(victim.sid.slice(replace ? at + 1 : at)),
          ]);
          // A space inserted next to the '=' is trimmed by every cookie parser: that is still the real token.
          const trimmed = text(value).trim();
          return {
            path: '/private',
            headers: [cookie(concatBytes([utf8(`${SID}=`), value]))],
            expected:
              trimmed === victim.sid
                ? { statuses: [200, 400, 401], credentials: [], sessionCookies: [SID] }
                : unauthenticated([victim.sid]),
          };
        });
      });

      it('percent-encoded and non-UTF-8 cookies are never decoded into a session', async () => {
        await generated('cookie: encoded / non-UTF-8', 4, (gen) => {
          const encodeAll = gen.int(0, 1) === 0;
          const value = [...victim.sid]
            .map((c) =>
              encodeAll || gen.int(0, 3) === 0 ? `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}` : c,
            )
            .join('');
          const name =
            gen.int(0, 3) === 0
              ? concatBytes([utf8('__Host-'), ODD_UTF8[gen.int(0, ODD_UTF8.length - 1)] as Uint8Array, utf8('sid')])
              : utf8(SID);
          const header =
            value === victim.sid && name.length === SID.length
              ? utf8(`${SID}=%${victim.sid}`)
              : concatBytes([name, utf8(`=${value}`)]);
          return { path: '/private', headers: [cookie(header)], expected: unauthenticated([victim.sid]) };
        });
      });

      it('arbitrary bytes in Authorization, alone and after Bearer, and edited access JWTs', async () => {
        await generated('authorization: any bytes', 5, (gen) => {
          const value = gen.bytes(1, 200, gen.pick([HEADER_BYTES, REACHABLE_BYTES, VISIBLE_ASCII]));
          const header =
            gen.int(0, 1) === 0
              ? value
              : concatBytes([utf8(gen.pick(['Bearer ', 'bearer ', 'Bearer  ', 'Basic '])), value]);
          return {
            path: '/api/me',
            headers: [['Authorization', header]],
            expected: { statuses: [400, 401], credentials: echoable(value) },
          };
        });
        await generated('authorization: edited JWT', 6, (gen) => {
          const at = gen.int(0, access.length - 1);
          const replacement = gen.pick(['A', 'B', '_', '-', '.', '', '=', ' ', '\u00e9', '%']);
          const edited = `${access.slice(0, at)}${replacement}${access.slice(at + 1)}`;
          const unchanged = edited === access;
          return {
            path: '/api/me',
            headers: [['Authorization', latin1Bytes(`Bearer ${edited}`)]],
            expected: unchanged
              ? { statuses: [200], credentials: [] }
              : { statuses: [400, 401], credentials: [access] },
          };
        });
      });

      it('arbitrary bytes in the CSRF header and the _csrf form field, with a valid session', async () => {
        await generated('csrf header: any bytes', 7, (gen) => {
          const value = gen.bytes(0, 200, gen.pick([HEADER_BYTES, REACHABLE_BYTES, VISIBLE_ASCII]));
          return {
            method: 'POST',
            path: '/transfer',
            headers: [
              cookie(`${SID}=${victim.sid}`),
              ...sameOrigin,
              ['X-CSRF-Token', value],
              ['Content-Type', 'application/json'],
            ],
            body: '{}',
            expected: {
              statuses: [400, 403],
              credentials: [victim.sid, ...echoable(value)],
              code: 'CSRF_REJECTED',
              sessionCookies: [SID],
            },
          };
        });
        await generated('csrf form field: any bytes', 8, (gen) => {
          const value = gen.bytes(0, 200);
          const encoded = gen.int(0, 1) === 0 ? percentEncode(value) : text(value.map((b) => (b === 0x26 ? 0x2b : b)));
          const body = concatBytes([utf8('amount=10&_csrf='), latin1Bytes(encoded)]);
          return {
            method: 'POST',
            path: '/transfer',
            headers: [
              cookie(`${SID}=${victim.sid}`),
              ['Sec-Fetch-Site', 'same-origin'],
              ['Content-Type', 'application/x-www-form-urlencoded'],
            ],
            body,
            expected: {
              statuses: [400, 403],
              credentials: [victim.sid, csrf],
              code: 'CSRF_REJECTED',
              sessionCookies: [SID],
            },
          };
        });
      });

      it('arbitrary strings as the refresh token', async () => {
        await generated('refresh token: any string', 9, (gen) => {
          const value = new TextDecoder().decode(gen.bytes(0, 120));
          return {
            method: 'POST',
            path: '/api/token',
            headers: [['Content-Type', 'application/json']],
            body: utf8(JSON.stringify({ refreshToken: value })),
            expected: { statuses: [400, 401], credentials: value.length >= 8 ? [value] : [] },
          };
        });
      });

      it('CK-11: Cookie headers up to the server limit still find ours; just over it get 431, never 500', async () => {
        // The server counts the whole head; leave room for the request line and other headers.
        const room = maxHeaderBytes - 200;
        const sizes = [
          1024,
          4096,
          8192,
          room - 1024,
          room,
          maxHeaderBytes + 1,
          maxHeaderBytes + 1024,
          2 * maxHeaderBytes,
        ];
        for (const size of sizes) {
          const over = size > maxHeaderBytes;
          const padding = Math.max(0, size - victim.sid.length - 40);
          const junk = `pad=${'j'.repeat(padding)}`;
          const withOurs = `${junk}; ${SID}=${victim.sid}`;
          const res = await attempt(
            'header size',
            { path: '/private', headers: [cookie(withOurs)] },
            over
              ? { statuses: [431, 400], credentials: [victim.sid] }
              : { statuses: [200], credentials: [], sessionCookies: [SID] },
          );
          expect(res.problems, `size ${size}`).toEqual([]);
          // Under the limit, ours is found behind the padding, and it is the victim's own session.
          if (!over) expect({ size, body: safeJson(res.res.body) }).toEqual({ size, body: { userId: victim.userId } });
          await refused(
            'header size',
            { path: '/private', headers: [cookie(`${junk}; ${SID}=${fakeToken()}`)] },
            over ? { statuses: [431, 400] } : unauthenticated(),
          );
        }
      });
    });
  });
}

/** Signs `data` as JWS `alg` with Web Crypto directly, whatever the header says. */
async function rawSign(alg: string, key: CryptoKey | Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const subtle = globalThis.crypto.subtle;
  if (alg === 'HS256') {
    const hmac = await subtle.importKey(
      'raw',
      key as Uint8Array<ArrayBuffer>,
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign'],
    );
    return new Uint8Array(await subtle.sign('HMAC', hmac, data as Uint8Array<ArrayBuffer>));
  }
  const params =
    alg === 'ES256'
      ? { name: 'ECDSA', hash: 'SHA-256' }
      : alg === 'PS256'
        ? { name: 'RSA-PSS', saltLength: 32 }
        : { name: 'Ed25519' };
  return new Uint8Array(await subtle.sign(params, key as CryptoKey, data as Uint8Array<ArrayBuffer>));
}

function safeJson<T>(text: string): T | null {
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

function decodeSegment(segment: string): Record<string, unknown> {
  const bytes = base64urlDecode(segment);
  return bytes ? (JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>) : {};
}

function encodeSegment(value: unknown): string {
  return base64urlEncode(utf8(JSON.stringify(value)));
}

function percentEncode(bytes: Uint8Array): string {
  return [...bytes].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
}

/** The head without the values that differ per answer (date, timing). */
function headShape(head: string): string {
  return head
    .split('\r\n')
    .filter((line) => !/^(date|keep-alive|x-response-time):/i.test(line))
    .join('\n');
}

/** A short printable form of a request for failure messages (control and high bytes escaped). */
function describeRequest(request: {
  method?: string;
  path: string;
  headers?: ReadonlyArray<readonly [string, RawHeaderValue]>;
  body?: RawHeaderValue;
}): string {
  const show = (value: RawHeaderValue) => {
    const text = typeof value === 'string' ? value : String.fromCharCode(...value);
    const escaped = JSON.stringify(text);
    return escaped.length > 160 ? `${escaped.slice(0, 150)}…(${text.length} chars)` : escaped;
  };
  const headers = (request.headers ?? []).map(([name, value]) => `${name}: ${show(value)}`).join(', ');
  return `${request.method ?? 'GET'} ${request.path} [${headers}]${request.body === undefined ? '' : ` body ${show(request.body)}`}`;
}

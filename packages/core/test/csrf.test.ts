import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../src/encoding.js';
import {
  type CsrfCheckOptions,
  type CsrfOptions,
  type CsrfProtection,
  type CsrfRequest,
  type CsrfSettings,
  createCsrfProtection,
} from '../src/entries/csrf.js';
import { isSessionError, MemoryStore, type SessionEvent } from '../src/index.js';
import { runtimeOf, SessionManager } from '../src/manager.js';
import { createTestClock } from '../src/testing/index.js';

const key = new Uint8Array(32).fill(7);
const ORIGIN = 'https://example.com';
const session = { id: 'AAAAAAAAAAAAAAAAAAAAAA', userId: 'u1' };

function protection(overrides: Partial<CsrfOptions> = {}): CsrfProtection {
  return createCsrfProtection({ key, allowedOrigins: [ORIGIN], ...overrides });
}

/** A POST that passes every check; tests change one thing at a time. */
function request(
  csrf: CsrfProtection,
  overrides: Omit<Partial<CsrfRequest>, 'headers'> = {},
  headers: Record<string, string> = {},
) {
  const token = csrf.token({ session }).token;
  return {
    method: 'POST',
    session,
    headers: { 'sec-fetch-site': 'same-origin', 'x-csrf-token': token, cookie: '__Host-sid=x', ...headers },
    ...overrides,
  } satisfies CsrfRequest;
}

/** The rejection reason, or the verdict's outcome when the request passed. */
function outcome(csrf: CsrfProtection, req: CsrfRequest, options?: CsrfCheckOptions): string {
  try {
    return csrf.verify(req, options).outcome;
  } catch (error) {
    if (isSessionError(error, 'CSRF_REJECTED', 'CONTENT_TYPE_REJECTED')) return `${error.code}:${error.reason}`;
    throw error;
  }
}

function withoutHeader(headers: Record<string, string>, ...names: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !names.includes(name)));
}

describe('configuration', () => {
  it('refuses keys shorter than 32 bytes', () => {
    for (const bad of [
      new Uint8Array(31),
      'a string key of more than thirty-two characters' as unknown as Uint8Array,
    ]) {
      expect(() => createCsrfProtection({ key: bad, allowedOrigins: [ORIGIN] })).toThrowError(
        expect.objectContaining({ code: 'CONFIG_INVALID' }),
      );
    }
    expect(() => protection({ key: new Uint8Array(32) })).not.toThrow();
  });

  // CS-10: the data rows of Go's TestCrossOriginProtectionAddTrustedOriginErrors (net/http,
  // csrf_test.go). Stricter on purpose: non-canonical spellings that browsers never send are refused.
  it.each([
    ['valid origin', 'https://example.com', true],
    ['valid origin with port', 'https://example.com:8080', true],
    ['http origin', 'http://example.com', true],
    ['missing scheme', 'example.com', false],
    ['missing host', 'https://', false],
    ['trailing slash', 'https://example.com/', false],
    ['with path', 'https://example.com/path', false],
    ['with query', 'https://example.com?query=value', false],
    ['with fragment', 'https://example.com#fragment', false],
    ['invalid url', 'https://ex ample.com', false],
    ['empty string', '', false],
    ['null', 'null', false],
    ['(ours) upper-case host', 'https://Example.com', false],
    ['(ours) default port spelled out', 'https://example.com:443', false],
    ['(ours) not http(s)', 'ftp://example.com', false],
  ])('allowed origin: %s', (_name, origin, valid) => {
    const create = () => protection({ allowedOrigins: [origin] });
    if (valid) expect(create).not.toThrow();
    else expect(create).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('needs at least one allowed origin', () => {
    expect(() => protection({ allowedOrigins: [] })).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('refuses a pre-session cookie name that breaks its prefix rules', () => {
    expect(() => protection({ mode: 'development', preSessionCookieName: '__Host-pre' })).toThrowError(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
    expect(protection({ mode: 'development' }).preSessionCookieName).toBe('pre');
    expect(protection().preSessionCookieName).toBe('__Host-pre');
  });
});

describe('CS-10: Go CrossOriginProtection tables', () => {
  // TestCrossOriginProtectionSecFetchSite, request to https://example.com/. The token is valid in
  // every row, so only the origin decision differs.
  const rows: Array<[name: string, method: string, fetchSite: string, origin: string, go: number, ours: string]> = [
    ['same-origin allowed', 'POST', 'same-origin', '', 200, 'passed'],
    ['none allowed', 'POST', 'none', '', 200, 'passed'],
    ['cross-site blocked', 'POST', 'cross-site', '', 403, 'CSRF_REJECTED:cross_site'],
    ['same-site blocked', 'POST', 'same-site', '', 403, 'CSRF_REJECTED:same_site'],
    // Intended difference: Go lets a request with neither header through (non-browser clients);
    // we block cookie requests that carry no same-origin signal at all (row H3).
    ['no header with no origin', 'POST', '', '', 200, 'CSRF_REJECTED:origin_missing'],
    ['no header with matching origin', 'POST', '', 'https://example.com', 200, 'passed'],
    ['no header with mismatched origin', 'POST', '', 'https://attacker.example', 403, 'CSRF_REJECTED:origin_mismatch'],
    ['no header with null origin', 'POST', '', 'null', 403, 'CSRF_REJECTED:origin_null'],
    ['GET allowed', 'GET', 'cross-site', '', 200, 'safe_method'],
    ['HEAD allowed', 'HEAD', 'cross-site', '', 200, 'safe_method'],
    ['OPTIONS allowed', 'OPTIONS', 'cross-site', '', 200, 'safe_method'],
    ['PUT blocked', 'PUT', 'cross-site', '', 403, 'CSRF_REJECTED:cross_site'],
  ];
  it.each(rows)('%s (%s, Sec-Fetch-Site "%s", Origin "%s"): Go %i', (_name, method, fetchSite, origin, go, ours) => {
    const csrf = protection();
    const base = request(csrf, { method });
    const headers = withoutHeader(base.headers, 'sec-fetch-site');
    if (fetchSite) headers['sec-fetch-site'] = fetchSite;
    if (origin) headers.origin = origin;
    const result = outcome(csrf, { ...base, headers });
    expect(result).toBe(ours);
    const allowedByUs = result === 'passed' || result === 'safe_method';
    if (_name !== 'no header with no origin') expect(allowedByUs).toBe(go === 200);
  });

  // TestCrossOriginProtectionTrustedOriginBypass: an exactly allowed origin passes whatever
  // Sec-Fetch-Site says. Go's bypass patterns have no counterpart: routes that need no CSRF check
  // simply do not use it.
  it.each([
    ['trusted origin without sec-fetch-site', 'https://trusted.example', '', 'passed'],
    ['trusted origin with cross-site', 'https://trusted.example', 'cross-site', 'passed'],
    ['untrusted origin without sec-fetch-site', 'https://attacker.example', '', 'CSRF_REJECTED:origin_mismatch'],
    ['untrusted origin with cross-site', 'https://attacker.example', 'cross-site', 'CSRF_REJECTED:cross_site'],
  ])('%s', (_name, origin, fetchSite, expected) => {
    const csrf = protection({ allowedOrigins: [ORIGIN, 'https://trusted.example'] });
    const base = request(csrf);
    const headers: Record<string, string> = { ...withoutHeader(base.headers, 'sec-fetch-site'), origin };
    if (fetchSite) headers['sec-fetch-site'] = fetchSite;
    expect(outcome(csrf, { ...base, headers })).toBe(expected);
  });
});

describe('origin checks (H2, H3)', () => {
  it('CS-01: Sec-Fetch-Site cross-site is rejected even with a valid token', () => {
    const csrf = protection();
    const req = request(csrf, {}, { 'sec-fetch-site': 'cross-site' });
    expect(outcome(csrf, req)).toBe('CSRF_REJECTED:cross_site');
  });

  it('CS-02: same-site is rejected unless trustSameSite', () => {
    const headers = { 'sec-fetch-site': 'same-site', origin: 'https://admin.example.com' };
    const strict = protection();
    expect(outcome(strict, request(strict, {}, headers))).toBe('CSRF_REJECTED:same_site');
    const lenient = protection({ trustSameSite: true });
    expect(outcome(lenient, request(lenient, {}, headers))).toBe('passed');
  });

  it('rejects unknown or repeated Sec-Fetch-Site values', () => {
    const csrf = protection();
    expect(outcome(csrf, request(csrf, {}, { 'sec-fetch-site': 'same-origin, cross-site' }))).toBe(
      'CSRF_REJECTED:fetch_site_invalid',
    );
    const twoLines = request(csrf);
    const headers = { ...twoLines.headers, 'sec-fetch-site': ['same-origin', 'same-origin'] };
    expect(outcome(csrf, { ...twoLines, headers })).toBe('CSRF_REJECTED:fetch_site_invalid');
  });

  it.each([
    'https://attacker.example',
    'null',
    'https://example.com.attacker.com',
    'https://example.com:8443',
    'http://example.com',
    'HTTPS://EXAMPLE.COM',
  ])('CS-03: Origin %s without Sec-Fetch-Site is rejected', (origin) => {
    const csrf = protection();
    const base = request(csrf);
    const headers = { ...withoutHeader(base.headers, 'sec-fetch-site'), origin };
    expect(outcome(csrf, { ...base, headers })).toMatch(/^CSRF_REJECTED:origin_(mismatch|null)$/);
  });

  it('CS-04: without Sec-Fetch-Site and Origin, the Referer origin decides; none at all is rejected', () => {
    const csrf = protection();
    const base = request(csrf);
    const bare = withoutHeader(base.headers, 'sec-fetch-site');
    const check = (referer?: string) =>
      outcome(csrf, { ...base, headers: referer === undefined ? bare : { ...bare, referer } });
    expect(check('https://example.com.attacker.com/x')).toBe('CSRF_REJECTED:referer_mismatch');
    expect(check('https://attacker.example/https://example.com/')).toBe('CSRF_REJECTED:referer_mismatch');
    expect(check('not a url')).toBe('CSRF_REJECTED:referer_mismatch');
    expect(check()).toBe('CSRF_REJECTED:origin_missing');
    expect(check('https://example.com/account?tab=1')).toBe('passed');
  });

  it('reads Web Headers objects as well as Node header records', () => {
    const csrf = protection();
    const token = csrf.token({ session }).token;
    const headers = new Headers({ origin: ORIGIN, 'x-csrf-token': token, cookie: 'a=b' });
    expect(csrf.verify({ method: 'POST', headers, session }).outcome).toBe('passed');
    headers.set('origin', 'https://attacker.example');
    expect(outcome(csrf, { method: 'POST', headers, session })).toBe('CSRF_REJECTED:origin_mismatch');
  });
});

describe('synchronizer token (H1)', () => {
  it('has the documented format: hex(HMAC-SHA256(k, len(sid)!sid!len(r)!r)).hex(r), k derived from the key', () => {
    let counter = 0;
    const random = (bytes: Uint8Array) => bytes.fill(counter++);
    const csrf = protection({ random });
    const { token, cookies } = csrf.token({ session });
    expect(cookies).toEqual([]);
    const r = '00'.repeat(32);
    const k = hmac(sha256, key, utf8('csrf-token/v1/session'));
    const mac = toHex(hmac(sha256, k, utf8(`22!${session.id}!64!${r}`)));
    expect(token).toBe(`${mac}.${r}`);
  });

  it('issues a different string on every call, each of them valid', () => {
    const csrf = protection();
    const tokens = new Set(Array.from({ length: 5 }, () => csrf.token({ session }).token));
    expect(tokens.size).toBe(5);
    for (const token of tokens) {
      expect(outcome(csrf, request(csrf, {}, { 'x-csrf-token': token }))).toBe('passed');
    }
  });

  it('is accepted from the header or the form field, the header first', () => {
    const csrf = protection();
    const token = csrf.token({ session }).token;
    const base = request(csrf);
    const noHeader = withoutHeader(base.headers, 'x-csrf-token');
    expect(outcome(csrf, { ...base, headers: noHeader, formToken: token })).toBe('passed');
    expect(outcome(csrf, { ...base, headers: { ...noHeader, 'x-csrf-token': 'f'.repeat(64) }, formToken: token })).toBe(
      'CSRF_REJECTED:token_invalid',
    );
    expect(outcome(csrf, { ...base, headers: noHeader, formToken: [token, token] })).toBe(
      'CSRF_REJECTED:token_invalid',
    );
  });

  it('CS-05: missing, wrong, foreign, altered, cookie-only and pre-session tokens are rejected', () => {
    const csrf = protection();
    const good = csrf.token({ session }).token;
    const [mac, r] = good.split('.') as [string, string];
    const otherSession = csrf.token({ session: { id: 'BBBBBBBBBBBBBBBBBBBBBB' } }).token;
    const pre = csrf.token({ session: null });
    const flip = (hex: string) => (hex[0] === '0' ? '1' : '0') + hex.slice(1);
    const cases: Array<[string, Record<string, string>, string]> = [
      ['missing', {}, 'token_missing'],
      ['empty', { 'x-csrf-token': '' }, 'token_missing'],
      ['wrong', { 'x-csrf-token': `${'ab'.repeat(32)}.${r}` }, 'token_invalid'],
      ['another session', { 'x-csrf-token': otherSession }, 'token_invalid'],
      ['r altered', { 'x-csrf-token': `${mac}.${flip(r)}` }, 'token_invalid'],
      ['mac altered', { 'x-csrf-token': `${flip(mac)}.${r}` }, 'token_invalid'],
      ['upper-case hex', { 'x-csrf-token': good.toUpperCase() }, 'token_invalid'],
      ['only in a cookie', { cookie: `__Host-sid=x; _csrf=${good}; x-csrf-token=${good}` }, 'token_missing'],
      [
        'a pre-session token after login',
        { 'x-csrf-token': pre.token, cookie: `__Host-pre=${pre.preSessionId}` },
        'token_invalid',
      ],
    ];
    for (const [name, headers, reason] of cases) {
      const base = request(csrf);
      const req = { ...base, headers: { ...withoutHeader(base.headers, 'x-csrf-token'), ...headers } };
      expect(`${name}: ${outcome(csrf, req)}`).toBe(`${name}: CSRF_REJECTED:${reason}`);
    }
  });

  it('a token signed with another key is rejected', () => {
    const csrf = protection();
    const other = protection({ key: new Uint8Array(32).fill(8) });
    expect(outcome(csrf, request(csrf, {}, { 'x-csrf-token': other.token({ session }).token }))).toBe(
      'CSRF_REJECTED:token_invalid',
    );
  });

  it('requireToken: false leaves only the origin check', () => {
    const csrf = protection({ requireToken: false });
    const base = request(csrf);
    expect(outcome(csrf, { ...base, headers: withoutHeader(base.headers, 'x-csrf-token') })).toBe('passed');
    expect(outcome(csrf, { ...base, headers: { 'sec-fetch-site': 'cross-site' } })).toBe('CSRF_REJECTED:cross_site');
  });
});

describe('methods (H4)', () => {
  it('CS-06: PUT, PATCH, DELETE and unknown methods need the checks; override headers and fields change nothing', () => {
    const csrf = protection();
    for (const method of ['PUT', 'PATCH', 'DELETE', 'PROPFIND', 'get', 'post']) {
      const base = request(csrf, { method });
      expect(outcome(csrf, { ...base, headers: withoutHeader(base.headers, 'x-csrf-token') })).toBe(
        'CSRF_REJECTED:token_missing',
      );
    }
    // A POST dressed up as a GET is still a POST.
    const disguised = request(csrf, {}, { 'x-http-method-override': 'GET', 'x-method-override': 'GET' });
    const { 'x-csrf-token': _, ...headers } = disguised.headers;
    expect(outcome(csrf, { ...disguised, headers, formToken: undefined })).toBe('CSRF_REJECTED:token_missing');
    // A GET asking to be a POST or DELETE is still a GET: not checked, and handled as a GET.
    const get = {
      method: 'GET',
      session,
      headers: { 'x-http-method-override': 'POST', 'sec-fetch-site': 'cross-site' },
    };
    expect(outcome(csrf, { ...get, formToken: 'DELETE' })).toBe('safe_method');
  });
});

describe('bearer requests', () => {
  const bearerHeader = { authorization: 'Bearer abc.def.ghi' };

  it('item 15: the Authorization header alone disables no check on cookie and login routes', () => {
    const csrf = protection();
    const post = (headers: Record<string, string>, bound: CsrfRequest['session'] = session) =>
      outcome(csrf, { method: 'POST', session: bound, headers: { ...bearerHeader, ...headers } });
    // A login POST (no session, no cookie yet) from another site: a preflighted fetch can set the header.
    expect(post({ 'sec-fetch-site': 'cross-site' }, null)).toBe('CSRF_REJECTED:cross_site');
    expect(post({ origin: 'https://attacker.example' }, null)).toBe('CSRF_REJECTED:origin_mismatch');
    expect(post({ origin: 'null' })).toBe('CSRF_REJECTED:origin_null');
    expect(post({})).toBe('CSRF_REJECTED:origin_missing');
    // Same origin, but the route takes no bearer token: the synchronizer token is still required.
    expect(post({ origin: ORIGIN }, null)).toBe('CSRF_REJECTED:token_missing');
    expect(post({ 'sec-fetch-site': 'same-origin' })).toBe('CSRF_REJECTED:token_missing');
    expect(post({ 'sec-fetch-site': 'same-origin', 'x-csrf-token': csrf.token({ session }).token })).toBe('passed');
  });

  it('item 15: a { bearer: true } route waives only the token, for a bearer request without cookies', () => {
    const csrf = protection();
    const api = (headers: Record<string, string>, options: CsrfCheckOptions = {}) =>
      outcome(csrf, { method: 'POST', session: null, headers }, { bearer: true, ...options });
    // A non-browser client sends no Origin, Sec-Fetch-Site or Referer.
    expect(api(bearerHeader)).toBe('bearer');
    expect(api({ ...bearerHeader, origin: ORIGIN })).toBe('bearer');
    expect(api({ ...bearerHeader, 'sec-fetch-site': 'same-origin' })).toBe('bearer');
    // The origin checks run regardless.
    expect(api({ ...bearerHeader, 'sec-fetch-site': 'cross-site' })).toBe('CSRF_REJECTED:cross_site');
    expect(api({ ...bearerHeader, 'sec-fetch-site': 'same-site' })).toBe('CSRF_REJECTED:same_site');
    expect(api({ ...bearerHeader, origin: 'https://attacker.example' })).toBe('CSRF_REJECTED:origin_mismatch');
    expect(api({ ...bearerHeader, origin: 'null' })).toBe('CSRF_REJECTED:origin_null');
    expect(api({ ...bearerHeader, referer: 'https://attacker.example/' })).toBe('CSRF_REJECTED:referer_mismatch');
    // Cookies are ambient credentials: with any of them, the token is required again.
    expect(api({ ...bearerHeader, origin: ORIGIN, cookie: 'a=b' })).toBe('CSRF_REJECTED:token_missing');
    // Not a bearer credential: no waiver.
    expect(api({ authorization: 'Basic abc', origin: ORIGIN })).toBe('CSRF_REJECTED:token_missing');
    expect(api({ authorization: 'Bearer a b' })).toBe('CSRF_REJECTED:origin_missing');
    // The route's other checks still apply.
    const textBody = { ...bearerHeader, 'content-type': 'text/plain', 'content-length': '2' };
    expect(api(textBody, { requireJson: true })).toBe('CONTENT_TYPE_REJECTED:content_type');
  });

  it('item 15: report-only mode reports a cross-site bearer request on a bearer route', () => {
    const csrf = protection({ reportOnly: true });
    const headers = { ...bearerHeader, 'sec-fetch-site': 'cross-site' };
    expect(csrf.verify({ method: 'POST', session: null, headers }, { bearer: true })).toEqual({
      outcome: 'reported',
      reason: 'cross_site',
    });
  });
});

describe('pre-session tokens (H5, H6, D3)', () => {
  it('starts a __Host-pre cookie for an anonymous visitor and reuses the one it holds', () => {
    const csrf = protection();
    const first = csrf.token({ session: null });
    expect(first.cookies).toHaveLength(1);
    expect(first.cookies[0]).toMatch(/^__Host-pre=[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Strict$/);
    const cookieHeader = `__Host-pre=${first.preSessionId}`;
    const second = csrf.token({ session: null, cookieHeader });
    expect(second.cookies).toEqual([]);
    expect(second.preSessionId).toBe(first.preSessionId);
    const third = csrf.token({ session: null, preSessionId: first.preSessionId });
    expect(third).toMatchObject({ cookies: [], preSessionId: first.preSessionId });
  });

  it('is a plain cookie without Secure or prefix in development mode', () => {
    const { cookies } = protection({ mode: 'development' }).token({ session: null });
    expect(cookies[0]).toMatch(/^pre=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict$/);
  });

  it('CS-09: a login POST needs a same-origin signal and a token bound to the pre-session cookie', () => {
    const csrf = protection();
    const pre = csrf.token({ session: null });
    const cookie = `__Host-pre=${pre.preSessionId}`;
    const login = (headers: Record<string, string>) => outcome(csrf, { method: 'POST', session: null, headers });
    expect(login({ origin: ORIGIN, cookie, 'x-csrf-token': pre.token })).toBe('passed');
    expect(login({ 'sec-fetch-site': 'cross-site', cookie, 'x-csrf-token': pre.token })).toBe(
      'CSRF_REJECTED:cross_site',
    );
    expect(login({ origin: ORIGIN, 'x-csrf-token': pre.token })).toBe('CSRF_REJECTED:token_missing');
    expect(login({ origin: ORIGIN, cookie })).toBe('CSRF_REJECTED:token_missing');
    const otherPre = csrf.token({ session: null });
    expect(login({ origin: ORIGIN, cookie: `__Host-pre=${otherPre.preSessionId}`, 'x-csrf-token': pre.token })).toBe(
      'CSRF_REJECTED:token_invalid',
    );
    // Naive double submit: the same value in cookie and field proves nothing.
    expect(login({ origin: ORIGIN, cookie: `__Host-pre=${pre.token}`, 'x-csrf-token': pre.token })).toBe(
      'CSRF_REJECTED:token_missing',
    );
    // A session token cannot stand in for a pre-session token either.
    const sessionToken = csrf.token({ session: { id: pre.preSessionId as string } }).token;
    expect(login({ origin: ORIGIN, cookie, 'x-csrf-token': sessionToken })).toBe('CSRF_REJECTED:token_invalid');
  });

  it('accepts the token when the pre-session cookie is one of a few tossed duplicates', () => {
    const csrf = protection();
    const pre = csrf.token({ session: null });
    const cookie = `__Host-pre=${'A'.repeat(43)}; __Host-pre=${pre.preSessionId}`;
    expect(
      outcome(csrf, { method: 'POST', session: null, headers: { origin: ORIGIN, cookie, 'x-csrf-token': pre.token } }),
    ).toBe('passed');
  });

  it('endPreSession deletes the cookie only when the request carried one', () => {
    const csrf = protection();
    expect(csrf.endPreSession('__Host-sid=abc')).toEqual([]);
    expect(csrf.endPreSession(undefined)).toEqual([]);
    expect(csrf.endPreSession('__Host-pre=abc')).toEqual([
      '__Host-pre=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Strict',
    ]);
  });
});

describe('content type (H7)', () => {
  it.each([
    ['text/plain;charset=UTF-8', '13', 'CONTENT_TYPE_REJECTED:content_type'],
    ['application/x-www-form-urlencoded', '5', 'CONTENT_TYPE_REJECTED:content_type'],
    ['multipart/form-data; boundary=x', '50', 'CONTENT_TYPE_REJECTED:content_type'],
    ['application/jsonp', '2', 'CONTENT_TYPE_REJECTED:content_type'],
    [undefined, '13', 'CONTENT_TYPE_REJECTED:content_type'],
    ['application/json', '2', 'passed'],
    ['Application/JSON; charset=utf-8', '2', 'passed'],
    ['application/merge-patch+json', '2', 'passed'],
    [undefined, undefined, 'passed'],
    [undefined, '0', 'passed'],
  ])('CS-07: requireJson with Content-Type %s and length %s gives %s', (contentType, length, expected) => {
    const csrf = protection();
    const headers: Record<string, string> = {};
    if (contentType) headers['content-type'] = contentType;
    if (length) headers['content-length'] = length;
    expect(outcome(csrf, request(csrf, {}, headers), { requireJson: true })).toBe(expected);
    expect(outcome(csrf, request(csrf, {}, headers))).toBe('passed');
  });
});

describe('store outage', () => {
  it('a session that could not be read gives STORE_UNAVAILABLE after the origin check, not a CSRF rejection', () => {
    const csrf = protection();
    const token = csrf.token({ session }).token;
    const headers = { origin: ORIGIN, cookie: '__Host-sid=x', 'x-csrf-token': token };
    const unreadable = { method: 'POST', session: null, sessionUnavailable: true };
    expect(() => csrf.verify({ ...unreadable, headers })).toThrowError(
      expect.objectContaining({ code: 'STORE_UNAVAILABLE', status: 503 }),
    );
    expect(outcome(csrf, { ...unreadable, headers: { ...headers, origin: 'https://attacker.example' } })).toBe(
      'CSRF_REJECTED:origin_mismatch',
    );
    expect(protection({ reportOnly: true }).verify({ ...unreadable, headers }).outcome).toBe('passed');
  });
});

describe('events and report-only mode (H8)', () => {
  function managed(options: Partial<CsrfSettings> = {}) {
    const events: SessionEvent[] = [];
    const manager = new SessionManager({
      store: new MemoryStore(),
      clock: createTestClock(),
      onEvent: (event) => events.push(event),
    });
    return { events, manager, csrf: protection({ manager, ...options }) };
  }

  it('every rejection emits csrf.rejected naming the session by its keyed hash, never by id or token', () => {
    const { events, manager, csrf } = managed();
    const req = request(csrf, { ip: '203.0.113.9' }, { 'sec-fetch-site': 'cross-site' });
    expect(() => csrf.verify(req)).toThrowError(expect.objectContaining({ code: 'CSRF_REJECTED', status: 403 }));
    expect(events).toEqual([
      {
        type: 'csrf.rejected',
        at: runtimeOf(manager).clock.now(),
        reason: 'cross_site',
        sidHash: runtimeOf(manager).sidHash(session.id),
        userId: 'u1',
        ip: '203.0.113.9',
      },
    ]);
    const serialised = JSON.stringify(events);
    expect(serialised).not.toContain(session.id);
    expect(serialised).not.toContain(req.headers['x-csrf-token']);
  });

  it('the error message names no token', () => {
    const { csrf } = managed();
    const req = request(csrf, {}, { 'x-csrf-token': `${'ab'.repeat(32)}.${'cd'.repeat(32)}` });
    try {
      csrf.verify(req);
      expect.unreachable();
    } catch (error) {
      expect(isSessionError(error, 'CSRF_REJECTED')).toBe(true);
      expect((error as Error).message).not.toContain('abab');
      expect((error as Error).message).not.toContain('cdcd');
    }
  });

  it('report-only lets the request through and reports what it would have rejected', () => {
    const { events, csrf } = managed({ reportOnly: true });
    expect(csrf.reportOnly).toBe(true);
    const verdict = csrf.verify(request(csrf, {}, { 'sec-fetch-site': 'cross-site' }));
    expect(verdict).toEqual({ outcome: 'reported', reason: 'cross_site' });
    const missing = request(csrf);
    const tokenless = csrf.verify({ ...missing, headers: withoutHeader(missing.headers, 'x-csrf-token') });
    expect(tokenless).toEqual({ outcome: 'reported', reason: 'token_missing' });
    expect(events.map((e) => [e.type, 'reason' in e ? e.reason : undefined])).toEqual([
      ['csrf.rejected', 'report_only:cross_site'],
      ['csrf.rejected', 'report_only:token_missing'],
    ]);
    expect(csrf.verify(request(csrf)).outcome).toBe('passed');
    expect(events).toHaveLength(2);
  });

  it('takes the cookie mode from the manager', () => {
    const manager = new SessionManager({ store: new MemoryStore(), mode: 'development' });
    expect(createCsrfProtection({ key, allowedOrigins: ['http://app.test'], manager }).preSessionCookieName).toBe(
      'pre',
    );
  });

  it('refuses a manager together with mode, clock or random, in the type and at run time (none silently wins)', () => {
    const manager = new SessionManager({ store: new MemoryStore(), mode: 'development' });
    const base = { key, allowedOrigins: ['http://app.test'] };
    const attempts = [
      // @ts-expect-error the manager's mode is the mode
      () => createCsrfProtection({ ...base, manager, mode: 'production' }),
      // @ts-expect-error the manager's clock is the clock
      () => createCsrfProtection({ ...base, manager, clock: createTestClock() }),
      // @ts-expect-error the manager's random source is the random source
      () => createCsrfProtection({ ...base, manager, random: (bytes: Uint8Array) => bytes }),
    ];
    for (const attempt of attempts) {
      expect(() => attempt()).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    }
    // Either one alone is fine.
    expect(createCsrfProtection({ ...base, mode: 'development', clock: createTestClock() }).preSessionCookieName).toBe(
      'pre',
    );
  });
});

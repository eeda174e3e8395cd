import { describe, expect, it } from 'vitest';
import { createRequestContexts, type RequestContext, type RequestContextInput } from '../src/entries/adapter.js';
import { createCsrfProtection } from '../src/entries/csrf.js';
import { createHybridSessions, createSessionJwt, generateSigningKey } from '../src/entries/jwt.js';
import type { HybridSessions } from '../src/hybrid.js';
import { type CookieMode, isSessionError, MemoryStore } from '../src/index.js';
import { JwtKeySet } from '../src/jwt/key-set.js';
import { SessionManager } from '../src/manager.js';
import { createTestClock, instrumentStore } from '../src/testing/index.js';
import { AUDIENCE, ISSUER } from './jwt-support.js';

const ORIGIN = 'https://app.example';
const SID = '__Host-sid';
const PRE = '__Host-pre';
const JWT = '__Host-sjwt';

async function setup(options: { hybrid?: boolean; csrf?: boolean; mode?: CookieMode } = {}) {
  const clock = createTestClock();
  const probe = instrumentStore(new MemoryStore());
  const manager = new SessionManager({ store: probe.store, clock, mode: options.mode });
  const csrf =
    options.csrf === false
      ? null
      : createCsrfProtection({ key: new Uint8Array(32).fill(7), allowedOrigins: [ORIGIN], manager });
  let hybrid: HybridSessions | null = null;
  if (options.hybrid) {
    const keys = new JwtKeySet({ active: await generateSigningKey('EdDSA') });
    hybrid = createHybridSessions({ jwt: createSessionJwt({ manager, keys, issuer: ISSUER, audience: AUDIENCE }) });
  }
  const contexts = createRequestContexts({ manager, csrf, hybrid });
  const changes: RequestContext[] = [];
  /** Opens a context for one request; `cookie` is the raw Cookie header. */
  const open = (request: Partial<RequestContextInput> & { cookie?: string } = {}) => {
    const { cookie, ...rest } = request;
    const headers = { ...(rest.headers as Record<string, string>), ...(cookie ? { cookie } : {}) };
    return contexts.open(
      {
        cookieHeader: cookie,
        method: 'GET',
        ip: '198.51.100.7',
        userAgent: 'test-agent',
        protocol: 'https',
        host: 'app.example',
        ...rest,
        headers,
      },
      (context) => changes.push(context),
    );
  };
  return { clock, probe, manager, csrf, hybrid, contexts, open, changes };
}

/** What a browser sends back after these Set-Cookie lines: name=value pairs, deletions dropped. */
function cookieHeader(...setCookies: string[]): string {
  return setCookies
    .map((line) => line.split(';')[0] as string)
    .filter((pair) => !pair.endsWith('='))
    .join('; ');
}

const nameOf = (line: string) => line.slice(0, line.indexOf('='));
const byName = (lines: readonly string[], name: string) => lines.find((line) => nameOf(line) === name);
const isDeletion = (line: string | undefined) => line !== undefined && /=; /.test(line) && line.includes('Max-Age=0');

/** The Set-Cookie list a response ends with after this context's operations. */
function written(context: RequestContext, existing: string[] = []): string[] {
  return context.responseHeaders(existing)?.setCookie ?? existing;
}

async function loggedIn(open: Awaited<ReturnType<typeof setup>>['open']) {
  const context = await open();
  await context.login({ userId: 'user-1' });
  return cookieHeader(...written(context));
}

describe('request context: transport and validation', () => {
  it('B9: production over plain http to a public host fails before any store call', async () => {
    const { open, probe } = await setup();
    const error = await open({ protocol: 'http', host: 'app.example.com', cookie: `${SID}=x.y` }).catch((e) => e);
    expect(isSessionError(error, 'INSECURE_TRANSPORT')).toBe(true);
    expect(probe.total()).toBe(0);
    expect((await open({ protocol: 'http', host: 'localhost:3000', peerAddress: '127.0.0.1' })).session).toBeNull();
    const development = await setup({ mode: 'development' });
    expect((await development.open({ protocol: 'http', host: 'app.example.com' })).result.status).toBe('absent');
  });

  it('item 9: Host: localhost from a peer that is not loopback is refused with INSECURE_TRANSPORT, before any store call', async () => {
    const { open, probe, manager } = await setup();
    const issued = await manager.create({ userId: 'u1' });
    probe.reset();
    for (const peerAddress of ['203.0.113.7', '::ffff:203.0.113.7', '2001:db8::1', '10.0.0.1', null, undefined]) {
      for (const host of ['localhost', 'localhost:3000', '127.0.0.1:3000', '[::1]:3000', 'app.localhost']) {
        const error = await open({ protocol: 'http', host, peerAddress, cookie: `${SID}=${issued.token}` }).catch(
          (e) => e,
        );
        expect(isSessionError(error, 'INSECURE_TRANSPORT'), `${host} from ${peerAddress}`).toBe(true);
      }
    }
    expect(probe.total()).toBe(0);
  });

  it('item 9: plain http needs both a loopback peer and a loopback Host; https needs neither', async () => {
    const { open, manager } = await setup();
    const issued = await manager.create({ userId: 'u1' });
    const cookie = `${SID}=${issued.token}`;
    for (const peerAddress of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) {
      const context = await open({ protocol: 'http', host: 'localhost:3000', peerAddress, cookie });
      expect(context.session?.userId, peerAddress).toBe('u1');
    }
    // A reverse proxy on this machine serving the public over http: the peer is loopback, the Host is not.
    const proxied = await open({ protocol: 'http', host: 'app.example.com', peerAddress: '127.0.0.1', cookie }).catch(
      (e) => e,
    );
    expect(isSessionError(proxied, 'INSECURE_TRANSPORT')).toBe(true);
    const secure = await open({ protocol: 'https', host: 'app.example.com', peerAddress: '203.0.113.7', cookie });
    expect(secure.session?.userId).toBe('u1');
  });

  it('item 9: trustLoopbackHost lets a loopback Host alone do (runtimes without a peer address), nothing more', async () => {
    const { manager } = await setup();
    const contexts = createRequestContexts({ manager, trustLoopbackHost: true });
    const input = { cookieHeader: undefined, method: 'GET', headers: {}, protocol: 'http' };
    expect((await contexts.open({ ...input, host: 'localhost:8787' })).result.status).toBe('absent');
    const error = await contexts.open({ ...input, host: 'app.example.com', peerAddress: '127.0.0.1' }).catch((e) => e);
    expect(isSessionError(error, 'INSECURE_TRANSPORT')).toBe(true);
  });

  it('no cookie: no session, no store call, nothing to write', async () => {
    const { open, probe } = await setup();
    const context = await open();
    expect({ session: context.session, status: context.result.status }).toEqual({ session: null, status: 'absent' });
    expect(context.responseHeaders(undefined)).toBeNull();
    expect(probe.total()).toBe(0);
  });

  it('a live cookie gives the session and writes nothing; a dead one is deleted once, with no-store', async () => {
    const { open, manager } = await setup();
    const issued = await manager.create({ userId: 'user-1' });
    const live = await open({ cookie: `${SID}=${issued.token}` });
    expect(live.session?.userId).toBe('user-1');
    expect(live.responseHeaders(['theme=dark'])).toBeNull();

    await manager.revoke(issued.session.id);
    const dead = await open({ cookie: `${SID}=${issued.token}` });
    expect(dead.result.status).toBe('invalid');
    const update = dead.responseHeaders('theme=dark');
    expect(update?.cacheControl).toBe('no-store');
    expect(update?.setCookie[0]).toBe('theme=dark');
    expect(isDeletion(byName(update?.setCookie ?? [], SID))).toBe(true);
    expect(dead.responseHeaders(update?.setCookie)).toBeNull();
  });
});

describe('request context: lazily read request fields', () => {
  it('a plain read asks an adapter for neither the address nor the user agent; a login records both', async () => {
    const { manager, contexts } = await setup();
    const reads: string[] = [];
    class LazyInput implements RequestContextInput {
      readonly method = 'GET';
      readonly headers = {};
      readonly protocol = 'https';
      readonly host = 'app.example';
      constructor(readonly cookieHeader: string | undefined) {}
      get ip(): string {
        reads.push('ip');
        return '198.51.100.7';
      }
      get userAgent(): string {
        reads.push('userAgent');
        return 'lazy-agent';
      }
    }
    const issued = await manager.create({ userId: 'user-1' });
    const read = await contexts.open(new LazyInput(`${SID}=${issued.token}`));
    expect(read.session?.userId).toBe('user-1');
    expect(reads).toEqual([]);
    const login = await contexts.open(new LazyInput(undefined));
    const session = await login.login({ userId: 'user-2' });
    expect(session.metadata).toMatchObject({ ip: '198.51.100.7', userAgent: 'lazy-agent' });
    expect(reads.sort()).toEqual(['ip', 'userAgent']);
  });
});

describe('request context: response cookies (B5, B8, SC-02)', () => {
  it('keeps the app’s own cookies and holds one Set-Cookie per managed name, whatever was there', async () => {
    const { open } = await setup();
    const context = await open();
    context.csrfToken();
    const first = written(context, ['theme=dark; Path=/']);
    expect(first.map(nameOf)).toEqual(['theme', PRE]);
    await context.login({ userId: 'user-1' });
    await context.rotate();
    const final = written(context, [...first, `${SID}=stale; Path=/`, 'lang=en']);
    expect(final.map(nameOf).sort()).toEqual(['lang', 'theme', SID].sort());
    expect(final.filter((line) => nameOf(line) === SID)).toHaveLength(1);
  });

  it('reads a single string or a number the way frameworks report them', async () => {
    const { open, manager } = await setup();
    const issued = await manager.create({ userId: 'user-1' });
    await manager.revoke(issued.session.id);
    const context = await open({ cookie: `${SID}=${issued.token}` });
    const update = context.responseHeaders(42);
    expect(update?.setCookie[0]).toBe('42');
    expect(update?.setCookie).toHaveLength(2);
  });

  it('calls onChange after each change, and only then', async () => {
    const { open, changes } = await setup();
    const context = await open();
    expect(changes).toHaveLength(0);
    await context.requireSession().catch(() => null);
    expect(changes).toHaveLength(0);
    await context.login({ userId: 'user-1' });
    await context.extend();
    context.csrfToken();
    await context.logout();
    expect(changes).toEqual([context, context, context, context]);
  });
});

describe('request context: login, logout, rotate, extend', () => {
  it('login revokes the session the request carried, records IP and user agent, and ends the pre-session (D3)', async () => {
    const { open, manager } = await setup();
    const planted = await manager.create({ userId: 'attacker' });
    const context = await open({ cookie: `${SID}=${planted.token}; ${PRE}=${'a'.repeat(43)}` });
    const session = await context.login({ userId: 'victim', metadata: { label: 'laptop' } });
    expect(session.metadata).toEqual({
      ip: '198.51.100.7',
      userAgent: 'test-agent',
      label: 'laptop',
      csrfId: expect.stringMatching(/^[\w-]{22}$/),
    });
    expect(context.session?.id).toBe(session.id);
    expect((await manager.validateToken(planted.token)).status).toBe('invalid');
    const lines = written(context);
    expect(isDeletion(byName(lines, PRE))).toBe(true);
    expect(byName(lines, SID)).not.toContain('Max-Age=0');
  });

  it('a pre-session started earlier in the same response is not sent at all after login', async () => {
    const { open } = await setup();
    const context = await open();
    context.csrfToken();
    await context.login({ userId: 'user-1' });
    expect(written(context).map(nameOf)).toEqual([SID]);
  });

  it('logout revokes and deletes the cookie; without a session or cookie it writes nothing', async () => {
    const { open, probe, clock } = await setup();
    const header = await loggedIn(open);
    const context = await open({ cookie: header });
    const id = context.session?.id as string;
    await context.logout();
    expect(context.session).toBeNull();
    expect(isDeletion(byName(written(context), SID))).toBe(true);
    expect(await probe.store.get(id, clock.now())).toBeNull();

    probe.reset();
    const anonymous = await open({ cookie: 'theme=dark' });
    await anonymous.logout();
    expect(anonymous.responseHeaders([])).toBeNull();
    expect(probe.total()).toBe(0);
  });

  it('logout with a dead cookie still deletes it', async () => {
    const { open } = await setup();
    const context = await open({ cookie: `${SID}=${'A'.repeat(22)}.${'B'.repeat(43)}` });
    context.responseHeaders([]);
    await context.logout();
    expect(isDeletion(byName(written(context), SID))).toBe(true);
  });

  it('logout during a store outage throws STORE_UNAVAILABLE and keeps the cookie', async () => {
    const { open, probe, manager } = await setup();
    const issued = await manager.create({ userId: 'user-1' });
    probe.fail('error');
    const context = await open({ cookie: `${SID}=${issued.token}` });
    const error = await context.logout().catch((e) => e);
    expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
    expect(context.responseHeaders([])).toBeNull();
  });

  it('rotate issues a new token and kills the old one; extend moves the idle deadline without a cookie', async () => {
    const { open, clock } = await setup();
    const header = await loggedIn(open);
    clock.advance(60_000);
    const context = await open({ cookie: header });
    const before = context.session?.idleExpiresAt as number;
    const extended = await context.extend();
    expect(extended.idleExpiresAt).toBeGreaterThan(before);
    expect(context.responseHeaders([])).toBeNull();
    const rotated = await context.rotate({ reauthenticated: true });
    expect(rotated.authenticatedAt).toBe(clock.now());
    expect(cookieHeader(...written(context))).not.toBe(header);
    expect((await open({ cookie: header })).session).toBeNull();
  });

  it('rotate and extend without a session throw the validation error', async () => {
    const { open, clock } = await setup();
    const header = await loggedIn(open);
    clock.advance(31 * 60_000);
    const expired = await open({ cookie: header });
    for (const attempt of [() => expired.rotate(), () => expired.extend(), () => expired.requireSession()]) {
      expect(isSessionError(await attempt().catch((e) => e), 'SESSION_EXPIRED')).toBe(true);
    }
    const none = await open();
    expect(isSessionError(await none.rotate().catch((e) => e), 'UNAUTHENTICATED')).toBe(true);
  });

  it('requireFresh refuses a session authenticated too long ago with REAUTH_REQUIRED', async () => {
    const { open, clock } = await setup();
    const header = await loggedIn(open);
    clock.advance(5 * 60_000);
    expect((await (await open({ cookie: header })).requireFresh(10 * 60_000)).userId).toBe('user-1');
    clock.advance(6 * 60_000);
    const error = await (await open({ cookie: header })).requireFresh(10 * 60_000).catch((e) => e);
    expect(isSessionError(error, 'REAUTH_REQUIRED')).toBe(true);
  });
});

describe('request context: CSRF', () => {
  const post = { method: 'POST', headers: { origin: ORIGIN } };

  it('two tokens in one response share one pre-session, and both pass on the next POST', async () => {
    const { open } = await setup();
    const page = await open();
    const tokens = [page.csrfToken(), page.csrfToken()];
    const update = page.responseHeaders([]);
    expect(update?.setCookie.map(nameOf)).toEqual([PRE]);
    expect(update?.cacheControl).toBe('no-store');
    for (const token of tokens) {
      const form = await open({ ...post, cookie: cookieHeader(...(update?.setCookie ?? [])) });
      expect(form.verifyCsrf({ _csrf: token }).outcome).toBe('passed');
    }
  });

  it('a session-bound token sets no cookie but still makes the response no-store', async () => {
    const { open } = await setup();
    const header = await loggedIn(open);
    const page = await open({ cookie: header });
    const token = page.csrfToken();
    expect(page.responseHeaders(['theme=dark'])).toEqual({ setCookie: ['theme=dark'], cacheControl: 'no-store' });
    const request = await open({ ...post, cookie: header, headers: { origin: ORIGIN, 'x-csrf-token': token } });
    expect(request.verifyCsrf(undefined).outcome).toBe('passed');
  });

  it('rejects a cross-site POST and a missing token; safe methods pass', async () => {
    const { open } = await setup();
    const header = await loggedIn(open);
    const token = (await open({ cookie: header })).csrfToken();
    const crossSite = await open({ method: 'POST', cookie: header, headers: { 'sec-fetch-site': 'cross-site' } });
    const reasons = [
      () => crossSite.verifyCsrf({ _csrf: token }),
      async () => (await open({ ...post, cookie: header })).verifyCsrf({}),
      async () => (await open({ ...post, cookie: header })).verifyCsrf('not a form'),
    ];
    for (const attempt of reasons) {
      const error = await Promise.resolve()
        .then(attempt)
        .catch((e) => e);
      expect(isSessionError(error, 'CSRF_REJECTED')).toBe(true);
    }
    expect((await open({ cookie: header })).verifyCsrf().outcome).toBe('safe_method');
  });

  it('an unreadable session gives 503 STORE_UNAVAILABLE, not a CSRF alarm', async () => {
    const { open, probe } = await setup();
    const header = await loggedIn(open);
    probe.fail('error');
    const context = await open({ ...post, cookie: header });
    expect(context.result.status).toBe('unavailable');
    expect(
      isSessionError(
        catchSync(() => context.verifyCsrf({ _csrf: 'x' })),
        'STORE_UNAVAILABLE',
      ),
    ).toBe(true);
  });

  it('without CSRF protection, csrfToken, verifyCsrf and requireCsrf are configuration errors', async () => {
    const { open, contexts } = await setup({ csrf: false });
    const context = await open();
    for (const attempt of [() => context.csrfToken(), () => context.verifyCsrf({}), () => contexts.requireCsrf()]) {
      expect(isSessionError(catchSync(attempt), 'CONFIG_INVALID')).toBe(true);
    }
  });
});

describe('request context: hybrid mode (session-JWT cookie)', () => {
  it('login sets both cookies; later requests validate from the JWT without a store call', async () => {
    const { open, probe } = await setup({ hybrid: true });
    const context = await open();
    await context.login({ userId: 'user-1' });
    const lines = written(context);
    expect(lines.map(nameOf).sort()).toEqual([JWT, SID].sort());
    probe.reset();
    const next = await open({ cookie: cookieHeader(...lines) });
    expect((await next.requireSession()).userId).toBe('user-1');
    expect(next.verifyCsrf().outcome).toBe('safe_method');
    expect(probe.total()).toBe(0);
    expect(next.responseHeaders([])).toBeNull();
  });

  it('a revoked session lives on the JWT path until the JWT expires; strict checks refuse it at once', async () => {
    const { open, manager, clock } = await setup({ hybrid: true });
    const header = await loggedIn(open);
    const id = (await open({ cookie: header })).session?.id as string;
    await manager.revoke(id);

    clock.advance(299_000);
    expect((await (await open({ cookie: header })).requireSession()).id).toBe(id);
    const strict = await open({ cookie: header });
    const error = await strict.requireSession({ strict: true }).catch((e) => e);
    expect(isSessionError(error, 'UNAUTHENTICATED')).toBe(true);
    expect(strict.result.status).toBe('invalid');
    const deletions = written(strict);
    expect(isDeletion(byName(deletions, SID)) && isDeletion(byName(deletions, JWT))).toBe(true);
    const fresh = await open({ cookie: header });
    expect(isSessionError(await fresh.requireFresh(60 * 60_000).catch((e) => e), 'UNAUTHENTICATED')).toBe(true);
    // requireFresh is always strict: there is no option to make it trust the JWT cookie alone.
    const lax = await open({ cookie: header });
    // @ts-expect-error requireFresh takes no options
    const laxError = await lax.requireFresh(60 * 60_000, { strict: false }).catch((e: unknown) => e);
    expect(isSessionError(laxError, 'UNAUTHENTICATED')).toBe(true);

    clock.advance(1_000);
    expect((await open({ cookie: header })).session).toBeNull();
  });

  it('rotate and extend of a JWT-path session confirm it with the store first', async () => {
    const { open, manager } = await setup({ hybrid: true });
    const header = await loggedIn(open);
    const live = await open({ cookie: header });
    const rotated = await live.rotate();
    const lines = written(live);
    expect(lines.map(nameOf).sort()).toEqual([JWT, SID].sort());
    await manager.revoke(rotated.id);
    const stale = await open({ cookie: cookieHeader(...lines) });
    expect(stale.session?.id).toBe(rotated.id);
    expect(isSessionError(await stale.extend().catch((e) => e), 'UNAUTHENTICATED')).toBe(true);
    expect(stale.session).toBeNull();
  });

  it('a fresh JWT cookie is issued once the old one expires while the session lives', async () => {
    const { open, clock, probe } = await setup({ hybrid: true });
    const header = await loggedIn(open);
    clock.advance(300_000);
    probe.reset();
    const context = await open({ cookie: header });
    expect(context.session?.userId).toBe('user-1');
    expect(probe.calls.get).toBe(1);
    const renewed = byName(written(context), JWT);
    expect(renewed).toContain('Max-Age=300');
    expect(cookieHeader(renewed as string)).not.toBe(cookieHeader(byName(header.split('; '), JWT) ?? ''));
  });

  it('logout revokes and deletes both cookies; a lone JWT cookie is deleted too', async () => {
    const { open, probe, clock } = await setup({ hybrid: true });
    const header = await loggedIn(open);
    const context = await open({ cookie: header });
    const id = context.session?.id as string;
    await context.logout();
    const lines = written(context);
    expect(isDeletion(byName(lines, SID)) && isDeletion(byName(lines, JWT))).toBe(true);
    expect(await probe.store.get(id, clock.now())).toBeNull();

    const jwtOnly = header.split('; ').filter((pair) => pair.startsWith(`${JWT}=`))[0] as string;
    const lone = await open({ cookie: jwtOnly });
    lone.responseHeaders([]);
    await lone.logout();
    expect(written(lone).map(nameOf).sort()).toEqual([JWT, SID].sort());
  });

  it('CSRF tokens are bound to the CSRF id: a page served before a rotation posts after it; a new login refuses it', async () => {
    const { open, probe, clock } = await setup({ hybrid: true });
    const header = await loggedIn(open);
    const post = (cookie: string, token: string) =>
      open({ cookie, method: 'POST', headers: { 'sec-fetch-site': 'same-origin', 'x-csrf-token': token } });
    const outcome = async (cookie: string, token: string) => {
      try {
        return (await post(cookie, token)).verifyCsrf().outcome;
      } catch (error) {
        if (isSessionError(error, 'CSRF_REJECTED')) return `${error.code}:${error.reason}`;
        throw error;
      }
    };
    probe.reset();
    // The page is rendered on the JWT path, without a store call.
    const page = await open({ cookie: header });
    expect(page.result.source).toBe('jwt');
    const token = page.csrfToken();
    expect(probe.total()).toBe(0);

    // Another tab rotates the session (re-authentication): new session id, new cookies.
    const tab = await open({ cookie: header, method: 'POST' });
    const before = tab.session?.id;
    await tab.rotate({ reauthenticated: true });
    const rotated = cookieHeader(...written(tab));
    expect(tab.session?.id).not.toBe(before);

    // The old page's token is accepted after the rotation, on the JWT path and on the store path.
    expect((await post(rotated, token)).result.source).toBe('jwt');
    expect(await outcome(rotated, token)).toBe('passed');
    const sessionOnly = rotated.split('; ').filter((pair) => pair.startsWith(`${SID}=`))[0] as string;
    const storePath = await post(sessionOnly, token);
    expect(storePath.result.source).toBe('store');
    expect(storePath.session?.id).toBe(tab.session?.id);
    expect(await outcome(sessionOnly, token)).toBe('passed');
    // A token served on the store path passes on the JWT path too.
    const storeToken = (await open({ cookie: sessionOnly })).csrfToken();
    expect(await outcome(rotated, storeToken)).toBe('passed');

    // A new login of the same user is a new binding: the old page's token is refused there.
    clock.advance(1_000);
    const relogin = await open({ cookie: rotated, method: 'POST' });
    await relogin.login({ userId: 'user-1' });
    const fresh = cookieHeader(...written(relogin));
    expect(await outcome(fresh, token)).toBe('CSRF_REJECTED:token_invalid');
    expect(await outcome(fresh, storeToken)).toBe('CSRF_REJECTED:token_invalid');
  });

  it('holds exactly one strategy, chosen once: the hybrid sessions given, or the cookie strategy', async () => {
    const plain = await setup();
    expect(plain.contexts.strategy.cookieNames).toEqual([SID]);
    expect(plain.contexts.strategy.manager).toBe(plain.manager);
    const hybrid = await setup({ hybrid: true });
    expect(hybrid.contexts.strategy).toBe(hybrid.hybrid);
    expect(hybrid.contexts.strategy.cookieNames).toEqual([SID, JWT]);
    // A JWT-path session says so; after a strict check it is the store's.
    const header = await loggedIn(hybrid.open);
    const context = await hybrid.open({ cookie: header });
    expect(context.result).toMatchObject({ status: 'valid', source: 'jwt' });
    expect(context.session).toHaveProperty('source', 'jwt');
    await context.requireSession({ strict: true });
    expect(context.result).toMatchObject({ status: 'valid', source: 'store' });
    expect(context.session).not.toHaveProperty('source');
  });

  it('refuses hybrid sessions built on another manager', async () => {
    const { hybrid } = await setup({ hybrid: true });
    const other = new SessionManager({ store: new MemoryStore() });
    const error = catchSync(() => createRequestContexts({ manager: other, hybrid }));
    expect(isSessionError(error, 'CONFIG_INVALID')).toBe(true);
  });
});

function catchSync(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return null;
}

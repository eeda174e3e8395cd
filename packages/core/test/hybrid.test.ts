import { describe, expect, it } from 'vitest';
import { createHybridSessions, createSessionJwt, generateSigningKey } from '../src/entries/jwt.js';
import { isSessionError } from '../src/errors.js';
import { MemoryStore, type SessionManagerOptions } from '../src/index.js';
import { JwtKeySet } from '../src/jwt/key-set.js';
import { sessionTokenBinding } from '../src/jwt/session-jwt.js';
import { SessionManager } from '../src/manager.js';
import { createTestClock, instrumentStore } from '../src/testing/index.js';
import { parseSessionToken } from '../src/token.js';
import { AUDIENCE, ISSUER, signRaw } from './jwt-support.js';

type Data = { role: string; secretNote?: string };

async function setup(managerOptions: Partial<SessionManagerOptions<Data>> = {}) {
  const clock = createTestClock();
  const probe = instrumentStore(new MemoryStore<Data>());
  const manager = new SessionManager<Data>({ store: probe.store, clock, ...managerOptions });
  const keys = new JwtKeySet({ active: await generateSigningKey('EdDSA') });
  const jwt = createSessionJwt({
    manager,
    keys,
    issuer: ISSUER,
    audience: AUDIENCE,
    claims: (session) => ({ role: session.data.role }),
  });
  const hybrid = createHybridSessions({ jwt });
  const login = () => hybrid.create({ userId: 'user-1', data: { role: 'editor', secretNote: 'server only' } });
  return { clock, probe, manager, jwt, hybrid, login };
}

/** What a browser sends back: the name=value part of each Set-Cookie, minus deletions. */
function cookieHeader(...setCookies: string[]): string {
  return setCookies
    .map((c) => c.split(';')[0] as string)
    .filter((pair) => !pair.endsWith('='))
    .join('; ');
}

const byName = (cookies: string[], name: string) => cookies.find((c) => c.startsWith(`${name}=`));

describe('hybrid browser sessions: session-token cookie + short-lived session-JWT cookie', () => {
  it('login sets both cookies; the JWT cookie has the same attributes and Max-Age = TTL', async () => {
    const { hybrid, manager, login } = await setup();
    const { cookies } = await login();
    expect(cookies).toHaveLength(2);
    expect(byName(cookies, manager.cookie.name)).toBeDefined();
    const jwtCookie = byName(cookies, '__Host-sjwt') as string;
    expect(hybrid.cookieName).toBe('__Host-sjwt');
    expect(jwtCookie).toMatch(
      /^__Host-sjwt=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+; Path=\/; Max-Age=300; Secure; HttpOnly; SameSite=Lax$/,
    );
  });

  it('G5: browser mode holds no refresh token: login sets the session and JWT cookies only, no family', async () => {
    const { probe, manager, login } = await setup();
    probe.reset();
    const issued = await login();
    expect(issued.cookies.map((c) => c.split('=')[0]).sort()).toEqual([manager.cookie.name, '__Host-sjwt'].sort());
    expect(issued.cookies.every((c) => c.includes('HttpOnly'))).toBe(true);
    expect(probe.calls.createRefreshFamily).toBe(0);
  });

  it('a request with both cookies validates from the JWT alone: no store call, no Set-Cookie', async () => {
    const { hybrid, probe, login } = await setup();
    const { cookies, session, token } = await login();
    probe.reset();
    for (let i = 0; i < 50; i++) {
      const result = await hybrid.validate(cookieHeader(...cookies));
      expect(result.status).toBe('valid');
      expect(result.source).toBe('jwt');
      expect(result.cookies).toEqual([]);
      expect(result.session?.id).toBe(session.id);
      expect(result.session?.userId).toBe('user-1');
      expect(result.token).toBe(token);
    }
    expect(probe.total()).toBe(0);
  });

  it('on the JWT path session.data holds only the custom claims, never server-only data', async () => {
    const { hybrid, login } = await setup();
    const { cookies, session } = await login();
    const result = await hybrid.validate(cookieHeader(...cookies));
    expect(result.session?.data).toEqual({ role: 'editor' });
    expect(result.session?.authenticatedAt).toBe(Math.floor(session.authenticatedAt / 1000) * 1000);
    expect(result.session?.version).toBe(0);
    expect(result.claims?.sid).toBe(session.id);
  });

  it('a JWT-derived session is marked source: jwt, in the result and on the session itself', async () => {
    const { hybrid, manager, login } = await setup();
    const { cookies } = await login();
    const result = await hybrid.validate(cookieHeader(...cookies));
    if (result.status !== 'valid' || result.source !== 'jwt') throw new Error('expected a JWT-path session');
    // Narrowed by status and source: a JwtSession, with no idle deadline and version 0.
    const marked: 'jwt' = result.session.source;
    const version: 0 = result.session.version;
    expect([marked, version, result.session.idleExpiresAt]).toEqual(['jwt', 0, null]);
    const fromStore = await manager.validateCookie(cookieHeader(byName(cookies, manager.cookie.name) as string));
    expect(fromStore.source).toBe('store');
    expect(fromStore.session).not.toHaveProperty('source');
  });

  it('the JWT cookie is written through the session cookie policy: every attribute but name, value and Max-Age', async () => {
    const { hybrid, manager, login } = await setup({
      cookie: {
        name: '__Secure-app',
        domain: 'example.test',
        path: '/app',
        sameSite: 'strict',
        partitioned: true,
        allowWithoutHostPrefix: true,
      },
    });
    expect(hybrid.cookieName).toBe('__Secure-sjwt');
    expect(hybrid.cookieNames).toEqual(['__Secure-app', '__Secure-sjwt']);
    const { cookies } = await login();
    const attributes = (setCookie: string) =>
      setCookie
        .split('; ')
        .slice(1)
        .filter((a) => !a.startsWith('Max-Age='));
    const sessionCookie = byName(cookies, manager.cookie.name) as string;
    const jwtCookie = byName(cookies, '__Secure-sjwt') as string;
    expect(attributes(jwtCookie)).toEqual(attributes(sessionCookie));
    expect(attributes(jwtCookie)).toEqual([
      'Path=/app',
      'Domain=example.test',
      'Secure',
      'HttpOnly',
      'SameSite=Strict',
      'Partitioned',
    ]);
    const [sessionDeletion, jwtDeletion] = hybrid.deletionCookies() as [string, string];
    expect(jwtDeletion).toBe(sessionDeletion.replace('__Secure-app=', '__Secure-sjwt='));
  });

  it('without the JWT cookie the store is asked once and a new JWT cookie is issued', async () => {
    const { hybrid, probe, manager, login } = await setup();
    const { cookies } = await login();
    const sessionOnly = cookieHeader(byName(cookies, manager.cookie.name) as string);
    probe.reset();
    const result = await hybrid.validate(sessionOnly);
    expect(result.source).toBe('store');
    expect(result.session?.data).toEqual({ role: 'editor', secretNote: 'server only' });
    expect(probe.calls.get).toBe(1);
    const fresh = byName(result.cookies, '__Host-sjwt') as string;
    expect(fresh).toContain('Max-Age=300');
    probe.reset();
    const next = await hybrid.validate(cookieHeader(sessionOnly, fresh));
    expect(next.source).toBe('jwt');
    expect(probe.total()).toBe(0);
  });

  it('an expired JWT cookie falls back to the store and is replaced', async () => {
    const { hybrid, clock, login } = await setup();
    const { cookies } = await login();
    clock.advance(300_000);
    const result = await hybrid.validate(cookieHeader(...cookies));
    expect(result.status).toBe('valid');
    expect(result.source).toBe('store');
    expect(byName(result.cookies, '__Host-sjwt')).toMatch(/Max-Age=300/);
  });

  it('staleness after revocation is bounded by the JWT TTL; strict mode sees it at once', async () => {
    const { hybrid, manager, clock, login } = await setup();
    const { cookies, session } = await login();
    const header = cookieHeader(...cookies);
    await manager.revoke(session.id);

    clock.advance(299_999);
    const stale = await hybrid.validate(header);
    expect(stale.status).toBe('valid');
    expect(stale.source).toBe('jwt');

    const strict = await hybrid.validate(header, {}, { strict: true });
    expect(strict.session).toBeNull();
    expect(strict.status).toBe('invalid');
    expect(strict.cookies).toHaveLength(2);
    expect(byName(strict.cookies, '__Host-sjwt')).toContain('Max-Age=0');

    clock.advance(1);
    const after = await hybrid.validate(header);
    expect(after.session).toBeNull();
    expect(after.source).toBe('store');
    expect(after.cookies.every((c) => c.includes('Max-Age=0'))).toBe(true);
  });

  it('strict mode with a valid JWT asks the store and does not re-issue the JWT', async () => {
    const { hybrid, probe, login } = await setup();
    const { cookies } = await login();
    probe.reset();
    const result = await hybrid.validate(cookieHeader(...cookies), {}, { strict: true });
    expect(result.status).toBe('valid');
    expect(result.source).toBe('store');
    expect(result.cookies).toEqual([]);
    expect(probe.calls.get).toBe(1);
  });

  it('a JWT cookie without its session cookie, or for another session, does not authenticate', async () => {
    const { hybrid, manager, login } = await setup();
    const first = await login();
    const second = await login();
    const jwtOnly = cookieHeader(byName(first.cookies, '__Host-sjwt') as string);
    const alone = await hybrid.validate(jwtOnly);
    expect(alone.session).toBeNull();
    expect(alone.status).toBe('absent');
    expect(byName(alone.cookies, '__Host-sjwt')).toContain('Max-Age=0');

    const mixed = cookieHeader(
      byName(second.cookies, manager.cookie.name) as string,
      byName(first.cookies, '__Host-sjwt') as string,
    );
    const result = await hybrid.validate(mixed);
    expect(result.source).toBe('store');
    expect(result.session?.id).toBe(second.session.id);
    expect(result.claims?.sid).toBe(second.session.id);
  });

  it('a tampered JWT cookie is ignored: the store decides and a new JWT is issued', async () => {
    const { hybrid, login } = await setup();
    const { cookies } = await login();
    const jwtCookie = byName(cookies, '__Host-sjwt') as string;
    const tampered = jwtCookie.replace(/\.([A-Za-z0-9_-])/, (_m, c: string) => `.${c === 'A' ? 'B' : 'A'}`);
    const result = await hybrid.validate(cookieHeader(cookies[0] as string, tampered));
    expect(result.status).toBe('valid');
    expect(result.source).toBe('store');
    expect(byName(result.cookies, '__Host-sjwt')).toBeDefined();
  });

  it('ST-05: during a store outage the JWT path keeps working; strict and store paths fail closed, deleting nothing', async () => {
    const { hybrid, probe, manager, login } = await setup();
    const { cookies } = await login();
    probe.fail('error');
    expect((await hybrid.validate(cookieHeader(...cookies))).status).toBe('valid');
    const strict = await hybrid.validate(cookieHeader(...cookies), {}, { strict: true });
    expect(strict.status).toBe('unavailable');
    expect(isSessionError(strict.error, 'STORE_UNAVAILABLE')).toBe(true);
    expect(strict.cookies).toEqual([]);
    const sessionOnly = await hybrid.validate(cookieHeader(byName(cookies, manager.cookie.name) as string));
    expect(sessionOnly.status).toBe('unavailable');
    expect(sessionOnly.cookies).toEqual([]);
  });

  it('logout revokes the session and deletes both cookies', async () => {
    const { hybrid, manager, login } = await setup();
    const { cookies, session } = await login();
    const deletions = await hybrid.logout(session.id);
    expect(deletions).toHaveLength(2);
    expect(deletions.every((c) => c.includes('Max-Age=0') && c.includes('Expires=Thu, 01 Jan 1970'))).toBe(true);
    expect(byName(deletions, manager.cookie.name)).toBeDefined();
    const strict = await hybrid.validate(cookieHeader(...cookies), {}, { strict: true });
    expect(strict.session).toBeNull();
  });

  it('rotation re-issues both cookies; the old JWT no longer matches the new session cookie', async () => {
    const { hybrid, login } = await setup();
    const { cookies, session } = await login();
    const rotated = await hybrid.rotate(session, { data: { role: 'admin' } });
    expect(rotated.cookies).toHaveLength(2);
    const result = await hybrid.validate(cookieHeader(...rotated.cookies));
    expect(result.source).toBe('jwt');
    expect(result.session?.data).toEqual({ role: 'admin' });
    const oldPair = await hybrid.validate(cookieHeader(...cookies), {}, { strict: true });
    expect(oldPair.session).toBeNull();
  });

  it('development mode uses the plain name and no Secure attribute', async () => {
    const { hybrid, login } = await setup({ mode: 'development' });
    expect(hybrid.cookieName).toBe('sjwt');
    const { cookies } = await login();
    const jwtCookie = byName(cookies, 'sjwt') as string;
    expect(jwtCookie).not.toContain('Secure');
    expect((await hybrid.validate(cookieHeader(...cookies))).source).toBe('jwt');
  });

  it('the result has the ValidationResult shape, so adapters can take either', async () => {
    const { hybrid, manager, login } = await setup();
    const { cookies } = await login();
    const fromHybrid = await hybrid.validate(cookieHeader(...cookies));
    const fromManager = await manager.validateCookie(cookieHeader(...cookies));
    for (const key of Object.keys(fromManager)) expect(fromHybrid).toHaveProperty(key);
  });

  it('refuses a JWT cookie name equal to the session cookie, or breaking prefix rules', async () => {
    const { jwt } = await setup();
    for (const cookieName of ['__Host-sid', '__Host-x;y']) {
      const error = (() => {
        try {
          createHybridSessions({ jwt, cookieName });
        } catch (e) {
          return e;
        }
      })();
      expect(isSessionError(error, 'CONFIG_INVALID')).toBe(true);
    }
  });

  it("the JWT cookie is bound to the session cookie's secret: a forged <sid>.<anything> cookie gets nothing from it", async () => {
    const { hybrid, probe, manager, login } = await setup();
    const { cookies, token } = await login();
    const jwtPair = (byName(cookies, '__Host-sjwt') as string).split(';')[0] as string;
    const id = token.slice(0, token.indexOf('.'));
    const forged = `${manager.cookie.name}=${id}.${'A'.repeat(43)}; ${jwtPair}`;
    probe.reset();
    const result = await hybrid.validate(forged);
    expect(result.session).toBeNull();
    expect(result.source).toBe('store');
    // It had to ask the store, which refused the forged secret.
    expect(probe.calls.get).toBeGreaterThan(0);
    // During an outage the forged pair stays unauthenticated instead of riding on the JWT.
    probe.fail('error');
    expect((await hybrid.validate(forged)).session).toBeNull();
    expect((await hybrid.validate(cookieHeader(...cookies))).source).toBe('jwt');
  });

  it('after the JWT was accepted with its session cookie, only that very cookie rides on it again (and only until exp)', async () => {
    const { hybrid, probe, manager, clock, login } = await setup();
    const { cookies, token } = await login();
    const jwtPair = (byName(cookies, '__Host-sjwt') as string).split(';')[0] as string;
    const genuine = `${manager.cookie.name}=${token}; ${jwtPair}`;
    expect((await hybrid.validate(genuine)).source).toBe('jwt');
    const id = token.slice(0, token.indexOf('.'));
    const last = token.at(-1) === 'A' ? 'Q' : 'A';
    const forgeries = [
      `${id}.${'A'.repeat(43)}`,
      // One character off, at either end of the secret.
      `${token.slice(0, -1)}${last}`,
      `${id}.${token[23] === 'B' ? 'C' : 'B'}${token.slice(24)}`,
      `${token}A`,
      token.slice(0, -1),
    ];
    for (const forged of forgeries) {
      probe.reset();
      const result = await hybrid.validate(`${manager.cookie.name}=${forged}; ${jwtPair}`);
      expect(result.session).toBeNull();
      expect(probe.calls.get ?? 0).toBeGreaterThanOrEqual(forged.length === token.length ? 1 : 0);
    }
    expect((await hybrid.validate(genuine)).source).toBe('jwt');
    // At exp the JWT no longer counts, for the cookie it was accepted with too: the store answers.
    clock.advance(300_000);
    probe.reset();
    const expired = await hybrid.validate(genuine);
    expect(expired.source).toBe('store');
    expect(probe.calls.get).toBeGreaterThan(0);
  });

  it('a JWT issued for API use (no binding) never authenticates the cookie path by itself', async () => {
    const { hybrid, jwt, probe, manager, login } = await setup();
    const { cookies, session, token } = await login();
    const apiJwt = (await jwt.issue(session)).token;
    expect((await jwt.verify(apiJwt)).sth).toBeUndefined();
    const header = `${manager.cookie.name}=${token}; __Host-sjwt=${apiJwt}`;
    probe.fail('error');
    const result = await hybrid.validate(header);
    expect(result.session).toBeNull();
    expect(result.status).toBe('unavailable');
    probe.fail(null);
    // With the store back, the store path serves it and replaces the JWT cookie with a bound one.
    const healed = await hybrid.validate(header);
    expect(healed.source).toBe('store');
    const fresh = byName(healed.cookies, '__Host-sjwt') as string;
    const again = await hybrid.validate(cookieHeader(byName(cookies, manager.cookie.name) as string, fresh));
    expect(again.source).toBe('jwt');
  });
});

describe('hardening items 6 and 7 in hybrid mode', () => {
  const tossable = { cookie: { domain: 'app.example', allowWithoutHostPrefix: true } };

  it('item 6: planted same-name session cookies delete neither cookie; identical duplicates still validate from the JWT', async () => {
    const { hybrid, manager, login } = await setup(tossable);
    const { cookies } = await login();
    const jwtPair = (byName(cookies, '__Secure-sjwt') as string).split(';')[0] as string;
    const sessionPair = (byName(cookies, manager.cookie.name) as string).split(';')[0] as string;
    expect(manager.cookie.name).toBe('__Secure-sid');

    // The same cookie twice (a proxy joining split headers) is one value: the JWT path still works.
    const doubled = await hybrid.validate(`${sessionPair}; ${jwtPair}; ${sessionPair}`);
    expect(doubled).toMatchObject({ status: 'valid', source: 'jwt', cookies: [] });

    // Distinct junk ahead of the real cookie: no session for this request, but nothing is deleted.
    const planted = `${['a', 'b', 'c', 'd'].map((v) => `__Secure-sid=${v}`).join('; ')}; ${sessionPair}; ${jwtPair}`;
    const tossed = await hybrid.validate(planted);
    expect(tossed).toMatchObject({ session: null, cookies: [] });
    const two = await hybrid.validate(`__Secure-sid=junk; __Secure-sid=other; ${jwtPair}`);
    expect(two).toMatchObject({ session: null, cookies: [] });
  });

  it('item 7: a header cut at 64 KiB before the session cookie deletes no JWT cookie', async () => {
    const { hybrid, manager, login } = await setup();
    const { cookies } = await login();
    const jwtPair = (byName(cookies, '__Host-sjwt') as string).split(';')[0] as string;
    const sessionPair = (byName(cookies, manager.cookie.name) as string).split(';')[0] as string;
    const pad = Array.from({ length: 13_200 }, () => 'p=1').join('; ');
    const result = await hybrid.validate(`${jwtPair}; ${pad}; ${sessionPair}`);
    expect(result).toMatchObject({ session: null, status: 'absent', cookies: [] });
    // A JWT cookie without its session cookie in a short header is still deleted.
    expect((await hybrid.validate(jwtPair)).cookies).toHaveLength(1);
  });
});

describe('hardening items 11 and 12 in hybrid mode', () => {
  it('item 11: __proto__, constructor and prototype are refused as custom claim names, so no JWT carries them', async () => {
    for (const name of ['__proto__', 'constructor', 'prototype']) {
      const clock = createTestClock();
      const manager = new SessionManager<Data>({ store: new MemoryStore<Data>(), clock });
      const jwt = createSessionJwt({
        manager,
        keys: new JwtKeySet({ active: await generateSigningKey('EdDSA') }),
        issuer: ISSUER,
        audience: AUDIENCE,
        // JSON.parse makes an own member of that name, as claims read from a config or a database would.
        claims: (session) => JSON.parse(`{"role":"${session.data.role}","${name}":{"isAdmin":true}}`),
      });
      const hybrid = createHybridSessions({ jwt });
      const error = await hybrid.create({ userId: 'user-1', data: { role: 'editor' } }).catch((e: unknown) => e);
      expect(isSessionError(error, 'CONFIG_INVALID')).toBe(true);
    }
  });

  it('item 11: a JWT that carries __proto__ anyway gives session.data no new prototype on the JWT path', async () => {
    const { hybrid, jwt, manager, clock, login } = await setup();
    const { cookies, session, token } = await login();
    const key = jwt.keys.active;
    const now = Math.floor(clock.now() / 1000);
    const binding = sessionTokenBinding(parseSessionToken(token)?.secret as string);
    const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', sid: session.id, jti: 'j', iat: now, nbf: now };
    const payload = JSON.stringify({ ...claims, exp: now + 300, auth_time: now, sth: binding, role: 'editor' });
    const hostile = `${payload.slice(0, -1)},"__proto__":{"isAdmin":true},"constructor":{"name":"Admin"}}`;
    const forged = await signRaw({ alg: key.alg, kid: key.kid, typ: 'session+jwt' }, hostile, key);
    const sessionCookie = cookieHeader(byName(cookies, manager.cookie.name) as string);

    const result = await hybrid.validate(`${sessionCookie}; __Host-sjwt=${forged}`);
    expect(result.source).toBe('jwt');
    const data = result.session?.data as Record<string, unknown>;
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
    expect(data.isAdmin).toBeUndefined();
    expect(data.constructor).toBe(Object);
    expect(Object.keys(data)).toEqual(['role']);
  });

  it('item 12: within the clock tolerance of the deadline the store answers and no JWT cookie is issued', async () => {
    const { hybrid, clock, login } = await setup({ policy: { idleTimeoutMs: 600_000, absoluteTimeoutMs: 600_000 } });
    const { cookies, session } = await login();
    clock.advance(580_000);
    const result = await hybrid.validate(cookieHeader(...cookies));
    expect(result).toMatchObject({ status: 'valid', source: 'store', claims: null });
    expect(result.session?.id).toBe(session.id);
    expect(byName(result.cookies, '__Host-sjwt')).toBeUndefined();
  });
});

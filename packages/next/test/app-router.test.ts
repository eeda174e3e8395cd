import { createSessionManager, MemoryStore } from '@org/session-core';
import { createJwtKeySet, createSessionJwt, generateSigningKey } from '@org/session-core/jwt';
import { createTestClock, instrumentStore } from '@org/session-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startFixtureApp } from './support/next-server.js';

// Next-specific behaviour of the fixture app (next build, Next's production server): proxy.ts,
// the JSON API helper, the edge-runtime JWT route, and what a page render cannot do.
const ORIGIN = 'https://app.example';
const MINUTE = 60_000;
// Starts now: the edge route verifies JWTs on the real clock.
const clock = createTestClock(Date.now());
const probe = instrumentStore(new MemoryStore());
const manager = createSessionManager({ store: probe.store, clock, storeTimeoutMs: 200 });
const SID = manager.cookie.name;
const ISSUER = 'https://auth.app.example';
const AUDIENCE = 'next-fixture';
let jwts: ReturnType<typeof createSessionJwt>;
/** On the real clock, for the edge route (the test clock above moves ahead). */
let edgeJwts: ReturnType<typeof createSessionJwt>;
const edgeManager = createSessionManager({ store: new MemoryStore() });
let app: RunningApp;

beforeAll(async () => {
  const key = await generateSigningKey('EdDSA');
  const keys = createJwtKeySet({ active: key });
  jwts = createSessionJwt({ manager, keys, issuer: ISSUER, audience: AUDIENCE });
  edgeJwts = createSessionJwt({ manager: edgeManager, keys, issuer: ISSUER, audience: AUDIENCE });
  // The edge route runs in Next's edge sandbox: it gets the public JWKS through the environment.
  process.env.FIXTURE_JWKS = JSON.stringify(keys.exportJwks());
  process.env.FIXTURE_JWT_ISSUER = ISSUER;
  process.env.FIXTURE_JWT_AUDIENCE = AUDIENCE;
  app = await startFixtureApp({
    store: probe.store,
    clock,
    storeTimeoutMs: 200,
    csrf: { key: new Uint8Array(32).fill(9), allowedOrigins: [ORIGIN] },
    jwtVerifier: jwts.verifier,
  });
});
afterAll(async () => {
  await app?.close();
});

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${app.url}${path}`, { headers, redirect: 'manual' });
const login = async (userId: string, persistent = false) => {
  const issued = await manager.create({ userId, persistent });
  return issued.token;
};

describe('proxy.ts', () => {
  it('sends an anonymous visitor of a protected page to login with the path as next=, and renews nothing', async () => {
    const res = await get('/account/settings?tab=keys');
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location') as string, app.url);
    expect(location.pathname).toBe('/signin');
    expect(location.searchParams.get('next')).toBe('/account/settings?tab=keys');
    expect(res.headers.getSetCookie().filter((c) => c.startsWith(`${SID}=`))).toEqual([]);
  });

  it('a dead cookie on a protected page: login redirect that also deletes the cookie', async () => {
    const res = await get('/account', { cookie: `${SID}=${'A'.repeat(22)}.${'B'.repeat(43)}` });
    expect(res.status).toBe(303);
    expect(res.headers.getSetCookie().find((c) => c.startsWith(`${SID}=`))).toContain('Max-Age=0');
  });

  it('lets a live session through, renders the page from it, and re-sends a persistent cookie when it slides the idle deadline', async () => {
    const token = await login('proxy-user', true);
    clock.advance(10 * MINUTE);
    const before = (await manager.list('proxy-user'))[0]?.idleExpiresAt as number;
    const res = await get('/account', { cookie: `${SID}=${token}` });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('proxy-user');
    const renewed = res.headers.getSetCookie().filter((c) => c.startsWith(`${SID}=`));
    expect(renewed).toHaveLength(1);
    expect(renewed[0]).toMatch(/Max-Age=\d+/);
    expect(res.headers.get('cache-control')).toContain('no-store');
    expect((await manager.list('proxy-user'))[0]?.idleExpiresAt).toBeGreaterThan(before);
  });

  it('fails closed during a store outage: 503 on a protected page, never a pass and never a deleted cookie', async () => {
    const token = await login('outage-user');
    probe.fail('error');
    try {
      const res = await get('/account', { cookie: `${SID}=${token}` });
      expect(res.status).toBe(503);
      expect(res.headers.getSetCookie()).toEqual([]);
    } finally {
      probe.fail(null);
    }
    expect((await get('/account', { cookie: `${SID}=${token}` })).status).toBe(200);
  });

  it('starts the CSRF pre-session on the login page, and the page renders a token bound to it', async () => {
    const res = await get('/signin');
    expect(res.status).toBe(200);
    const pre = res.headers.getSetCookie().find((c) => c.startsWith('__Host-pre='));
    expect(pre).toMatch(/^__Host-pre=[^;]+; Path=\/; Secure; HttpOnly; SameSite=Strict$/);
    expect(await res.text()).toMatch(/name="_csrf" value="[A-Za-z0-9_.-]{20,}"/);
  });
});

describe('server components', () => {
  it('a page render reads the session but a renewal cookie is not supported on next: pages cannot set cookies, so a cookie never depends on one', async () => {
    const token = await login('render-user', true);
    clock.advance(10 * MINUTE);
    const before = (await manager.list('render-user'))[0];
    // /open is outside the proxy's matcher: only the render validates.
    const res = await get('/open', { cookie: `${SID}=${token}` });
    expect(await res.text()).toContain('render-user');
    // The limitation: the store slid the idle deadline, the response could not carry a cookie.
    expect(res.headers.getSetCookie()).toEqual([]);
    const after = (await manager.list('render-user'))[0];
    expect(after?.idleExpiresAt).toBeGreaterThan(before?.idleExpiresAt as number);
    // Why nothing is lost: the cookie's lifetime is the absolute deadline, never the idle one.
    expect(after?.absoluteExpiresAt).toBe(before?.absoluteExpiresAt);
    const proxied = await get('/account', { cookie: `${SID}=${token}` });
    expect(proxied.status).toBe(200);
  });

  it('deleting a dead cookie from a page render is not supported on next: the render sends none, the proxy and route handlers do', async () => {
    const dead = `${SID}=${'C'.repeat(22)}.${'D'.repeat(43)}`;
    const render = await get('/open', { cookie: dead });
    expect(await render.text()).toContain('anonymous');
    expect(render.headers.getSetCookie()).toEqual([]);
    const route = await get('/me', { cookie: dead });
    expect(route.headers.getSetCookie().find((c) => c.startsWith(`${SID}=`))).toContain('Max-Age=0');
  });
});

describe('JSON API helper (auth.api)', () => {
  it('takes a bearer session token, a bearer session JWT or the cookie, and says which', async () => {
    const token = await login('api-user');
    const viaToken = await get('/api/whoami', { authorization: `Bearer ${token}` });
    expect(await viaToken.json()).toEqual({ via: 'token', userId: 'api-user' });
    expect(viaToken.headers.get('cache-control')).toContain('no-store');
    const session = manager.requireSession(await manager.validateToken(token));
    const { token: jwt } = await jwts.issue(session);
    expect(await (await get('/api/whoami', { authorization: `Bearer ${jwt}` })).json()).toEqual({
      via: 'jwt',
      userId: 'api-user',
    });
    expect(await (await get('/api/whoami', { cookie: `${SID}=${token}` })).json()).toEqual({
      via: 'cookie',
      userId: 'api-user',
    });
  });

  it('refuses missing, malformed, tampered and revoked credentials with core codes', async () => {
    const token = await login('api-refused');
    const session = manager.requireSession(await manager.validateToken(token));
    const { token: jwt } = await jwts.issue(session);
    const tampered = `${jwt.slice(0, -4)}${jwt.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    const cases: Array<[Record<string, string>, number, string]> = [
      [{}, 401, 'UNAUTHENTICATED'],
      [{ authorization: 'Bearer not-a-token' }, 401, 'UNAUTHENTICATED'],
      [{ authorization: `Bearer ${tampered}` }, 401, 'JWT_SIGNATURE_INVALID'],
    ];
    for (const [headers, status, code] of cases) {
      const res = await get('/api/whoami', headers);
      expect({ status: res.status, code: ((await res.json()) as { error: { code: string } }).error.code }).toEqual({
        status,
        code,
      });
    }
    await manager.revoke(session.id);
    const revoked = await get('/api/whoami', { authorization: `Bearer ${token}` });
    expect(revoked.status).toBe(401);
  });
});

describe("runtime = 'edge' route", () => {
  it('verifies a session JWT with core alone inside the edge sandbox, and refuses a tampered one', async () => {
    const { session } = await edgeManager.create({ userId: 'edge-user' });
    const { token: jwt } = await edgeJwts.issue(session);
    const ok = await get('/edge-jwt', { authorization: `Bearer ${jwt}` });
    expect(await ok.json()).toEqual({ sub: 'edge-user', sid: session.id, runtime: 'edge' });
    const bad = await get('/edge-jwt', { authorization: `Bearer ${jwt.slice(0, -2)}xx` });
    expect(bad.status).toBe(401);
  });
});

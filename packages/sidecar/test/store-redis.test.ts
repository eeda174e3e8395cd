import {
  createJwtKeySet,
  createJwtVerifier,
  createSessionJwt,
  exportSigningJwk,
  generateSigningKey,
} from '@org/session-core/jwt';
import type { RedisStore } from '@org/session-store-redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSidecar } from '../src/index.js';
import type { Sidecar } from '../src/server.js';
import {
  type AuthServer,
  cookiePair,
  findNginx,
  hasRedisServer,
  httpRequest,
  type PrivateRedis,
  type RunningNginx,
  serviceAvailable,
  startEchoUpstream,
  startNginx,
  startRedisAuthServer,
  tempDir,
  waitFor,
} from './support.js';

const nginx = findNginx();
const redisServer = hasRedisServer();
const ready = serviceAvailable(
  !nginx ? 'nginx is not installed' : !redisServer ? 'redis-server is not installed' : null,
  'the store-mode Redis tests',
);

describe.skipIf(!ready)('store mode on Redis, through nginx auth_request', () => {
  let redis: PrivateRedis;
  let files: ReturnType<typeof tempDir>;
  let authServer: AuthServer<RedisStore> & { redis: PrivateRedis };
  let auth: AuthServer<RedisStore>['manager'];
  let authJwts: ReturnType<typeof createSessionJwt<Record<string, unknown>, Record<string, unknown>>>;
  let sidecar: Sidecar;
  let sidecarUrl = '';
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
  let proxy: RunningNginx;
  let base = '';

  beforeAll(async () => {
    authServer = await startRedisAuthServer();
    redis = authServer.redis;
    files = tempDir('redis');
    const key = await generateSigningKey('ES256', { extractable: true });
    const keyFile = files.file('signing.json', JSON.stringify(await exportSigningJwk(key)));
    // The auth server: the same store and key; it logs users in and out.
    auth = authServer.manager;
    authJwts = createSessionJwt({
      manager: auth,
      keys: createJwtKeySet({ active: key }),
      issuer: 'https://auth.test',
      audience: ['orders'],
      claims: (session) => ({ role: session.data.role }),
    });
    sidecar = await createSidecar({
      mode: 'store',
      store: { type: 'redis', url: redis.url, commandTimeoutMs: 300 },
      jwt: { issuer: 'https://auth.test', audience: 'orders', signingKeyFile: keyFile },
      identity: { claims: ['role'], sessionId: 'id' },
    });
    const listening = await sidecar.listen(0, '127.0.0.1');
    sidecarUrl = listening.url;
    upstream = await startEchoUpstream();
    proxy = await startNginx(nginx as string, {
      sidecarPort: listening.port,
      upstreamPort: upstream.port,
    });
    base = `http://127.0.0.1:${proxy.port}`;
  });

  afterAll(async () => {
    await proxy?.stop();
    await upstream?.close();
    await sidecar?.close();
    await authServer?.close();
    files?.remove();
  });

  const login = async (data: Record<string, unknown> = { role: 'admin', internalNote: 'never sent' }) =>
    auth.create({ userId: `user-${Math.random().toString(36).slice(2, 8)}`, data });

  it('allows a valid session cookie and passes the identity upstream', async () => {
    const { session, cookies } = await login();
    const answer = await httpRequest(`${base}/orders`, { headers: { cookie: cookiePair(cookies[0] as string) } });
    expect(answer.status, proxy.errorLog()).toBe(200);
    const seen = JSON.parse(answer.body).headers;
    expect(seen['x-auth-user-id']).toBe(session.userId);
    expect(seen['x-auth-session-id']).toBe(session.id);
    expect(seen['x-auth-time']).toBe(String(Math.floor(session.authenticatedAt / 1000)));
    expect(seen['x-auth-claim-role']).toBe('admin');
    expect(JSON.stringify(seen)).not.toContain('never sent');
    // The token (id.secret) never reaches the upstream in an identity header.
    expect(seen['x-auth-session-id']).not.toContain('.');
  });

  it('answers 401 without a session, with junk, and after logout', async () => {
    const before = upstream.hits();
    expect((await httpRequest(`${base}/orders`)).status).toBe(401);
    expect((await httpRequest(`${base}/orders`, { headers: { cookie: '__Host-sid=junk' } })).status).toBe(401);
    const { session, cookies } = await login();
    const cookie = cookiePair(cookies[0] as string);
    expect((await httpRequest(`${base}/orders`, { headers: { cookie } })).status).toBe(200);
    await auth.revoke(session.id);
    expect((await httpRequest(`${base}/orders`, { headers: { cookie } })).status).toBe(401);
    expect(upstream.hits()).toBe(before + 1);
    // The sidecar itself: 401 with WWW-Authenticate and a deletion cookie for the dead session.
    const direct = await httpRequest(`${sidecarUrl}/auth`, { headers: { cookie } });
    expect(direct.status).toBe(401);
    expect(direct.headers['www-authenticate']).toBe('Session');
    expect(direct.headers['set-cookie']?.[0]).toMatch(/^__Host-sid=; .*Max-Age=0/);
  });

  it('strips client-sent identity headers, with and without a session', async () => {
    const forged = {
      'x-auth-user-id': 'admin',
      'x-auth-session-id': 'forged',
      'x-auth-time': '1',
      'x-auth-claim-role': 'root',
    };
    expect((await httpRequest(`${base}/orders`, { headers: forged })).status).toBe(401);
    // A session without the claim: the client's X-Auth-Claim-Role must not survive either.
    const { session, cookies } = await login({ plan: 'free' });
    const answer = await httpRequest(`${base}/orders`, {
      headers: { ...forged, cookie: cookiePair(cookies[0] as string) },
    });
    expect(answer.status).toBe(200);
    const seen = JSON.parse(answer.body).headers;
    expect(seen['x-auth-user-id']).toBe(session.userId);
    expect(seen['x-auth-session-id']).toBe(session.id);
    expect(seen['x-auth-time']).not.toBe('1');
    expect(seen['x-auth-claim-role']).toBeUndefined();
  });

  it('accepts a bearer session token and a bearer session JWT, and refuses the JWT once the session is revoked', async () => {
    const { session, token } = await login();
    const bearer = await httpRequest(`${base}/orders`, { headers: { authorization: `Bearer ${token}` } });
    expect(bearer.status).toBe(200);
    expect(JSON.parse(bearer.body).headers['x-auth-user-id']).toBe(session.userId);
    const issued = await authJwts.issue(session);
    const viaJwt = await httpRequest(`${base}/orders`, { headers: { authorization: `Bearer ${issued.token}` } });
    expect(viaJwt.status).toBe(200);
    expect(JSON.parse(viaJwt.body).headers['x-auth-claim-role']).toBe('admin');
    await auth.revoke(session.id);
    // Strict verification: the store says the session is gone, so the still-unexpired JWT is refused.
    const revoked = await httpRequest(`${base}/orders`, { headers: { authorization: `Bearer ${issued.token}` } });
    expect(revoked.status).toBe(401);
  });

  it('exchanges a live session for a JWT that verifies against the served JWKS', async () => {
    const { session, cookies, token } = await login();
    const answer = await httpRequest(`${sidecarUrl}/token`, {
      method: 'POST',
      headers: { cookie: cookiePair(cookies[0] as string) },
    });
    expect(answer.status).toBe(200);
    expect(answer.headers['cache-control']).toBe('no-store');
    const body = JSON.parse(answer.body);
    expect(body.expiresIn).toBeGreaterThan(0);
    const jwks = JSON.parse((await httpRequest(`${sidecarUrl}/.well-known/jwks.json`)).body);
    expect(jwks.keys).toHaveLength(1);
    for (const member of ['d', 'k', 'p', 'q']) expect(jwks.keys[0]).not.toHaveProperty(member);
    const downstream = createJwtVerifier<{ role: string }>({
      keys: new URL(`${sidecarUrl}/.well-known/jwks.json`),
      issuer: 'https://auth.test',
      audience: 'orders',
    });
    const claims = await downstream.verify(body.jwt);
    expect(claims.sub).toBe(session.userId);
    expect(claims.sid).toBe(session.id);
    expect(claims.role).toBe('admin');
    // A bearer session token works too; a JWT is not exchanged for another; GET is refused.
    const viaToken = await httpRequest(`${sidecarUrl}/token`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(viaToken.status).toBe(200);
    const chained = await httpRequest(`${sidecarUrl}/token`, {
      method: 'POST',
      headers: { authorization: `Bearer ${body.jwt}` },
    });
    expect(chained.status).toBe(401);
    expect((await httpRequest(`${sidecarUrl}/token`)).status).toBe(405);
    const crossSite = await httpRequest(`${sidecarUrl}/token`, {
      method: 'POST',
      headers: { cookie: cookiePair(cookies[0] as string), 'sec-fetch-site': 'cross-site' },
    });
    expect(crossSite.status).toBe(403);
    await auth.revoke(session.id);
    const dead = await httpRequest(`${sidecarUrl}/token`, {
      method: 'POST',
      headers: { cookie: cookiePair(cookies[0] as string) },
    });
    expect(dead.status).toBe(401);
  });

  it('denies while Redis is stopped and allows again after it restarts, with no sidecar restart', async () => {
    const { cookies } = await login();
    const cookie = cookiePair(cookies[0] as string);
    expect((await httpRequest(`${base}/orders`, { headers: { cookie } })).status).toBe(200);
    expect((await httpRequest(`${sidecarUrl}/readyz`)).status).toBe(200);

    await redis.kill();
    const before = upstream.hits();
    for (let i = 0; i < 5; i++) {
      const answer = await httpRequest(`${base}/orders`, { headers: { cookie } });
      // nginx turns the sidecar's 503 into a 500: a deny either way, never the upstream.
      expect(answer.status).toBeGreaterThanOrEqual(500);
    }
    const direct = await httpRequest(`${sidecarUrl}/auth`, { headers: { cookie } });
    expect(direct.status).toBe(503);
    expect(JSON.parse(direct.body).error.code).toBe('STORE_UNAVAILABLE');
    // An outage deletes nothing: no deletion cookie for a session that may be fine.
    expect(direct.headers['set-cookie']).toBeUndefined();
    expect((await httpRequest(`${sidecarUrl}/readyz`)).status).toBe(503);
    expect(upstream.hits()).toBe(before);

    await redis.start();
    const back = await waitFor(
      async () => (await httpRequest(`${base}/orders`, { headers: { cookie } })).status === 200,
      60,
      100,
    );
    expect(back).toBe(true);
    expect((await httpRequest(`${sidecarUrl}/readyz`)).status).toBe(200);
  });
});

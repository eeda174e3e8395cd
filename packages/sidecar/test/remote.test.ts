import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSessionApi, generateApiKey, hashApiKey } from '@org/session-auth-api';
import { toNodeHandler } from '@org/session-auth-api/node';
import {
  createJwtKeySet,
  createJwtVerifier,
  createSessionAuthority,
  createSessionJwt,
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
  'the remote-mode tests',
);

/** How long the sidecar reuses an answer here: the revocation latency under test. */
const CACHE_TTL_MS = 400;

describe.skipIf(!ready)('remote mode: the sidecar asks the session API, through nginx', () => {
  let files: ReturnType<typeof tempDir>;
  let authServer: AuthServer<RedisStore> & { redis: PrivateRedis };
  let auth: AuthServer<RedisStore>['manager'];
  let apiServer: Server;
  let apiPort = 0;
  let apiHandler: ReturnType<typeof toNodeHandler>;
  let apiCalls = 0;
  let sidecar: Sidecar;
  let sidecarUrl = '';
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
  let proxy: RunningNginx;
  let base = '';
  let apiKey = '';

  const startApiServer = async (port: number) => {
    apiServer = createServer((req, res) => {
      apiCalls++;
      void apiHandler(req, res);
    });
    await new Promise<void>((resolve) => apiServer.listen(port, '127.0.0.1', resolve));
    return (apiServer.address() as AddressInfo).port;
  };
  const stopApiServer = () =>
    new Promise<void>((resolve) => {
      apiServer.close(() => resolve());
      apiServer.closeAllConnections();
    });

  beforeAll(async () => {
    authServer = await startRedisAuthServer();
    files = tempDir('remote');
    // The central auth service: its store, its keys, its session API (on loopback, Redis behind it).
    auth = authServer.manager;
    const jwt = createSessionJwt({
      manager: auth,
      keys: createJwtKeySet({ active: await generateSigningKey('ES256') }),
      issuer: 'https://auth.test',
      audience: 'services',
    });
    apiKey = generateApiKey();
    const api = createSessionApi({
      authority: createSessionAuthority({ jwt }),
      callers: [{ id: 'edge', keyHash: await hashApiKey(apiKey) }],
      basePath: '/auth',
      exposeData: (session) => ({ role: session.data.role }),
    });
    apiHandler = toNodeHandler(api);
    apiPort = await startApiServer(0);

    sidecar = await createSidecar({
      mode: 'remote',
      remote: {
        url: `http://127.0.0.1:${apiPort}/auth`,
        callerId: 'edge',
        apiKeyFile: files.file('api-key', `${apiKey}\n`),
        cacheTtlMs: CACHE_TTL_MS,
        timeoutMs: 500,
      },
      jwtCookieName: '__Host-sjwt',
      identity: { claims: ['role'], sessionId: 'id' },
    });
    const listening = await sidecar.listen(0, '127.0.0.1');
    sidecarUrl = listening.url;
    upstream = await startEchoUpstream();
    proxy = await startNginx(nginx as string, { sidecarPort: listening.port, upstreamPort: upstream.port });
    base = `http://127.0.0.1:${proxy.port}`;
  });

  afterAll(async () => {
    await proxy?.stop();
    await upstream?.close();
    await sidecar?.close();
    if (apiServer?.listening) await stopApiServer();
    await authServer?.close();
    files?.remove();
  });

  const login = async (data: Record<string, unknown> = { role: 'admin', internalNote: 'never sent' }) =>
    auth.create({ userId: `user-${Math.random().toString(36).slice(2, 8)}`, data });

  it('allows a live session (cookie or bearer token) and passes the identity upstream', async () => {
    const { session, cookies, token } = await login();
    const answer = await httpRequest(`${base}/orders`, { headers: { cookie: cookiePair(cookies[0] as string) } });
    expect(answer.status, proxy.errorLog()).toBe(200);
    const seen = JSON.parse(answer.body).headers;
    expect(seen['x-auth-user-id']).toBe(session.userId);
    expect(seen['x-auth-session-id']).toBe(session.id);
    expect(seen['x-auth-time']).toBe(String(Math.floor(session.authenticatedAt / 1000)));
    expect(seen['x-auth-claim-role']).toBe('admin');
    expect(JSON.stringify(seen)).not.toContain('never sent');
    const bearer = await httpRequest(`${base}/orders`, { headers: { authorization: `Bearer ${token}` } });
    expect(bearer.status).toBe(200);
    expect(JSON.parse(bearer.body).headers['x-auth-user-id']).toBe(session.userId);
  });

  it('answers 401 without a session, with junk, and strips client-sent identity headers', async () => {
    const before = upstream.hits();
    const forged = { 'x-auth-user-id': 'admin', 'x-auth-claim-role': 'root' };
    expect((await httpRequest(`${base}/orders`, { headers: forged })).status).toBe(401);
    expect((await httpRequest(`${base}/orders`, { headers: { cookie: '__Host-sid=junk' } })).status).toBe(401);
    expect(upstream.hits()).toBe(before);
    const direct = await httpRequest(`${sidecarUrl}/auth`, { headers: { cookie: '__Host-sid=junk' } });
    expect(direct.status).toBe(401);
    expect(JSON.parse(direct.body).error.code).toBe('UNAUTHENTICATED');
    const { session, cookies } = await login({ plan: 'free' });
    const answer = await httpRequest(`${base}/orders`, {
      headers: { ...forged, cookie: cookiePair(cookies[0] as string) },
    });
    expect(answer.status).toBe(200);
    const seen = JSON.parse(answer.body).headers;
    expect(seen['x-auth-user-id']).toBe(session.userId);
    expect(seen['x-auth-claim-role']).toBeUndefined();
  });

  it('caches answers for cacheTtlMs: a revocation is refused once the cache entry ends', async () => {
    const { session, cookies } = await login();
    const cookie = cookiePair(cookies[0] as string);
    const calls = apiCalls;
    expect((await httpRequest(`${base}/orders`, { headers: { cookie } })).status).toBe(200);
    expect((await httpRequest(`${base}/orders`, { headers: { cookie } })).status).toBe(200);
    expect(apiCalls - calls).toBe(1);
    const revokedAt = Date.now();
    await auth.revoke(session.id);
    // Refused within the cache TTL (plus polling slack), never later.
    const refused = await waitFor(
      async () => (await httpRequest(`${base}/orders`, { headers: { cookie } })).status === 401,
      40,
      50,
    );
    expect(refused).toBe(true);
    expect(Date.now() - revokedAt).toBeLessThan(CACHE_TTL_MS + 1000);
  });

  it('accepts a session JWT (bearer or cookie) while its session lives, and refuses it after revocation', async () => {
    const { session, token } = await login();
    const minted = await httpRequest(`${sidecarUrl}/token`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(minted.status).toBe(200);
    const { jwt } = JSON.parse(minted.body);
    // The JWT is the API's: it verifies against the API's JWKS.
    const verifier = createJwtVerifier({
      keys: new URL(`http://127.0.0.1:${apiPort}/auth/.well-known/jwks.json`),
      issuer: 'https://auth.test',
      audience: 'services',
    });
    expect((await verifier.verify(jwt)).sid).toBe(session.id);
    expect((await httpRequest(`${base}/orders`, { headers: { authorization: `Bearer ${jwt}` } })).status).toBe(200);
    expect((await httpRequest(`${base}/orders`, { headers: { cookie: `__Host-sjwt=${jwt}` } })).status).toBe(200);
    await auth.revoke(session.id);
    const refused = await waitFor(
      async () => (await httpRequest(`${base}/orders`, { headers: { authorization: `Bearer ${jwt}` } })).status === 401,
      40,
      50,
    );
    expect(refused).toBe(true);
  });

  it('denies while the session API is down and allows again once it is back, with no sidecar restart', async () => {
    const { cookies } = await login();
    const cookie = cookiePair(cookies[0] as string);
    expect((await httpRequest(`${base}/orders`, { headers: { cookie } })).status).toBe(200);
    expect((await httpRequest(`${sidecarUrl}/readyz`)).status).toBe(200);

    await stopApiServer();
    // Past the cache TTL: nothing cached may stand in for the API.
    await new Promise((r) => setTimeout(r, CACHE_TTL_MS + 50));
    const fresh = await login();
    const before = upstream.hits();
    for (const c of [cookie, cookiePair(fresh.cookies[0] as string)]) {
      const answer = await httpRequest(`${base}/orders`, { headers: { cookie: c } });
      // nginx turns the sidecar's 503 into a 500: a deny either way, never the upstream.
      expect(answer.status).toBeGreaterThanOrEqual(500);
      const direct = await httpRequest(`${sidecarUrl}/auth`, { headers: { cookie: c } });
      expect(direct.status).toBe(503);
      expect(JSON.parse(direct.body).error.code).toBe('STORE_UNAVAILABLE');
    }
    expect(upstream.hits()).toBe(before);
    expect((await httpRequest(`${sidecarUrl}/readyz`)).status).toBe(503);

    await startApiServer(apiPort);
    const back = await waitFor(
      async () => (await httpRequest(`${base}/orders`, { headers: { cookie } })).status === 200,
      60,
      100,
    );
    expect(back).toBe(true);
    expect((await httpRequest(`${sidecarUrl}/readyz`)).status).toBe(200);
  });

  it('a sidecar the API refuses (wrong key) denies with 503, never 200 or a 401 that would log users out', async () => {
    const wrong = await createSidecar({
      mode: 'remote',
      remote: {
        url: `http://127.0.0.1:${apiPort}/auth`,
        callerId: 'edge',
        apiKeyFile: files.file('wrong-key', generateApiKey()),
      },
    });
    try {
      const { url } = await wrong.listen(0, '127.0.0.1');
      const { token } = await login();
      const answer = await httpRequest(`${url}/auth`, { headers: { authorization: `Bearer ${token}` } });
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.body).error.code).toBe('STORE_UNAVAILABLE');
      expect(answer.body).not.toContain(token);
    } finally {
      await wrong.close();
    }
  });

  it('refuses an API key file that is missing or too short with CONFIG_KEY_INVALID', async () => {
    for (const apiKeyFile of [`${files.path}/absent`, files.file('short-key', 'abc')]) {
      await expect(
        createSidecar({ mode: 'remote', remote: { url: 'http://127.0.0.1:9/auth', callerId: 'edge', apiKeyFile } }),
      ).rejects.toMatchObject({ code: 'CONFIG_KEY_INVALID', path: 'remote.apiKeyFile' });
    }
  });
});

import { createServer, type Server } from 'node:http';
import { createSessionManager } from '@org/session-core';
import { createJwtKeySet, createSessionJwt, generateSigningKey } from '@org/session-core/jwt';
import { randomString } from '@org/session-core/testing';
import { RedisRevocationChannel, RedisStore } from '@org/session-store-redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromEnvironment, createSidecar, isSidecarConfigError, parseSidecarConfig } from '../src/index.js';
import type { Sidecar } from '../src/server.js';
import { httpRequest, redisUnreachable, SHARED_REDIS_URL, serviceAvailable } from './support.js';

const REDIS_URL = SHARED_REDIS_URL;
const hasRedis = serviceAvailable(await redisUnreachable(REDIS_URL), 'the revocation tests');

describe('revocation settings from the environment', () => {
  const base = {
    SESSION_SIDECAR_MODE: 'stateless',
    SESSION_SIDECAR_JWT_ISSUER: 'https://auth.test',
    SESSION_SIDECAR_JWT_AUDIENCE: 'orders',
    SESSION_SIDECAR_JWKS_URL: 'http://127.0.0.1:9/jwks.json',
  };

  it('reads the Redis or PostgreSQL channel, and refuses both at once', () => {
    const redis = parseSidecarConfig(
      configFromEnvironment({
        ...base,
        SESSION_SIDECAR_REVOCATION_REDIS_URL: REDIS_URL,
        SESSION_SIDECAR_REVOCATION_CHANNEL: 'auth:revocations',
      }),
    );
    expect(redis.revocation).toEqual({ type: 'redis', url: REDIS_URL, channel: 'auth:revocations' });
    const postgres = parseSidecarConfig(
      configFromEnvironment({ ...base, SESSION_SIDECAR_REVOCATION_POSTGRES_URL: 'postgres://db/auth' }),
    );
    expect(postgres.revocation).toEqual({ type: 'postgres', connectionString: 'postgres://db/auth' });
    let error: unknown = null;
    try {
      configFromEnvironment({
        ...base,
        SESSION_SIDECAR_REVOCATION_REDIS_URL: REDIS_URL,
        SESSION_SIDECAR_REVOCATION_POSTGRES_URL: 'postgres://db/auth',
      });
    } catch (e) {
      error = e;
    }
    expect(isSidecarConfigError(error)).toBe(true);
    expect((error as { code: string }).code).toBe('CONFIG_CONFLICT');
  });
});

describe.skipIf(!hasRedis)('stateless mode subscribed to revocations (Redis pub/sub)', () => {
  const prefix = `test:sidecar-revocation:${randomString(6)}:`;
  const channel = `${prefix}revocations`;
  let store: RedisStore;
  let publisher: RedisRevocationChannel;
  let jwksServer: Server;
  let sidecar: Sidecar;
  let base = '';
  let manager: ReturnType<typeof createSessionManager>;
  let jwts: ReturnType<typeof createSessionJwt>;

  beforeAll(async () => {
    store = new RedisStore({ url: REDIS_URL, prefix });
    publisher = new RedisRevocationChannel({ client: store.client, channel });
    manager = createSessionManager({ store, revocation: { channel: publisher } });
    const keys = createJwtKeySet({ active: await generateSigningKey('ES256') });
    jwts = createSessionJwt({ manager, keys, issuer: 'https://auth.test', audience: 'orders' });
    jwksServer = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(jwts.jwks()));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}/.well-known/jwks.json`;
    sidecar = await createSidecar({
      mode: 'stateless',
      jwt: { issuer: 'https://auth.test', audience: 'orders', jwksUrl },
      revocation: { type: 'redis', url: REDIS_URL, channel },
    });
    base = (await sidecar.listen(0, '127.0.0.1')).url;
    // Health says when the subscription is live.
    for (let i = 0; i < 200; i++) {
      const health = await httpRequest(`${base}/healthz`);
      if (JSON.parse(health.body).revocation === 'up') break;
      await new Promise((r) => setTimeout(r, 10));
    }
  });

  afterAll(async () => {
    await sidecar?.close();
    await new Promise<void>((resolve) => jwksServer?.close(() => resolve()));
    await publisher?.close();
    if (store) {
      for (const key of await store.client.keys(`${prefix}*`)) await store.client.del(key);
      await store.close();
    }
  });

  it('reports the subscription in /healthz', async () => {
    const health = await httpRequest(`${base}/healthz`);
    expect(JSON.parse(health.body)).toEqual({ status: 'ok', revocation: 'up' });
  });

  it('refuses a revoked session within one second, an unrevoked one still passes', async () => {
    const revoked = await manager.create({ userId: `u-${randomString(6)}` });
    const kept = await manager.create({ userId: `u-${randomString(6)}` });
    const revokedJwt = (await jwts.issue(revoked.session)).token;
    const keptJwt = (await jwts.issue(kept.session)).token;
    const ask = async (jwt: string) =>
      (await httpRequest(`${base}/auth`, { headers: { authorization: `Bearer ${jwt}` } })).status;
    expect(await ask(revokedJwt)).toBe(200);
    const started = performance.now();
    await manager.revoke(revoked.session.id);
    let status = 200;
    while (status === 200 && performance.now() - started < 1000) {
      status = await ask(revokedJwt);
      if (status === 200) await new Promise((r) => setTimeout(r, 5));
    }
    const ms = performance.now() - started;
    console.info(`[sidecar] revocation refused by the sidecar after ${ms.toFixed(1)} ms`);
    expect(status).toBe(401);
    expect(ms).toBeLessThan(1000);
    expect(await ask(keptJwt)).toBe(200);
  });

  it('refuses a revocation channel outside stateless mode, and a malformed one', async () => {
    const bad = [
      { mode: 'store', store: { type: 'redis', url: REDIS_URL }, revocation: { type: 'redis', url: REDIS_URL } },
      {
        mode: 'stateless',
        jwt: { issuer: 'x', audience: 'y', jwksUrl: 'http://127.0.0.1:1/j' },
        revocation: { type: 'redis', url: 'http://x' },
      },
      {
        mode: 'stateless',
        jwt: { issuer: 'x', audience: 'y', jwksUrl: 'http://127.0.0.1:1/j' },
        revocation: { type: 'kafka' },
      },
      {
        mode: 'stateless',
        jwt: { issuer: 'x', audience: 'y', jwksUrl: 'http://127.0.0.1:1/j' },
        revocation: { type: 'postgres', connectionString: 'postgres://x', extra: 1 },
      },
    ];
    for (const config of bad) {
      const error = await createSidecar(config as never).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isSidecarConfigError(error)).toBe(true);
    }
  });
});

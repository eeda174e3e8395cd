import { createSessionManager, decodeRevocationNotice, isSessionError, type RevocationEvent } from '@org/session-core';
import {
  createJwtKeySet,
  createJwtVerifier,
  createRevocationList,
  createSessionJwt,
  generateSigningKey,
  type RevocationList,
} from '@org/session-core/jwt';
import { randomString } from '@org/session-core/testing';
import { type Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisRevocationChannel, RedisStore } from '../src/index.js';
import { type RedisServer, startRedisServer } from './servers.js';
import {
  assertServices,
  dropUnder,
  LOCAL_URL,
  localRedis,
  redisBinary,
  redisCluster,
  skipWithout,
  uniquePrefix,
} from './support.js';

const redis = await localRedis();
const cluster = redisCluster();
const ISSUER = 'https://auth.test';

/** Polls `check` every 5 ms until it holds; returns how long that took, or throws after `limitMs`. */
async function until(check: () => boolean | Promise<boolean>, limitMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    if (await check()) return performance.now() - started;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`condition not met within ${limitMs} ms`);
}

async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'accepted';
  } catch (error) {
    if (isSessionError(error)) return error.code;
    throw error;
  }
}

/** The ids of this test's subscriber connections, by their `CLIENT SETNAME`. */
async function subscriberIds(admin: Redis, name: string): Promise<string[]> {
  const list = (await admin.client('LIST')) as string;
  return list
    .split('\n')
    .filter((line) => line.includes(` name=${name} `))
    .map((line) => /\bid=(\d+)/.exec(line)?.[1] as string);
}

describe.skipIf(skipWithout(redis))('Redis revocation channel (pub/sub on the local server)', () => {
  const prefix = uniquePrefix('revocation');
  const channelName = `${prefix}revocations`;
  const connectionName = `revocation-test-${randomString(6)}`;
  let admin: Redis;
  let store: RedisStore;
  const closers: (() => Promise<unknown>)[] = [];

  beforeAll(() => {
    assertServices(redis);
    admin = new Redis(LOCAL_URL);
    store = new RedisStore({ url: LOCAL_URL, prefix });
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });
  afterAll(async () => {
    if (!store) return;
    await dropUnder(store.client, prefix);
    await store.close();
    admin.disconnect();
  });

  async function setup(options: { ttlSeconds?: number; reconnectDelayMs?: number } = {}) {
    const publisher = new RedisRevocationChannel({ client: store.client, channel: channelName });
    const manager = createSessionManager({ store, revocation: { channel: publisher } });
    const keys = createJwtKeySet({ active: await generateSigningKey() });
    const ttlSeconds = options.ttlSeconds ?? 300;
    const jwts = createSessionJwt({
      manager,
      keys,
      issuer: ISSUER,
      audience: 'api',
      ttlSeconds,
      clockToleranceSeconds: 0,
    });
    const events: RevocationEvent[] = [];
    const subscriberChannel = new RedisRevocationChannel({
      url: LOCAL_URL,
      channel: channelName,
      connectionName,
      reconnectDelayMs: options.reconnectDelayMs,
    });
    const list = createRevocationList({
      channel: subscriberChannel,
      retainSeconds: ttlSeconds,
      onEvent: (e) => events.push(e),
    });
    closers.push(
      () => list.close(),
      () => subscriberChannel.close(),
    );
    await list.ready();
    // A downstream service: the public keys only, and the revocation list.
    const verifier = createJwtVerifier({
      keys: createJwtKeySet({ verifyOnly: [keys.active] }),
      issuer: ISSUER,
      audience: 'api',
      maxTokenAgeSeconds: ttlSeconds,
      clockToleranceSeconds: 0,
      revocations: list,
    });
    return { manager, jwts, verifier, list, events };
  }

  it('revoke publishes a notice on the channel, in the wire form', async () => {
    const { manager } = await setup();
    const raw = new Redis(LOCAL_URL);
    closers.push(async () => raw.disconnect());
    const received: string[] = [];
    raw.on('message', (_channel: string, message: string) => received.push(message));
    await raw.subscribe(channelName);
    const { session } = await manager.create({ userId: `u-${randomString(6)}` });
    await manager.revoke(session.id);
    await until(() => received.length === 1, 1000);
    expect(decodeRevocationNotice(received[0])).toMatchObject({ kind: 'session', sid: session.id });
    await manager.revokeAll(session.userId);
    await until(() => received.length === 2, 1000);
    expect(decodeRevocationNotice(received[1])).toMatchObject({ kind: 'user', sub: session.userId, keep: null });
  });

  it('a subscribed verifier refuses a revoked session within one second (measured)', async () => {
    const { manager, jwts, verifier } = await setup();
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const { session } = await manager.create({ userId: `u-${randomString(6)}` });
      const { token } = await jwts.issue(session);
      expect(await outcome(verifier.verify(token))).toBe('accepted');
      const revokedAt = performance.now();
      await manager.revoke(session.id);
      await until(async () => (await outcome(verifier.verify(token))) === 'JWT_REVOKED', 1000);
      delays.push(performance.now() - revokedAt);
    }
    console.info(`[store-redis] revocation reached the verifier in ${delays.map((d) => d.toFixed(1)).join(', ')} ms`);
    expect(Math.max(...delays)).toBeLessThan(1000);
  });

  it('a killed subscriber connection: down event, TTL fallback without failing requests, reconnect, up event', async () => {
    const { manager, jwts, verifier, list, events } = await setup({ ttlSeconds: 2, reconnectDelayMs: 1500 });
    const { session } = await manager.create({ userId: `u-${randomString(6)}` });
    const { token, expiresAt } = await jwts.issue(session);
    const ids = await subscriberIds(admin, connectionName);
    expect(ids).toHaveLength(1);
    await admin.client('KILL', 'ID', ids[0] as string);
    await until(() => list.status === 'down', 1000);
    expect(events.map((e) => e.type)).toEqual(['revocation.channel.up', 'revocation.channel.down']);

    // Revoked while the subscriber is away: the notice is lost to it. The verifier keeps answering
    // (no request fails for the channel) and the JWT lives until its exp: the TTL bound.
    await manager.revoke(session.id);
    expect(await outcome(verifier.verify(token))).toBe('accepted');
    await until(() => list.status === 'up', 3000);
    expect(events.map((e) => e.type)).toEqual([
      'revocation.channel.up',
      'revocation.channel.down',
      'revocation.channel.up',
    ]);
    expect(await outcome(verifier.verify(token))).toBe(Date.now() < expiresAt ? 'accepted' : 'JWT_EXPIRED');
    await until(() => Date.now() >= expiresAt + 1, 3000);
    expect(await outcome(verifier.verify(token))).toBe('JWT_EXPIRED');

    // Subscribed again: the next revocation arrives within a second.
    const next = await manager.create({ userId: `u-${randomString(6)}` });
    const nextJwt = await jwts.issue(next.session);
    expect(await outcome(verifier.verify(nextJwt.token))).toBe('accepted');
    await manager.revoke(next.session.id);
    await until(async () => (await outcome(verifier.verify(nextJwt.token))) === 'JWT_REVOKED', 1000);
  });

  it('a publisher that cannot reach Redis: the revocation stands, publish_failed is reported', async () => {
    const events: RevocationEvent[] = [];
    // A port nothing listens on: publishing fails fast (no offline queue).
    const dead = new RedisRevocationChannel({ url: 'redis://127.0.0.1:1', channel: channelName });
    closers.push(() => dead.close());
    const manager = createSessionManager({ store, revocation: { channel: dead, onEvent: (e) => events.push(e) } });
    const { session } = await manager.create({ userId: `u-${randomString(6)}` });
    expect(await manager.revoke(session.id)).toBe(true);
    expect(events).toEqual([expect.objectContaining({ type: 'revocation.publish_failed', kind: 'session' })]);
  });

  it('refuses bad options with CONFIG_INVALID', () => {
    for (const options of [
      {},
      { url: 'http://x' },
      { url: LOCAL_URL, channel: '' },
      { url: LOCAL_URL, reconnectDelayMs: 0 },
    ]) {
      expect(() => new RedisRevocationChannel(options)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    }
  });
});

describe.skipIf(skipWithout(cluster))('Redis revocation channel on a Redis Cluster', () => {
  let store: RedisStore;
  let list: RevocationList | undefined;
  let channel: RedisRevocationChannel | undefined;

  beforeAll(() => {
    assertServices(cluster);
    store = new RedisStore({ cluster: { nodes: cluster.nodes }, prefix: uniquePrefix('revocation-cluster') });
  });
  afterAll(async () => {
    await list?.close();
    await channel?.close();
    if (!store) return;
    await dropUnder(store.client, store.prefix);
    await store.close();
  });

  it('a notice published through the cluster reaches a subscriber within one second', async () => {
    const channelName = `${store.prefix}revocations`;
    channel = new RedisRevocationChannel({ client: store.client as Cluster, channel: channelName });
    list = createRevocationList({ channel });
    await list.ready();
    const manager = createSessionManager({ store, revocation: { channel } });
    const { session } = await manager.create({ userId: `u-${randomString(6)}` });
    await manager.revoke(session.id);
    const claims = { sid: session.id, sub: session.userId, iat: Math.floor(Date.now() / 1000) };
    const ms = await until(() => (list as RevocationList).isRevoked(claims), 1000);
    expect(ms).toBeLessThan(1000);
  });
});

describe.skipIf(skipWithout(redisBinary()))(
  'Redis revocation channel on a private redis-server: restart and freeze',
  () => {
    let server: RedisServer;
    let pid = 0;

    beforeAll(async () => {
      assertServices(redisBinary());
      server = await startRedisServer();
    });
    afterAll(async () => {
      if (pid) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          // Already gone.
        }
      }
      await server?.destroy();
    });

    async function serverPid(): Promise<number> {
      const probe = new Redis(server.url);
      const info = (await probe.info('server')) as string;
      probe.disconnect();
      return Number(/process_id:(\d+)/.exec(info)?.[1]);
    }

    it('a restarted server: down, then up again with no action, and notices flow', async () => {
      const events: RevocationEvent[] = [];
      const channel = new RedisRevocationChannel({ url: server.url, channel: 'restart-test' });
      const list = createRevocationList({ channel, onEvent: (e) => events.push(e) });
      try {
        await list.ready();
        await server.kill();
        await until(() => list.status === 'down', 2000);
        await server.start();
        await until(() => list.status === 'up', 5000);
        expect(events.map((e) => e.type)).toEqual([
          'revocation.channel.up',
          'revocation.channel.down',
          'revocation.channel.up',
        ]);
        await channel.publish({ kind: 'session', sid: 'after-restart', at: Date.now() });
        await until(() => list.isRevoked({ sid: 'after-restart', sub: 'u', iat: Math.floor(Date.now() / 1000) }), 1000);
      } finally {
        await list.close();
        await channel.close();
      }
    });

    it('a frozen server (SIGSTOP): the heartbeat reports down; thawed (SIGCONT), up again by itself', async () => {
      const events: RevocationEvent[] = [];
      const channel = new RedisRevocationChannel({ url: server.url, channel: 'freeze-test', heartbeatMs: 200 });
      const list = createRevocationList({ channel, onEvent: (e) => events.push(e) });
      try {
        await list.ready();
        pid = await serverPid();
        process.kill(pid, 'SIGSTOP');
        // The TCP connection stays open: only the heartbeat can tell.
        const detected = await until(() => list.status === 'down', 3000);
        console.info(`[store-redis] frozen server detected after ${detected.toFixed(0)} ms (heartbeat 200 ms)`);
        expect(events.at(-1)).toMatchObject({ type: 'revocation.channel.down', reason: 'heartbeat_timeout' });
        process.kill(pid, 'SIGCONT');
        pid = 0;
        await until(() => list.status === 'up', 15_000);
        await channel.publish({ kind: 'session', sid: 'after-thaw', at: Date.now() });
        await until(() => list.isRevoked({ sid: 'after-thaw', sub: 'u', iat: Math.floor(Date.now() / 1000) }), 1000);
      } finally {
        await list.close();
        await channel.close();
      }
    });
  },
);

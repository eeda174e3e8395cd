import {
  createSessionManager,
  decodeRevocationNotice,
  type RevocationEvent,
  type SessionData,
} from '@org/session-core';
import { createRevocationList, type RevocationList } from '@org/session-core/jwt';
import { randomString } from '@org/session-core/testing';
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AnyRedisClient, RedisRevocationChannel, RedisStore } from '../src/index.js';
import { type RedisServer, startRedisServer } from './servers.js';
import {
  assertServices,
  clientKinds,
  connectionIds,
  dropUnder,
  LOCAL_URL,
  localRedis,
  type OpenedClient,
  openClient,
  openClusterClient,
  outcome,
  redisBinary,
  redisCluster,
  revocationSetup,
  skipWithout,
  uniquePrefix,
  until,
} from './support.js';

const redis = await localRedis();
const cluster = redisCluster();
const binary = redisBinary();

describe.skipIf(skipWithout(redis)).each(clientKinds)('Redis revocation channel through %s (local server)', (kind) => {
  const prefix = uniquePrefix(`revocation-${kind.replace(/\W/g, '')}`);
  const channelName = `${prefix}revocations`;
  const connectionName = `revocation-test-${randomString(6)}`;
  let admin: Redis;
  // The issuing app's client (its store publishes through it) and a downstream service's client.
  let issuing: OpenedClient;
  let downstream: OpenedClient;
  let store: RedisStore<SessionData, AnyRedisClient>;
  const closers: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    assertServices(redis);
    admin = new Redis(LOCAL_URL);
    issuing = await openClient(kind, LOCAL_URL);
    downstream = await openClient(kind, LOCAL_URL);
    store = new RedisStore({ client: issuing.client, prefix });
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });
  afterAll(async () => {
    if (admin) await dropUnder(admin, prefix);
    await issuing?.close();
    await downstream?.close();
    admin?.disconnect();
  });

  /** Publishing on the store's client, subscribing on the downstream client: both of this kind. */
  function setup(options: { ttlSeconds?: number; reconnectDelayMs?: number } = {}) {
    const subscriber = new RedisRevocationChannel({
      client: downstream.client,
      channel: channelName,
      connectionName,
      reconnectDelayMs: options.reconnectDelayMs,
    });
    closers.push(() => subscriber.close());
    return revocationSetup({
      store,
      publisher: new RedisRevocationChannel({ client: store.client, channel: channelName }),
      subscriber,
      ttlSeconds: options.ttlSeconds,
      defer: (close) => closers.push(close),
    });
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
    await until(() => received.length === 1, 5000);
    expect(decodeRevocationNotice(received[0])).toMatchObject({ kind: 'session', sid: session.id });
    await manager.revokeAll(session.userId);
    await until(() => received.length === 2, 5000);
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
    console.info(
      `[store-redis] ${kind}: revocation reached the verifier in ${delays.map((d) => d.toFixed(1)).join(', ')} ms`,
    );
    expect(Math.max(...delays)).toBeLessThan(1000);
  });

  it('a killed subscriber connection: down event, TTL fallback without failing requests, reconnect, up event', async () => {
    const { manager, jwts, verifier, list, events } = await setup({ ttlSeconds: 2, reconnectDelayMs: 1500 });
    const { session } = await manager.create({ userId: `u-${randomString(6)}` });
    const { token, expiresAt } = await jwts.issue(session);
    const ids = await connectionIds(admin, connectionName);
    expect(ids).toHaveLength(1);
    await admin.client('KILL', 'ID', ids[0] as string);
    await until(() => list.status === 'down', 5000);
    expect(events.map((e) => e.type)).toEqual(['revocation.channel.up', 'revocation.channel.down']);

    // Revoked while the subscriber is away: the notice is lost to it. The verifier keeps answering
    // (no request fails for the channel) and the JWT lives until its exp: the TTL bound.
    await manager.revoke(session.id);
    expect(await outcome(verifier.verify(token))).toBe('accepted');
    await until(() => list.status === 'up', 10_000);
    expect(events.map((e) => e.type)).toEqual([
      'revocation.channel.up',
      'revocation.channel.down',
      'revocation.channel.up',
    ]);
    // One connection again, never two.
    expect(await connectionIds(admin, connectionName)).toHaveLength(1);
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

  it('closing the channel ends its subscription connections', async () => {
    await setup();
    expect(await connectionIds(admin, connectionName)).toHaveLength(1);
    for (const close of closers.splice(0).reverse()) await close();
    await until(async () => (await connectionIds(admin, connectionName)).length === 0, 5000);
  });
});

describe.skipIf(skipWithout(redis))('Redis revocation channel: publishing failures and options', () => {
  const prefix = uniquePrefix('revocation-options');
  let store: RedisStore;
  beforeAll(() => {
    assertServices(redis);
    store = new RedisStore({ url: LOCAL_URL, prefix });
  });
  afterAll(async () => {
    if (!store) return;
    await dropUnder(store.client, prefix);
    await store.close();
  });

  it('a publisher that cannot reach Redis: the revocation stands, publish_failed is reported', async () => {
    const events: RevocationEvent[] = [];
    // A port nothing listens on: publishing fails fast (no offline queue).
    const dead = new RedisRevocationChannel({ url: 'redis://127.0.0.1:1', channel: `${prefix}revocations` });
    try {
      const manager = createSessionManager({ store, revocation: { channel: dead, onEvent: (e) => events.push(e) } });
      const { session } = await manager.create({ userId: `u-${randomString(6)}` });
      expect(await manager.revoke(session.id)).toBe(true);
      expect(events).toEqual([expect.objectContaining({ type: 'revocation.publish_failed', kind: 'session' })]);
    } finally {
      await dead.close();
    }
  });

  it('refuses bad options with CONFIG_INVALID', () => {
    for (const options of [
      {},
      { url: 'http://x' },
      { url: LOCAL_URL, channel: '' },
      { url: LOCAL_URL, reconnectDelayMs: 0 },
      { client: {} as never },
      { client: store.client, url: LOCAL_URL },
    ]) {
      expect(() => new RedisRevocationChannel(options)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    }
  });
});

describe.skipIf(skipWithout(cluster)).each(clientKinds)(
  'Redis revocation channel on a Redis Cluster through %s',
  (kind) => {
    let opened: OpenedClient | undefined;
    let store: RedisStore<SessionData, AnyRedisClient>;
    let inspector: Cluster;
    let list: RevocationList | undefined;
    let channel: RedisRevocationChannel | undefined;

    beforeAll(async () => {
      assertServices(cluster);
      inspector = new Cluster(cluster.nodes);
      opened = await openClusterClient(kind, cluster.nodes);
      store = new RedisStore({ client: opened.client, prefix: uniquePrefix('revocation-cluster') });
    });
    afterAll(async () => {
      await list?.close();
      await channel?.close();
      if (store) await dropUnder(inspector, store.prefix);
      inspector?.disconnect();
      await opened?.close();
    });

    it('a notice published through the cluster reaches a subscriber within one second', async () => {
      const channelName = `${store.prefix}revocations`;
      channel = new RedisRevocationChannel({ client: store.client, channel: channelName });
      list = createRevocationList({ channel });
      await list.ready();
      const manager = createSessionManager({ store, revocation: { channel } });
      for (let i = 0; i < 3; i++) {
        const { session } = await manager.create({ userId: `u-${randomString(6)}` });
        await manager.revoke(session.id);
        const claims = { sid: session.id, sub: session.userId, iat: Math.floor(Date.now() / 1000) };
        const ms = await until(() => (list as RevocationList).isRevoked(claims), 1000);
        expect(ms).toBeLessThan(1000);
      }
    });
  },
);

describe.skipIf(skipWithout(binary)).each(clientKinds)(
  'Redis revocation channel through %s on a private redis-server: restart and freeze',
  (kind) => {
    let server: RedisServer;
    let opened: OpenedClient | undefined;
    let pid = 0;

    beforeAll(async () => {
      assertServices(binary);
      server = await startRedisServer();
      opened = await openClient(kind, server.url);
    });
    afterAll(async () => {
      if (pid) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          // Already gone.
        }
      }
      await opened?.close();
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
      const channel = new RedisRevocationChannel({ client: (opened as OpenedClient).client, channel: 'restart-test' });
      const list = createRevocationList({ channel, onEvent: (e) => events.push(e) });
      try {
        await list.ready();
        await server.kill();
        // Generous bounds: reconnection is not what is timed here, and the machine may be loaded.
        await until(() => list.status === 'down', 5000);
        await server.start();
        await until(() => list.status === 'up', 15_000);
        expect(events.map((e) => e.type)).toEqual([
          'revocation.channel.up',
          'revocation.channel.down',
          'revocation.channel.up',
        ]);
        // The app's client reconnects on its own schedule: publish once it is back.
        await until(() => (opened as OpenedClient).ready(), 10_000);
        await channel.publish({ kind: 'session', sid: 'after-restart', at: Date.now() });
        await until(() => list.isRevoked({ sid: 'after-restart', sub: 'u', iat: Math.floor(Date.now() / 1000) }), 5000);
      } finally {
        await list.close();
        await channel.close();
      }
    });

    it('a frozen server (SIGSTOP): the heartbeat reports down; thawed (SIGCONT), up again by itself', async () => {
      const events: RevocationEvent[] = [];
      const channel = new RedisRevocationChannel({
        client: (opened as OpenedClient).client,
        channel: 'freeze-test',
        heartbeatMs: 200,
      });
      const list = createRevocationList({ channel, onEvent: (e) => events.push(e) });
      try {
        await list.ready();
        pid = await serverPid();
        process.kill(pid, 'SIGSTOP');
        // The TCP connection stays open: only the heartbeat can tell.
        const detected = await until(() => list.status === 'down', 3000);
        console.info(
          `[store-redis] ${kind}: frozen server detected after ${detected.toFixed(0)} ms (heartbeat 200 ms)`,
        );
        expect(events.at(-1)).toMatchObject({ type: 'revocation.channel.down', reason: 'heartbeat_timeout' });
        process.kill(pid, 'SIGCONT');
        pid = 0;
        await until(() => list.status === 'up', 15_000);
        await until(() => (opened as OpenedClient).ready(), 10_000);
        await channel.publish({ kind: 'session', sid: 'after-thaw', at: Date.now() });
        await until(() => list.isRevoked({ sid: 'after-thaw', sub: 'u', iat: Math.floor(Date.now() / 1000) }), 5000);
      } finally {
        await list.close();
        await channel.close();
      }
    });
  },
);

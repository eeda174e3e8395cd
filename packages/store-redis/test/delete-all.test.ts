import { createSessionManager, isSessionError } from '@org/session-core';
import { createTestClock, randomString, refreshFamilyFixture } from '@org/session-core/testing';
import { type Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore, type RedisStoreOptions } from '../src/index.js';
import { freePort } from './servers.js';
import {
  assertServices,
  dropUnder,
  keysUnder,
  LOCAL_URL,
  localRedis,
  redisCluster,
  skipWithout,
  uniquePrefix,
} from './support.js';

const local = await localRedis();
const cluster = redisCluster();
const _MINUTE = 60_000;
const clock = createTestClock(Date.now());

const family = (userId: string) => refreshFamilyFixture(clock.now(), { userId });

/** Sessions (with their user indexes) and refresh families for `users` users. */
async function populate(store: RedisStore, users: number, perUser: number) {
  const sessions = createSessionManager({ store, clock });
  const issued = [];
  for (let u = 0; u < users; u++) {
    const userId = `user-${randomString(9)}`;
    for (let i = 0; i < perUser; i++) issued.push(await sessions.create({ userId }));
    await store.createRefreshFamily(family(userId), clock.now());
  }
  return { sessions, issued };
}

describe('deleteAll configuration and outage', () => {
  it('refuses a batch size that is not a positive integer', async () => {
    const store = new RedisStore({ url: LOCAL_URL, prefix: uniquePrefix('batch') });
    try {
      for (const batchSize of [0, -1, 1.5, Number.NaN]) {
        const error = await store.deleteAll({ batchSize }).catch((e: unknown) => e);
        expect(isSessionError(error, 'CONFIG_INVALID')).toBe(true);
      }
    } finally {
      await store.close();
    }
  });

  it('rejects with STORE_UNAVAILABLE when the server is unreachable', async () => {
    const store = new RedisStore({ url: `redis://127.0.0.1:${await freePort()}`, commandTimeoutMs: 300 });
    try {
      const error = await store.deleteAll().catch((e: unknown) => e);
      expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
    } finally {
      await store.close();
    }
  });
});

describe.skipIf(skipWithout(local))('deleteAll on one Redis server', () => {
  let redis: Redis;
  const opened: RedisStore[] = [];
  const open = (options: RedisStoreOptions) => {
    const store = new RedisStore(options);
    opened.push(store);
    return store;
  };

  beforeAll(() => {
    assertServices(local);
    redis = new Redis(LOCAL_URL);
  });
  afterAll(async () => {
    for (const store of opened) {
      await dropUnder(redis, store.prefix);
      await store.close();
    }
    redis?.disconnect();
  });

  it('deletes every key of its layout in SCAN rounds, returns the session count, and keeps keys of other shapes', async () => {
    const store = open({ url: LOCAL_URL, prefix: uniquePrefix('delete-all') });
    const { sessions, issued } = await populate(store, 3, 3);
    const foreign = [
      `${store.prefix}other`,
      `${store.prefix}s:{unclosed`,
      `${store.prefix}s:{a}{b}`,
      `${store.prefix}next:s:{${randomString(16)}}`,
      `${store.prefix}next:u:{someone}`,
    ];
    for (const key of foreign) await redis.set(key, 'not ours');

    // Rounds of two keys: many SCAN calls, each followed by its deletions.
    expect(await store.deleteAll({ batchSize: 2 })).toBe(issued.length);
    expect((await keysUnder(redis, store.prefix)).sort()).toEqual([...foreign].sort());
    for (const { token } of issued) expect((await sessions.validateToken(token)).status).toBe('invalid');
    expect(await store.deleteAll()).toBe(0);
    for (const key of foreign) await redis.del(key);
  });

  it('escapes glob characters in its prefix: keys that only match the unescaped pattern survive', async () => {
    const base = uniquePrefix('glob');
    const store = open({ url: LOCAL_URL, prefix: `${base}g*?[a]\\:` });
    await populate(store, 1, 2);
    // Matches `<base>g*?[a]\:*` read as a pattern, but is not under the literal prefix.
    const lookalike = `${base}gXYa:s:{${randomString(16)}}`;
    await redis.set(lookalike, 'not ours');
    expect(await store.deleteAll()).toBe(2);
    expect(await keysUnder(redis, base)).toEqual([lookalike]);
    await redis.del(lookalike);
  });

  it("honours the client's own keyPrefix: deletes its keys and leaves a same-prefix store without it alone", async () => {
    const prefix = uniquePrefix('key-prefix');
    const keyPrefix = `kp:${randomString(6)}:`;
    const prefixedClient = new Redis(LOCAL_URL, { keyPrefix });
    try {
      const prefixed = new RedisStore({ client: prefixedClient, prefix });
      const plain = open({ url: LOCAL_URL, prefix });
      const mine = await populate(prefixed, 2, 2);
      const theirs = await populate(plain, 1, 1);
      expect(await keysUnder(redis, `${keyPrefix}${prefix}`)).not.toEqual([]);

      expect(await prefixed.deleteAll({ batchSize: 3 })).toBe(mine.issued.length);
      expect(await keysUnder(redis, `${keyPrefix}${prefix}`)).toEqual([]);
      for (const { session } of theirs.issued) expect(await plain.get(session.id, clock.now())).not.toBeNull();
      expect(await plain.deleteAll()).toBe(theirs.issued.length);
    } finally {
      await dropUnder(redis, keyPrefix);
      prefixedClient.disconnect();
    }
  });
});

describe.skipIf(skipWithout(cluster))('deleteAll on a Redis Cluster', () => {
  let store: RedisStore;
  let neighbour: RedisStore;

  beforeAll(() => {
    assertServices(cluster);
    store = new RedisStore({ cluster: { nodes: cluster.nodes }, prefix: uniquePrefix('cluster-delete-all') });
    neighbour = new RedisStore({ cluster: { nodes: cluster.nodes }, prefix: `${store.prefix}next:` });
  });
  afterAll(async () => {
    for (const s of [neighbour, store]) {
      if (!s) continue;
      await dropUnder(s.client, s.prefix);
      await s.close();
    }
  });

  it('scans every master, deletes one key per DEL, and leaves a neighbouring prefix alone', async () => {
    const { sessions, issued } = await populate(store, 4, 5);
    const kept = await populate(neighbour, 1, 3);
    const client = store.client as Cluster;
    const slots = await Promise.all(
      issued.map((s) => client.cluster('KEYSLOT', store.sessionKey(s.session.id)) as Promise<number>),
    );
    // Twenty random ids on three masters: the keys to delete live on several of them.
    expect(new Set(slots.map((slot) => client.slots[slot]?.[0])).size).toBeGreaterThan(1);

    expect(await store.deleteAll({ batchSize: 5 })).toBe(issued.length);
    const left = await keysUnder(client, store.prefix);
    expect(left.every((key) => key.startsWith(neighbour.prefix))).toBe(true);
    for (const { token } of issued) expect((await sessions.validateToken(token)).status).toBe('invalid');
    for (const { token } of kept.issued) expect((await kept.sessions.validateToken(token)).status).toBe('valid');
    expect(await neighbour.deleteAll()).toBe(kept.issued.length);
    expect(await keysUnder(client, store.prefix)).toEqual([]);
  });

  it('works on a cluster client that has not connected yet', async () => {
    const fresh = new RedisStore({ cluster: { nodes: cluster.nodes }, prefix: store.prefix });
    try {
      expect(await fresh.deleteAll()).toBe(0);
      const { issued } = await populate(fresh, 1, 2);
      const again = new RedisStore({ cluster: { nodes: cluster.nodes }, prefix: store.prefix });
      try {
        expect(await again.deleteAll()).toBe(issued.length);
      } finally {
        await again.close();
      }
    } finally {
      await fresh.close();
    }
  });
});

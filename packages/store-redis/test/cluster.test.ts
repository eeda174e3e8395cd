import { createSessionManager, isSessionError, type RefreshFamilyRecord, type SessionData } from '@org/session-core';
import { createTestClock, hashSecret, randomString, refreshFamilyFixture } from '@org/session-core/testing';
import { Cluster } from 'ioredis';
import { Cluster as Cluster6 } from 'ioredis6';
import { createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnyRedisClient, RedisStore } from '../src/index.js';
import { assertServices, dropUnder, redisCluster, skipWithout, uniquePrefix } from './support.js';

const cluster = redisCluster();

/** A store on the test cluster through each client library, and how to let go of it. */
type Opened = { store: RedisStore<SessionData, AnyRedisClient>; end: () => Promise<void> };
const clients: [string, () => Promise<Opened>][] = [
  [
    'ioredis 5, opened by the store',
    async () => {
      const store = new RedisStore({ cluster: { nodes: cluster.nodes }, prefix: uniquePrefix('cluster') });
      return { store, end: () => store.close() };
    },
  ],
  [
    'ioredis 6',
    async () => {
      const client = new Cluster6(cluster.nodes, { enableOfflineQueue: false });
      client.on('error', () => {});
      // Typed against ioredis 5 here, where both majors are installed; an app has one.
      const store = new RedisStore({ client: client as unknown as AnyRedisClient, prefix: uniquePrefix('cluster6') });
      return { store, end: async () => client.disconnect() };
    },
  ],
  [
    'node-redis 5',
    async () => {
      const client = createCluster({
        rootNodes: cluster.nodes.map((node) => ({ url: `redis://${node.host}:${node.port}` })),
        defaults: { disableOfflineQueue: true },
      });
      client.on('error', () => {});
      await client.connect();
      const store = new RedisStore({ client, prefix: uniquePrefix('cluster-node-redis') });
      return { store, end: () => client.close() };
    },
  ],
];

describe.skipIf(skipWithout(cluster)).each(clients)(
  'Redis Cluster through %s: one user, many slots',
  (_label, open) => {
    let store: RedisStore<SessionData, AnyRedisClient>;
    let opened: Opened | undefined;
    // Slot lookups and clean-ups go through an ioredis connection of the tests' own.
    let inspector: Cluster;
    const clock = createTestClock(Date.now());

    beforeAll(async () => {
      assertServices(cluster);
      inspector = new Cluster(cluster.nodes);
      opened = await open();
      store = opened.store;
    });
    afterAll(async () => {
      if (opened) {
        await dropUnder(inspector, store.prefix);
        await opened.end();
      }
      inspector?.disconnect();
    });

    it("spreads one user's sessions over several masters, and lists and revokes them without cross-slot commands", async () => {
      const sessions = createSessionManager({ store, clock });
      const userId = `user-${randomString(9)}`;
      const issued = await Promise.all(Array.from({ length: 12 }, () => sessions.create({ userId })));

      const client = inspector;
      const slots = await Promise.all(
        issued.map((s) => client.cluster('KEYSLOT', store.sessionKey(s.session.id)) as Promise<number>),
      );
      // client.slots maps each slot to its nodes, master first.
      const owners = new Set(slots.map((slot) => client.slots[slot]?.[0]));
      // Twelve random ids on three masters: several masters hold this user's sessions.
      expect(owners.size).toBeGreaterThan(1);

      expect((await sessions.list(userId)).map((s) => s.id).sort()).toEqual(issued.map((s) => s.session.id).sort());
      const keep = issued[0]?.session.id as string;
      expect(await sessions.revokeAll(userId, { except: keep })).toBe(11);
      expect((await sessions.list(userId)).map((s) => s.id)).toEqual([keep]);
      for (const s of issued.slice(1)) expect((await sessions.validateToken(s.token)).session).toBeNull();
    });

    it('parallel rotations of one session have exactly one winner', async () => {
      const sessions = createSessionManager({ store, clock });
      const issued = await sessions.create({ userId: `user-${randomString(9)}` });
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => sessions.rotate(issued.session)));
      const winners = results.filter((r) => r.status === 'fulfilled');
      expect(winners).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'rejected') expect(isSessionError(r.reason, 'SESSION_NOT_FOUND')).toBe(true);
      }
      expect((await sessions.validateToken(issued.token)).session).toBeNull();
      expect(await sessions.list(issued.session.userId)).toHaveLength(1);
    });

    it('parallel touches and updates of one session: one winner per version, none lost', async () => {
      const sessions = createSessionManager({ store, clock });
      const issued = await sessions.create({ userId: `user-${randomString(9)}`, data: { n: 0 } });
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => sessions.update(issued.session, { n: i + 1 })),
      );
      const fulfilled = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i + 1] : []));
      expect(fulfilled).toHaveLength(1);
      const stored = await store.get(issued.session.id, clock.now());
      expect(stored?.data).toEqual({ n: fulfilled[0] });
      expect(stored?.version).toBe(2);
    });

    it('parallel refresh rotations of one family have exactly one winner, and a revoked family stays readable', async () => {
      const now = clock.now();
      const family = refreshFamilyFixture(now);
      await store.createRefreshFamily(family, now);
      const successors = Array.from({ length: 30 }, (_, i) => hashSecret(`successor-${i}`));
      const results = await Promise.all(
        successors.map((currentHash) =>
          store.updateRefreshFamily(
            {
              ...family,
              generation: 2,
              currentHash,
              previousHash: family.currentHash,
              rotatedAt: now,
              lastUsedAt: now,
            },
            1,
            now,
          ),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const stored = await store.getRefreshFamily(family.id, now);
      expect(stored?.currentHash).toBe(successors[results.indexOf(true)]);

      const revoked = { ...(stored as RefreshFamilyRecord), generation: 3, revokedAt: now };
      expect(await store.updateRefreshFamily(revoked, 2, now)).toBe(true);
      expect(await store.getRefreshFamily(family.id, now)).toEqual(revoked);
    });
  },
);

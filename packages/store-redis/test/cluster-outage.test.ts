import { createSessionManager, isSessionError, type SessionData } from '@org/session-core';
import { createTestClock, randomString } from '@org/session-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnyRedisClient, RedisStore } from '../src/index.js';
import { clusterInfo, type RedisClusterServers, slotOwners, startRedisCluster, waitFor, withNode } from './servers.js';
import { assertServices, openClusterClient, redisBinary, skipWithout, uniquePrefix } from './support.js';

const binary = redisBinary();

/**
 * Who holds the Cluster connection: the store (an ioredis 5 `Cluster` it opens from `cluster`) or the
 * app (an ioredis 6 `Cluster`, a node-redis `createCluster()`), each failing fast while disconnected,
 * and a node-redis `createCluster()` at its default, with its offline queue on.
 */
const holders = [
  'the store (ioredis 5 from `cluster`)',
  'ioredis 6',
  'node-redis 5',
  'node-redis 5, offline queue on',
] as const;
type Holder = (typeof holders)[number];

async function openStore(
  holder: Holder,
  nodes: { host: string; port: number }[],
): Promise<{ store: RedisStore<SessionData, AnyRedisClient>; close: () => Promise<void> }> {
  const prefix = uniquePrefix('cluster-outage');
  if (holder === 'the store (ioredis 5 from `cluster`)') {
    const store = new RedisStore({ cluster: { nodes }, prefix });
    return { store, close: () => store.close() };
  }
  const opened =
    holder === 'node-redis 5, offline queue on'
      ? await openClusterClient('node-redis 5', nodes, { offlineQueue: true })
      : await openClusterClient(holder, nodes);
  return { store: new RedisStore({ client: opened.client, prefix }), close: opened.close };
}

/** What one call answered: the session id it returned (or null), or the error code it threw. */
async function answer(call: () => Promise<{ id: string } | null>): Promise<string> {
  try {
    const record = await call();
    return record ? `session ${record.id}` : 'no session';
  } catch (error) {
    return isSessionError(error) ? error.code : `other error: ${String(error)}`;
  }
}

/**
 * A new session on `store`, already copied to its slot's one replica, which may not take over
 * until the test says so (the fault then lasts as long as the test needs); the slot's master, that
 * replica and a third node that stays up.
 */
async function sessionOnReplicatedSlot(
  store: RedisStore<SessionData, AnyRedisClient>,
  cluster: RedisClusterServers,
  clock: ReturnType<typeof createTestClock>,
) {
  const sessions = createSessionManager({ store, clock });
  const issued = await sessions.create({ userId: `user-${randomString(9)}` });
  const key = store.sessionKey(issued.session.id);
  const seed = cluster.alive()[0] as number;
  const slot = (await withNode(seed, (c) => c.cluster('KEYSLOT', key))) as number;
  const { master, replicas } = await slotOwners(seed, slot);
  expect(replicas).toHaveLength(1);
  const replica = replicas[0] as number;
  const survivor = cluster.alive().find((port) => port !== master && port !== replica) as number;
  // Replication is asynchronous: the replica must hold the session before its master fails.
  const replicated = await waitFor(
    () =>
      withNode(replica, async (c) => {
        await c.call('READONLY');
        return (await c.exists(key)) === 1;
      }).catch(() => false),
    100,
    100,
  );
  expect(replicated).toBe(true);
  await withNode(replica, (c) => c.config('SET', 'cluster-replica-no-failover', 'yes'));
  return { sessions, issued, id: issued.session.id, slot, master, replica, survivor };
}

/**
 * A private cluster (1.5 s node timeout) and a store on it through `holder`, for one describe
 * block: started before its tests, and closed after them (a node left frozen is thawed first).
 */
function clusterWithStore(holder: Holder) {
  const state = {
    cluster: undefined as unknown as RedisClusterServers,
    store: undefined as unknown as RedisStore<SessionData, AnyRedisClient>,
    close: undefined as (() => Promise<void>) | undefined,
    frozen: undefined as number | undefined,
  };
  beforeAll(async () => {
    assertServices(binary);
    state.cluster = await startRedisCluster({ nodeTimeoutMs: 1500 });
    ({ store: state.store, close: state.close } = await openStore(holder, state.cluster.nodes));
  }, 45_000);
  afterAll(async () => {
    if (state.frozen !== undefined) state.cluster.thaw(state.frozen);
    await state.close?.();
    await state.cluster?.destroy();
  });
  return state;
}

describe.skipIf(skipWithout(binary)).each(holders)(
  'a Redis Cluster master is killed and its replica takes over; client: %s',
  (holder) => {
    const fixture = clusterWithStore(holder);
    const clock = createTestClock(Date.now());

    it('fails closed with STORE_UNAVAILABLE while the slot has no master, then serves the session from the promoted replica', async () => {
      const { store, cluster } = fixture;
      const { sessions, issued, id, slot, master, replica, survivor } = await sessionOnReplicatedSlot(
        store,
        cluster,
        clock,
      );
      expect((await sessions.validateToken(issued.token)).status).toBe('valid');

      await cluster.kill(master);

      // 1. No master for the slot: every read fails closed, never "no session" and never another error.
      const during: string[] = [];
      const clusterDown = async () => {
        during.push(await answer(() => store.get(id, clock.now())));
        const result = await sessions.validateToken(issued.token);
        during.push(result.status === 'unavailable' ? (result.error?.code ?? 'no code') : `status ${result.status}`);
        return /cluster_state:fail/.test(await clusterInfo(survivor));
      };
      // Bounded (~30 s at most): the survivors mark the cluster failed after the 1.5 s node timeout.
      expect(await waitFor(clusterDown, 100, 200)).toBe(true);
      // Once more with the cluster marked failed (CLUSTERDOWN from every master).
      await clusterDown();
      expect(during.length).toBeGreaterThanOrEqual(4);
      expect(new Set(during)).toEqual(new Set(['STORE_UNAVAILABLE']));
      const login = await answer(async () => (await sessions.create({ userId: issued.session.userId })).session);
      expect(login).toBe('STORE_UNAVAILABLE');

      // 2. The replica may take over now. Meanwhile a read returns the right session or fails closed.
      await withNode(replica, (c) => c.config('SET', 'cluster-replica-no-failover', 'no'));
      const failover: string[] = [];
      const failedOver = async () => {
        failover.push(await answer(() => store.get(id, clock.now())));
        return /cluster_state:ok/.test(await clusterInfo(survivor));
      };
      expect(await waitFor(failedOver, 150, 200)).toBe(true);
      expect((await slotOwners(survivor, slot)).master).toBe(replica);

      // The same store object, with no restart, finds the new master (bounded wait for its client).
      const serves = async () => {
        const got = await answer(() => store.get(id, clock.now()));
        failover.push(got);
        return got === `session ${id}`;
      };
      expect(await waitFor(serves, 100, 200)).toBe(true);
      for (const got of failover) expect([`session ${id}`, 'STORE_UNAVAILABLE']).toContain(got);

      const after = await sessions.validateToken(issued.token);
      expect(after.status).toBe('valid');
      expect(after.session?.id).toBe(id);
      const fresh = await sessions.create({ userId: issued.session.userId });
      expect((await sessions.validateToken(fresh.token)).status).toBe('valid');
      expect((await sessions.list(issued.session.userId)).map((s) => s.id).sort()).toEqual(
        [id, fresh.session.id].sort(),
      );
    }, 60_000);
  },
);

describe.skipIf(skipWithout(binary)).each(holders)(
  'a Redis Cluster master freezes (SIGSTOP: its connections stay open, it answers nothing) and its replica takes over; client: %s',
  (holder) => {
    const fixture = clusterWithStore(holder);
    const clock = createTestClock(Date.now());

    it('times out while no master answers, then serves the session from the promoted replica while the old master is still frozen', async () => {
      const { store, cluster } = fixture;
      const { sessions, issued, id, slot, master, replica, survivor } = await sessionOnReplicatedSlot(
        store,
        cluster,
        clock,
      );

      cluster.freeze(master);
      fixture.frozen = master;
      // 1. The master holds its connections and answers nothing: each read ends in the store's own
      // deadline, failing closed.
      const during: string[] = [];
      for (let i = 0; i < 3; i++) during.push(await answer(() => store.get(id, clock.now())));
      expect(new Set(during)).toEqual(new Set(['STORE_UNAVAILABLE']));

      // 2. The replica takes over; the frozen node never says so (no MOVED, no dropped connection).
      await withNode(replica, (c) => c.config('SET', 'cluster-replica-no-failover', 'no'));
      const promoted = async () =>
        /cluster_state:ok/.test(await clusterInfo(survivor)) && (await slotOwners(survivor, slot)).master === replica;
      expect(await waitFor(promoted, 150, 200)).toBe(true);

      // 3. The same store finds the new master by itself, the old one still frozen (bounded wait).
      const after: string[] = [];
      const serves = async () => {
        const got = await answer(() => store.get(id, clock.now()));
        after.push(got);
        return got === `session ${id}`;
      };
      expect(await waitFor(serves, 60, 100), `answers after the failover: ${after.join(', ')}`).toBe(true);
      for (const got of after) expect([`session ${id}`, 'STORE_UNAVAILABLE']).toContain(got);
      expect((await sessions.validateToken(issued.token)).status).toBe('valid');
      const fresh = await sessions.create({ userId: issued.session.userId });
      expect((await sessions.validateToken(fresh.token)).status).toBe('valid');
    }, 90_000);
  },
);

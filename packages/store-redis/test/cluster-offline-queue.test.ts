import { createSessionManager, isSessionError, type SessionData, type SessionError } from '@org/session-core';
import { createTestClock, randomString } from '@org/session-core/testing';
import { createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keySlot } from '../src/client.js';
import { type AnyRedisClient, RedisStore } from '../src/index.js';
import {
  clusterInfo,
  type RedisClusterServers,
  slotOwners,
  startProxy,
  startRedisCluster,
  type TcpProxy,
  waitFor,
  withNode,
} from './servers.js';
import { assertServices, redisBinary, skipWithout, uniquePrefix } from './support.js';

const binary = redisBinary();

/** The store's bound on each operation here. */
const DEADLINE_MS = 1000;
/**
 * How long past its deadline an operation may take to settle before it counts as hung: the store's
 * deadline timer ticks every eighth of it, and the 2-core test host may be loaded.
 */
const HANG_MS = DEADLINE_MS + 1500;
/**
 * A node that refuses connections is known at once: a call on its slot must not wait for the
 * deadline (nor sit in the client's offline queue meanwhile, to run once the node is back).
 */
const AT_ONCE_MS = 500;

/** What one call answered: its value, or the code and reason of the `SessionError` it threw. */
interface Answer {
  answer: string;
  ms: number;
}

/** Answers by operation name, in the order they came. */
type Answers = Map<string, Answer[]>;

function note(answers: Answers, name: string, got: Answer): void {
  const list = answers.get(name);
  if (list) list.push(got);
  else answers.set(name, [got]);
}

/** Runs `call`, bounded by a guard far past the store's deadline, so a call that hangs fails the test. */
async function answer(call: () => Promise<unknown>): Promise<Answer> {
  const started = performance.now();
  let guard: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<string>((resolve) => {
    guard = setTimeout(() => resolve('hung'), 10 * DEADLINE_MS);
  });
  const settled = call().then(
    (value) => `accepted ${JSON.stringify(value)}`,
    (error: unknown) =>
      isSessionError(error)
        ? `${error.code} (${(error as SessionError & { reason?: string }).reason ?? 'no reason'})`
        : `other error: ${String(error)}`,
  );
  const result = await Promise.race([settled, hung]);
  clearTimeout(guard);
  return { answer: result, ms: performance.now() - started };
}

describe.skipIf(skipWithout(binary))(
  'a node-redis Cluster client with its offline queue on (the library default) loses the master of a session slot',
  () => {
    let cluster: RedisClusterServers;
    let client: ReturnType<typeof createCluster>;
    let store: RedisStore<SessionData, AnyRedisClient>;
    const clock = createTestClock(Date.now());

    beforeAll(async () => {
      assertServices(binary);
      // Persistent: a master killed and started again still holds the session.
      cluster = await startRedisCluster({ nodeTimeoutMs: 1500, persistent: true });
      // The app's client at node-redis's defaults (offline queue on), reconnecting every 100 ms.
      client = createCluster({
        rootNodes: cluster.nodes.map((node) => ({ url: `redis://${node.host}:${node.port}` })),
        defaults: { socket: { reconnectStrategy: () => 100 } },
      });
      client.on('error', () => {});
      await client.connect();
      store = new RedisStore({ client, prefix: uniquePrefix('offline-queue'), commandTimeoutMs: DEADLINE_MS });
    }, 45_000);

    afterAll(async () => {
      await client?.destroy();
      await cluster?.destroy();
    });

    /**
     * A session, and the master and replica of its slot; the replica may not take over, so the
     * slot stays without a master for as long as the test needs.
     */
    async function sessionOnHeldSlot() {
      const sessions = createSessionManager({ store, clock });
      const issued = await sessions.create({ userId: `user-${randomString(9)}`, data: { plan: 'free' } });
      const key = store.sessionKey(issued.session.id);
      const seed = cluster.alive()[0] as number;
      const slot = (await withNode(seed, (c) => c.cluster('KEYSLOT', key))) as number;
      const { master, replicas } = await slotOwners(seed, slot);
      for (const replica of replicas) {
        await withNode(replica, (c) => c.config('SET', 'cluster-replica-no-failover', 'yes'));
      }
      const current = await store.get(issued.session.id, clock.now());
      if (!current) throw new Error('the new session is not stored');
      return { sessions, issued, current, master };
    }

    /** Every operation on the session's slot during the outage: all must fail closed in time. */
    function duringOutage(
      id: string,
      current: NonNullable<Awaited<ReturnType<RedisStore['get']>>>,
      marker: string,
    ): [string, () => Promise<unknown>][] {
      const now = clock.now();
      const changed = { ...current, version: current.version + 1, data: { plan: marker } };
      const touched = { ...current, version: current.version + 1, lastSeenAt: now };
      return [
        ['get', () => store.get(id, now)],
        ['update', () => store.update(changed, current.version, now)],
        ['touch', () => store.touch(touched, current.version, now)],
        ['delete', () => store.delete(id)],
        ['rotate', () => store.rotate(id, current.version, { ...changed, id: randomString(16), version: 1 }, now)],
      ];
    }

    /** Waits (bounded) until every node still running says `cluster_state:ok`. */
    async function clusterOk(): Promise<boolean> {
      const infos = await Promise.all(cluster.alive().map(clusterInfo));
      return infos.every((info) => /cluster_state:ok/.test(info));
    }

    it('killed: every call on its slot fails closed at once with STORE_UNAVAILABLE (never queued), none runs later, and the same store serves again once the node is back', async () => {
      const { sessions, issued, current, master } = await sessionOnHeldSlot();
      const id = issued.session.id;
      await cluster.kill(master);

      const marker = `written-during-outage-${randomString(6)}`;
      const answers: Answers = new Map();
      // Twice: right after the crash and once the client has been reconnecting for a while.
      for (let round = 0; round < 2; round++) {
        for (const [name, call] of duringOutage(id, current, marker)) {
          note(answers, name, await answer(call));
        }
        const read = await sessions.validateToken(issued.token);
        note(answers, 'validateToken', { answer: `status ${read.status}`, ms: 0 });
        expect(read.session).toBeNull();
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      console.info(
        `[store-redis] node-redis Cluster, offline queue on, master killed: ${JSON.stringify(Object.fromEntries(answers))}`,
      );
      for (const [name, list] of answers) {
        for (const { answer: got, ms } of list) {
          if (name === 'validateToken') expect(got, name).toBe('status unavailable');
          else expect(got, name).toBe('STORE_UNAVAILABLE (disconnected)');
          expect(ms, name).toBeLessThan(AT_ONCE_MS);
        }
      }

      await cluster.start(master);
      expect(await waitFor(clusterOk, 150, 200)).toBe(true);
      // The same store object, with no restart, serves the session again (bounded wait for its client).
      const serves = async () => (await answer(() => store.get(id, clock.now()))).answer.startsWith('accepted {');
      expect(await waitFor(serves, 100, 100)).toBe(true);
      // Nothing the outage refused took effect afterwards: the session is as it was before it.
      const after = await store.get(id, clock.now());
      expect(after).toEqual(current);
      expect(JSON.stringify(after)).not.toContain(marker);
      const read = await sessions.validateToken(issued.token);
      expect(read.status).toBe('valid');
      expect(read.session?.data).toEqual({ plan: 'free' });
      const patched = await sessions.update(read.session as NonNullable<typeof read.session>, { plan: 'pro' });
      expect(patched.data).toEqual({ plan: 'pro' });
      expect((await sessions.validateToken(issued.token)).session?.data).toEqual({ plan: 'pro' });
    }, 90_000);

    it('frozen (SIGSTOP): every call fails closed with the timeout within the deadline; thawed, the same store serves again', async () => {
      const { sessions, issued, current, master } = await sessionOnHeldSlot();
      const id = issued.session.id;
      cluster.freeze(master);
      const answers: Answers = new Map();
      try {
        for (const [name, call] of duringOutage(id, current, 'frozen')) {
          if (name === 'get' || name === 'update') note(answers, name, await answer(call));
        }
        const read = await answer(() => sessions.validateToken(issued.token).then((r) => r.status));
        note(answers, 'validateToken', read);
      } finally {
        cluster.thaw(master);
      }
      console.info(
        `[store-redis] node-redis Cluster, offline queue on, master frozen: ${JSON.stringify(Object.fromEntries(answers))}`,
      );
      for (const [name, list] of answers) {
        for (const { answer: got, ms } of list) {
          if (name === 'validateToken') expect(got, name).toBe('accepted "unavailable"');
          else expect(got, name).toBe('STORE_UNAVAILABLE (timeout)');
          expect(ms, name).toBeLessThan(HANG_MS);
        }
      }
      const serves = async () => (await answer(() => store.get(id, clock.now()))).answer.startsWith('accepted {');
      expect(await waitFor(serves, 100, 100)).toBe(true);
      // A frozen server runs what it was sent before it stopped answering once it is thawed (as
      // after a CLIENT PAUSE): the update that timed out may have landed, exactly once.
      const read = await sessions.validateToken(issued.token);
      expect(read.status).toBe('valid');
      expect([current.version, current.version + 1]).toContain(read.session?.version);
    }, 90_000);
  },
);

describe.skipIf(skipWithout(binary))(
  'a node-redis Cluster client with its offline queue on is cut off from the master of a session slot (the cluster itself healthy)',
  () => {
    let cluster: RedisClusterServers;
    let proxies: Map<number, TcpProxy>;
    let client: ReturnType<typeof createCluster>;
    let store: RedisStore<SessionData, AnyRedisClient>;
    const clock = createTestClock(Date.now());

    beforeAll(async () => {
      assertServices(binary);
      cluster = await startRedisCluster({ nodeTimeoutMs: 1500 });
      proxies = new Map();
      for (const { port } of cluster.nodes) proxies.set(port, await startProxy(port));
      // Every node the client learns of is reached through its relay, which the test can cut.
      const nodeAddressMap = Object.fromEntries(
        [...proxies].map(([port, proxy]) => [`127.0.0.1:${port}`, { host: '127.0.0.1', port: proxy.port }]),
      );
      client = createCluster({
        rootNodes: cluster.nodes.map((node) => ({ url: `redis://${node.host}:${node.port}` })),
        nodeAddressMap,
        defaults: { socket: { reconnectStrategy: () => 100 } },
      });
      client.on('error', () => {});
      await client.connect();
      store = new RedisStore({ client, prefix: uniquePrefix('partition'), commandTimeoutMs: DEADLINE_MS });
    }, 45_000);

    afterAll(async () => {
      await client?.destroy();
      for (const proxy of proxies?.values() ?? []) await proxy.close();
      await cluster?.destroy();
    });

    it('hashes keys to the slots the server does', async () => {
      const keys = [
        'sess:s:{abc}',
        'plain',
        '{}',
        '{}x',
        'a{}b',
        '{a}{b}',
        'x{a',
        'x}a{b}',
        '{user-\u00e9\u4e2d}',
        'é',
        '😀{😀}',
      ];
      for (let i = 0; i < 50; i++) keys.push(store.sessionKey(randomString(16)), store.userIndexKey(`user-${i}-ü`));
      const seed = cluster.nodes[0]?.port as number;
      const expected = await withNode(seed, (c) => Promise.all(keys.map((key) => c.cluster('KEYSLOT', key))));
      expect(keys.map(keySlot)).toEqual(expected);
    });

    it('fails every call on the slot at once with STORE_UNAVAILABLE, and none runs once the link is back', async () => {
      const sessions = createSessionManager({ store, clock });
      const issued = await sessions.create({ userId: `user-${randomString(9)}`, data: { plan: 'free' } });
      const id = issued.session.id;
      const current = await store.get(id, clock.now());
      if (!current) throw new Error('the new session is not stored');
      const seed = cluster.nodes[0]?.port as number;
      const slot = (await withNode(seed, (c) => c.cluster('KEYSLOT', store.sessionKey(id)))) as number;
      const { master } = await slotOwners(seed, slot);
      const link = proxies.get(master) as TcpProxy;

      await link.cut();
      const now = clock.now();
      const marker = `written-during-partition-${randomString(6)}`;
      const changed = { ...current, version: current.version + 1, data: { plan: marker } };
      const calls: [string, () => Promise<unknown>][] = [
        ['get', () => store.get(id, now)],
        ['update', () => store.update(changed, current.version, now)],
        [
          'touch',
          () => store.touch({ ...current, version: current.version + 1, lastSeenAt: now }, current.version, now),
        ],
        ['delete', () => store.delete(id)],
        ['rotate', () => store.rotate(id, current.version, { ...changed, id: randomString(16), version: 1 }, now)],
      ];
      const answers: Answers = new Map();
      try {
        // Twice: right after the cut, and once the client has been reconnecting for a while.
        for (let round = 0; round < 2; round++) {
          for (const [name, call] of calls) note(answers, name, await answer(call));
          await new Promise((resolve) => setTimeout(resolve, 300));
        }
      } finally {
        await link.restore();
      }
      console.info(
        `[store-redis] node-redis Cluster, offline queue on, link cut: ${JSON.stringify(Object.fromEntries(answers))}`,
      );
      for (const [name, list] of answers) {
        for (const { answer: got, ms } of list) {
          expect(got, name).toBe('STORE_UNAVAILABLE (disconnected)');
          expect(ms, name).toBeLessThan(AT_ONCE_MS);
        }
      }

      const serves = async () => (await answer(() => store.get(id, clock.now()))).answer.startsWith('accepted {');
      expect(await waitFor(serves, 100, 100)).toBe(true);
      // The client's queue for the node is drained by now (the read above went through it): nothing
      // the partition refused ran afterwards. The session is as it was, neither changed nor deleted.
      const after = await store.get(id, clock.now());
      expect(after).toEqual(current);
      const read = await sessions.validateToken(issued.token);
      expect(read.status).toBe('valid');
      const patched = await sessions.update(read.session as NonNullable<typeof read.session>, { plan: 'pro' });
      expect(patched.data).toEqual({ plan: 'pro' });
      expect((await sessions.validateToken(issued.token)).session?.data).toEqual({ plan: 'pro' });
    }, 60_000);
  },
);

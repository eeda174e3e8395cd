import {
  createSessionManager,
  EXPIRED_RETENTION_MS,
  isSessionError,
  recordExpiresAt,
  type SessionData,
  type SessionRecord,
} from '@org/session-core';
import { createTestClock, generateSessionToken, randomString, sessionRecordFixture } from '@org/session-core/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../src/index.js';
import {
  assertServices,
  dropUnder,
  keysUnder,
  LOCAL_URL,
  localRedis,
  redisCluster,
  type Service,
  skipWithout,
  uniquePrefix,
} from './support.js';

const local = await localRedis();
const cluster = redisCluster();
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

type Nested = { next?: Nested; leaf?: string };

/** `{ next: { next: ... { leaf } } }`, `depth` levels deep. */
function nested(depth: number): Nested {
  let top: Nested = { leaf: 'bottom' };
  for (let i = 0; i < depth; i++) top = { next: top };
  return top;
}

/** Records nobody could write through the manager (it refuses lone surrogates): written to the store directly. */
const awkward: { item: string; overrides: (userId: string) => Partial<SessionRecord> }[] = [
  {
    item: 'item 1: a session whose label is a lone surrogate is ended by revokeAll and stays listed until then',
    overrides: () => ({ metadata: { userAgent: 'test', ip: '127.0.0.1', label: '\ud800' } }),
  },
  {
    item: 'item 1: a session whose data holds a lone surrogate is ended by revokeAll and stays listed until then',
    overrides: () => ({ data: { note: 'before \udc00 after' } }),
  },
  {
    item: 'item 1: a session whose user id ends in a lone surrogate is ended by revokeAll and stays listed until then',
    overrides: (userId) => ({ userId: `${userId}\ud83d` }),
  },
  {
    item: 'item 1: a session whose data nests 1100 levels deep is ended by revokeAll and stays listed until then',
    overrides: () => ({ data: { deep: nested(1100) } }),
  },
];

interface Setup {
  label: string;
  service: Service;
  open: (prefix: string) => RedisStore;
  /** Sessions of one user for the item 4 test. */
  bulk: number;
}

const setups: Setup[] = [
  {
    label: 'single Redis',
    service: local,
    open: (prefix) => new RedisStore({ url: LOCAL_URL, prefix }),
    bulk: 30_000,
  },
  {
    label: 'Redis Cluster of three masters',
    service: cluster,
    open: (prefix) => new RedisStore({ cluster: { nodes: cluster.nodes }, prefix }),
    bulk: 3_000,
  },
];

for (const setup of setups) {
  describe.skipIf(skipWithout(setup.service))(`security review items on ${setup.label}`, () => {
    let store: RedisStore;
    const clock = createTestClock(Date.now());
    const record = (overrides: Partial<SessionRecord> = {}) => sessionRecordFixture(clock.now(), overrides);

    beforeAll(() => {
      assertServices(setup.service);
      store = setup.open(uniquePrefix('hardening'));
    });
    afterAll(async () => {
      if (!store) return;
      await dropUnder(store.client, store.prefix);
      await store.close();
    });

    for (const { item, overrides } of awkward) {
      it(item, async () => {
        const sessions = createSessionManager({ store, clock });
        const issued = generateSessionToken();
        const base = record();
        const r = record({ id: issued.id, secretHash: issued.secretHash, ...overrides(base.userId) });
        await store.create(r, clock.now());
        expect(await store.get(r.id, clock.now())).toEqual(r);
        expect((await sessions.validateToken(issued.token)).status).toBe('valid');

        // A touch and a rotation keep it whole, listed and revocable.
        clock.advance(sessions.policy.touchIntervalMs);
        expect((await sessions.validateToken(issued.token)).status).toBe('valid');
        expect((await store.get(r.id, clock.now()))?.version).toBe(2);
        expect((await store.listByUser(r.userId, clock.now())).map((x) => x.id)).toEqual([r.id]);
        const rotated = await sessions.rotate(r);
        expect((await sessions.validateToken(issued.token)).session).toBeNull();
        const successor = await store.get(rotated.session.id, clock.now());
        expect(successor?.data).toEqual(r.data);
        expect(successor?.metadata).toEqual(r.metadata);
        expect(successor?.userId).toBe(r.userId);
        expect((await store.listByUser(r.userId, clock.now())).map((x) => x.id)).toEqual([rotated.session.id]);

        expect(await sessions.revokeAll(r.userId)).toBe(1);
        expect((await sessions.validateToken(rotated.token)).session).toBeNull();
        expect(await store.listByUser(r.userId, clock.now())).toEqual([]);
        expect(await store.client.exists(store.sessionKey(rotated.session.id))).toBe(0);
        expect(await store.client.exists(store.userIndexKey(r.userId))).toBe(0);
      });
    }

    it('item 1: user ids that differ only in lone surrogates keep separate sessions, indexes and epochs', async () => {
      const base = `user-${randomString(9)}`;
      // UTF-8 turns each of these into the same bytes (EF BF BD): the store must keep them apart.
      const [a, b, c] = [`${base}\ud800`, `${base}\udbff`, `${base}\ufffd`].map((userId) => record({ userId }));
      for (const r of [a, b, c] as SessionRecord[]) await store.create(r, clock.now());
      const keys = new Set([a, b, c].map((r) => store.userIndexKey((r as SessionRecord).userId)));
      expect(keys.size).toBe(3);
      for (const r of [a, b, c] as SessionRecord[]) {
        expect((await store.listByUser(r.userId, clock.now())).map((x) => x.id)).toEqual([r.id]);
      }
      const sessions = createSessionManager({ store, clock });
      expect(await sessions.revokeAll((a as SessionRecord).userId)).toBe(1);
      expect(await store.get((a as SessionRecord).id, clock.now())).toBeNull();
      for (const r of [b, c] as SessionRecord[]) {
        expect(await store.get(r.id, clock.now())).toEqual(r);
        expect(await store.getUserEpoch(r.userId, clock.now())).toBeNull();
        expect((await store.listByUser(r.userId, clock.now())).map((x) => x.id)).toEqual([r.id]);
      }
    });

    it('item 1: a session key whose fields cannot be read is deleted by deleteByUser, never skipped', async () => {
      const userId = `user-${randomString(9)}`;
      const good = record({ userId });
      await store.create(good, clock.now());
      // Damaged behind the store's back: no owner, a record that is not JSON.
      const broken = randomString(16);
      await store.client.hset(store.sessionKey(broken), 'record', '{"id":');
      await store.client.zadd(store.userIndexKey(userId), clock.now() + HOUR, broken);

      expect(await store.get(broken, clock.now())).toBeNull();
      // Unreadable is not listed, but it stays in the index for the revocation to find.
      expect((await store.listByUser(userId, clock.now())).map((x) => x.id)).toEqual([good.id]);
      expect(await store.client.zscore(store.userIndexKey(userId), broken)).not.toBeNull();
      expect(await store.deleteByUser(userId)).toBe(2);
      for (const id of [broken, good.id]) expect(await store.client.exists(store.sessionKey(id))).toBe(0);
      expect(await store.client.exists(store.userIndexKey(userId))).toBe(0);
    });

    it('item 3: 240 rotations racing one deleteByUser after the epoch leave no successor behind', async () => {
      const userId = `user-${randomString(9)}`;
      const now = clock.now();
      const olds = Array.from({ length: 40 }, () => record({ userId, createdAt: now - 1 }));
      for (const old of olds) await store.create(old, now);
      // Six competing successors per session; rotation keeps createdAt.
      const successors = olds.map((old) =>
        Array.from({ length: 6 }, () => record({ userId, createdAt: old.createdAt, data: { from: old.id } })),
      );
      const rotate = (i: number) =>
        (successors[i] as SessionRecord[]).map((next) => store.rotate((olds[i] as SessionRecord).id, 1, next, now));
      const first = olds.slice(0, 20).flatMap((_, i) => rotate(i));
      const revoke = (async () => {
        await store.setUserEpoch(userId, { validAfter: now, keep: null }, now + 13 * HOUR, now);
        return store.deleteByUser(userId);
      })();
      const second = olds.slice(20).flatMap((_, i) => rotate(i + 20));
      const won = await Promise.all([...first, ...second]);
      const deleted = await revoke;

      // At most one winner per session; every session or its winning successor was deleted.
      for (let i = 0; i < olds.length; i++) expect(won.slice(i * 6, i * 6 + 6).filter(Boolean).length).toBeLessThan(2);
      expect(deleted).toBeGreaterThanOrEqual(olds.length);
      for (const next of successors.flat()) {
        expect(await store.get(next.id, now)).toBeNull();
        expect(await store.client.exists(store.sessionKey(next.id))).toBe(0);
      }
      for (const old of olds) expect(await store.client.exists(store.sessionKey(old.id))).toBe(0);
      expect(await store.listByUser(userId, now)).toEqual([]);
      expect(await store.client.exists(store.userIndexKey(userId))).toBe(0);
    });

    it('item 3: a rotation that cannot index its successor fails and leaves the old session in place', async () => {
      const sessions = createSessionManager({ store, clock });
      const issued = generateSessionToken();
      const old = record({ id: issued.id, secretHash: issued.secretHash });
      await store.create(old, clock.now());
      const indexKey = store.userIndexKey(old.userId);
      const entries = await store.client.zrange(indexKey, 0, -1, 'WITHSCORES');
      // A damaged index key: every write to it is refused (WRONGTYPE).
      await store.client.del(indexKey);
      await store.client.set(indexKey, 'not an index', 'PX', MINUTE);
      try {
        const next = record({ userId: old.userId, createdAt: old.createdAt });
        const error = await store.rotate(old.id, 1, next, clock.now()).catch((e: unknown) => e);
        expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
        expect(await store.get(old.id, clock.now())).toEqual(old);
        expect(await store.client.exists(store.sessionKey(next.id))).toBe(0);
        const viaManager = await sessions.rotate(old).catch((e: unknown) => e);
        expect(isSessionError(viaManager, 'STORE_UNAVAILABLE')).toBe(true);
        expect((await sessions.validateToken(issued.token)).status).toBe('valid');
      } finally {
        await store.client.del(indexKey);
        await store.client.zadd(indexKey, ...entries.reverse());
      }
      const rotated = await sessions.rotate(old);
      expect((await sessions.validateToken(issued.token)).session).toBeNull();
      expect((await sessions.validateToken(rotated.token)).status).toBe('valid');
    });

    it('item 3: a rotation fenced after its answer was lost never takes effect later', async () => {
      const old = record();
      await store.create(old, clock.now());
      const next = record({ userId: old.userId, createdAt: old.createdAt });
      // What the store writes when a rotation's last step timed out and had not run.
      await store.client.hset(store.rotationMarkKey(old.id), next.id, 'fenced');
      await store.client.pexpire(store.rotationMarkKey(old.id), MINUTE);
      expect(await store.rotate(old.id, 1, next, clock.now())).toBe(false);
      expect(await store.get(old.id, clock.now())).toEqual(old);
      expect(await store.get(next.id, clock.now())).toBeNull();
      expect((await store.listByUser(old.userId, clock.now())).map((x) => x.id)).toEqual([old.id]);
      // Another successor is not fenced.
      const other = record({ userId: old.userId, createdAt: old.createdAt });
      expect(await store.rotate(old.id, 1, other, clock.now())).toBe(true);
      expect(await store.client.hget(store.rotationMarkKey(old.id), other.id)).toBe('done');
      expect((await store.listByUser(old.userId, clock.now())).map((x) => x.id)).toEqual([other.id]);
    });

    it(`item 4: ${setup.bulk} sessions of one user are listed and deleted with the default 1000 ms timeout`, {
      timeout: 180_000,
    }, async () => {
      expect(store.commandTimeoutMs).toBe(1000);
      const userId = `user-${randomString(9)}`;
      const now = clock.now();
      const ids = new Set<string>();
      // Created through the store, a thousand in flight at a time.
      for (let done = 0; done < setup.bulk; done += 1000) {
        const batch = Array.from({ length: Math.min(1000, setup.bulk - done) }, () => record({ userId }));
        await Promise.all(batch.map((r) => store.create(r, now)));
        for (const r of batch) ids.add(r.id);
      }
      const listed = await store.listByUser(userId, now);
      expect(listed).toHaveLength(setup.bulk);
      expect(new Set(listed.map((r) => r.id))).toEqual(ids);

      expect(await store.deleteByUser(userId)).toBe(setup.bulk);
      expect(await store.listByUser(userId, now)).toEqual([]);
      expect(await store.client.exists(store.userIndexKey(userId))).toBe(0);
      const left = (await keysUnder(store.client, `${store.prefix}s:`)).filter((key) =>
        ids.has(key.slice(`${store.prefix}s:{`.length, -1)),
      );
      expect(left).toEqual([]);
    });

    it('item 16: an expired record stays readable for EXPIRED_RETENTION_MS past its deadline, and is gone after', async () => {
      const now = clock.now();
      const r = record({ idleExpiresAt: now + MINUTE });
      await store.create(r, now);
      const deadline = recordExpiresAt(r);
      // Redis keeps the key for the retention past the deadline, by the manager's clock.
      const ttl = await store.client.pttl(store.sessionKey(r.id));
      expect(ttl).toBeGreaterThan(MINUTE + EXPIRED_RETENTION_MS - 5000);
      expect(ttl).toBeLessThanOrEqual(MINUTE + EXPIRED_RETENTION_MS);
      expect(await store.client.pttl(store.userIndexKey(r.userId))).toBeGreaterThanOrEqual(ttl);

      // Expired at the deadline; the manager reads with now - EXPIRED_RETENTION_MS, so until the
      // retention has passed it still gets the record (and reports it expired), and then no more.
      const lookBack = (at: number) => at - EXPIRED_RETENTION_MS;
      expect(await store.get(r.id, deadline)).toBeNull();
      expect(await store.get(r.id, lookBack(deadline + EXPIRED_RETENTION_MS - 1))).toEqual(r);
      expect(await store.get(r.id, lookBack(deadline + EXPIRED_RETENTION_MS))).toBeNull();
      // Not listed once expired, but indexed while its key lives, and pruned once it has gone.
      expect(await store.listByUser(r.userId, deadline)).toEqual([]);
      expect(await store.client.zscore(store.userIndexKey(r.userId), r.id)).not.toBeNull();
      const pruneAt = deadline + 2 * MINUTE + EXPIRED_RETENTION_MS;
      expect(await store.listByUser(r.userId, pruneAt)).toEqual([]);
      expect(await store.client.zscore(store.userIndexKey(r.userId), r.id)).toBeNull();
      // An update to a deadline already an hour past deletes the key; a nearer one keeps it.
      const other = record();
      await store.create(other, now);
      const closed = { ...other, idleExpiresAt: now - 1, version: 2 };
      expect(await store.update(closed, 1, now)).toBe(true);
      expect(await store.get(other.id, now - EXPIRED_RETENTION_MS)).toEqual(closed);
      const pttl = await store.client.pttl(store.sessionKey(other.id));
      expect(pttl).toBeGreaterThan(EXPIRED_RETENTION_MS - 5000);
      expect(pttl).toBeLessThanOrEqual(EXPIRED_RETENTION_MS);
    });

    it('item 16: the same expired session is expired (SESSION_EXPIRED) during the retention and unknown after it', async () => {
      const sessions = createSessionManager<SessionData>({
        store,
        clock,
        policy: { idleTimeoutMs: 10 * MINUTE, absoluteTimeoutMs: HOUR },
      });
      const start = clock.now();
      const { token } = await sessions.create({ userId: `user-${randomString(9)}` });
      try {
        clock.set(start + 10 * MINUTE + EXPIRED_RETENTION_MS - 1);
        const during = await sessions.validateToken(token);
        expect(during.status).toBe('expired');
        expect(during.error?.code).toBe('SESSION_EXPIRED');
      } finally {
        clock.set(start);
      }
      const again = await sessions.create({ userId: `user-${randomString(9)}` });
      try {
        clock.set(start + 10 * MINUTE + EXPIRED_RETENTION_MS);
        expect((await sessions.validateToken(again.token)).status).toBe('invalid');
      } finally {
        clock.set(start);
      }
    });
  });
}

describe.skipIf(skipWithout(local))('the epoch key (single Redis)', () => {
  let store: RedisStore;
  let redis: Redis;
  const clock = createTestClock(Date.now());

  beforeAll(() => {
    assertServices(local);
    store = new RedisStore({ url: LOCAL_URL, prefix: uniquePrefix('epoch') });
    redis = new Redis(LOCAL_URL);
  });
  afterAll(async () => {
    if (!store) return;
    await dropUnder(redis, store.prefix);
    await store.close();
    redis.disconnect();
  });

  it('lives next to the user index, on its slot, until its expiry plus the retention', async () => {
    const userId = `user-${randomString(9)}`;
    const now = clock.now();
    await store.setUserEpoch(userId, { validAfter: now, keep: 'kept-id' }, now + HOUR, now);
    expect(store.userEpochKey(userId)).toBe(`${store.prefix}ue:{${userId}}`);
    expect(await redis.hgetall(store.userEpochKey(userId))).toEqual({
      validAfter: String(now),
      keep: 'kept-id',
      expiresAt: String(now + HOUR),
    });
    const ttl = await redis.pttl(store.userEpochKey(userId));
    expect(ttl).toBeGreaterThan(HOUR + EXPIRED_RETENTION_MS - 5000);
    expect(ttl).toBeLessThanOrEqual(HOUR + EXPIRED_RETENTION_MS);
    // An older epoch changes nothing, but cannot shorten how long the held one is kept.
    await store.setUserEpoch(userId, { validAfter: now - 1, keep: null }, now + 2 * HOUR, now);
    expect(await store.getUserEpoch(userId, now)).toEqual({ validAfter: now, keep: 'kept-id' });
    expect(await redis.pttl(store.userEpochKey(userId))).toBeGreaterThan(2 * HOUR + EXPIRED_RETENTION_MS - 5000);
    expect(await store.getUserEpoch(userId, now + 2 * HOUR - 1)).toEqual({ validAfter: now, keep: 'kept-id' });
  });
});

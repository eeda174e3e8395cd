import {
  createSessionManager,
  EXPIRED_RETENTION_MS,
  isSessionError,
  recordExpiresAt,
  type SessionError,
  type SessionRecord,
} from '@org/session-core';
import { createTestClock, generateSessionToken, randomString, sessionRecordFixture } from '@org/session-core/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../src/index.js';
import { freePort, waitFor } from './servers.js';
import { assertServices, dropUnder, LOCAL_URL, localRedis, skipWithout, uniquePrefix } from './support.js';

const local = await localRedis();
const MINUTE = 60_000;
const RETAINED = EXPIRED_RETENTION_MS;

describe('configuration', () => {
  it('needs exactly one of client, url or cluster', () => {
    for (const options of [{}, { url: LOCAL_URL, cluster: { nodes: [6379] } }]) {
      const error = (() => {
        try {
          new RedisStore(options);
        } catch (e) {
          return e;
        }
      })();
      expect(isSessionError(error, 'CONFIG_INVALID')).toBe(true);
    }
  });

  it('refuses a non-positive timeout or user batch size, a non-redis URL and an empty cluster', () => {
    for (const options of [
      { url: LOCAL_URL, commandTimeoutMs: 0 },
      { url: LOCAL_URL, userBatchSize: 0 },
      { url: LOCAL_URL, userBatchSize: 2.5 },
      { url: 'http://127.0.0.1:6379' },
      { cluster: { nodes: [] } },
    ]) {
      expect(() => new RedisStore(options)).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    }
  });
});

describe('an unreachable server', () => {
  it('rejects with STORE_UNAVAILABLE within the timeout, never with a raw ioredis error', async () => {
    const port = await freePort();
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, commandTimeoutMs: 300 });
    try {
      const started = performance.now();
      const error = await store.get(randomString(16), Date.now()).catch((e: unknown) => e);
      expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
      expect((error as SessionError).name).toBe('SessionError');
      expect(performance.now() - started).toBeLessThan(1000);
    } finally {
      await store.close();
    }
    // Closed: no reconnect attempts go on, and calls fail at once.
    const afterClose = await store.get(randomString(16), Date.now()).catch((e: unknown) => e);
    expect((afterClose as SessionError).reason).toBe('disconnected');
  });
});

describe.skipIf(skipWithout(local))('key layout, TTLs and the user index (local Redis)', () => {
  let store: RedisStore;
  let redis: Redis;
  const clock = createTestClock(Date.now());

  const record = (overrides: Partial<SessionRecord> = {}) => sessionRecordFixture(clock.now(), overrides);

  beforeAll(() => {
    assertServices(local);
    store = new RedisStore({ url: LOCAL_URL, prefix: uniquePrefix('layout') });
    // An app-owned client: the store must leave it open.
    redis = new Redis(LOCAL_URL);
  });
  afterAll(async () => {
    if (!store) return;
    await dropUnder(redis, store.prefix);
    await store.close();
    redis.disconnect();
  });

  it('keeps one hash per session and a sorted set per user, each with its own hash tag', async () => {
    const r = record({ data: { note: 'json only in its own field' } });
    await store.create(r, clock.now());
    expect(store.sessionKey(r.id)).toBe(`${store.prefix}s:{${r.id}}`);
    expect(store.userIndexKey(r.userId)).toBe(`${store.prefix}u:{${r.userId}}`);
    expect(store.userEpochKey(r.userId)).toBe(`${store.prefix}ue:{${r.userId}}`);
    // The index holds the session until its expiry plus one idle span (the headroom for touches).
    const indexedUntil = recordExpiresAt(r) + 30 * MINUTE;
    // What the scripts read has a field of its own; the record is JSON that no script decodes.
    expect(await redis.hgetall(store.sessionKey(r.id))).toEqual({
      owner: r.userId,
      version: '1',
      createdAt: String(r.createdAt),
      expiresAt: String(recordExpiresAt(r)),
      indexedUntil: String(indexedUntil),
      record: JSON.stringify(r),
    });
    expect(await redis.zrange(store.userIndexKey(r.userId), 0, -1, 'WITHSCORES')).toEqual([r.id, String(indexedUntil)]);
  });

  it('writes a user id that is not plain text as a tag of its own, so it cannot share keys with another', async () => {
    for (const [userId, tag] of [
      ['a{b}', '~0061007b0062007d'],
      ['~x', '~007e0078'],
      ['x\ud800', '~0078d800'],
      ['', '~'],
    ]) {
      expect(store.userIndexKey(userId as string)).toBe(`${store.prefix}u:{${tag}}`);
      expect(store.userEpochKey(userId as string)).toBe(`${store.prefix}ue:{${tag}}`);
    }
    const r = record({ userId: 'team{42}' });
    await store.create(r, clock.now());
    expect(await redis.hget(store.sessionKey(r.id), 'owner')).toBe('~007400650061006d007b00340032007d');
    expect((await store.listByUser('team{42}', clock.now())).map((x) => x.id)).toEqual([r.id]);
    expect(await store.deleteByUser('team{42}')).toBe(1);
  });

  it('CL-04: TTLs are relative to the manager clock, whatever Redis thinks the time is', async () => {
    // The app's clock is 25 years behind the server's: PEXPIREAT from app time would expire at once.
    const now = Date.UTC(2001, 0, 1);
    const r = record({
      createdAt: now,
      lastSeenAt: now,
      idleExpiresAt: now + 30 * MINUTE,
      absoluteExpiresAt: now + 12 * 60 * MINUTE,
    });
    await store.create(r, now);
    // The deadline plus the retention (item 16); the index's highest score plus the retention.
    const sessionTtl = await redis.pttl(store.sessionKey(r.id));
    expect(sessionTtl).toBeGreaterThan(30 * MINUTE + RETAINED - 5000);
    expect(sessionTtl).toBeLessThanOrEqual(30 * MINUTE + RETAINED);
    const indexTtl = await redis.pttl(store.userIndexKey(r.userId));
    expect(indexTtl).toBeGreaterThan(60 * MINUTE + RETAINED - 5000);
    expect(indexTtl).toBeLessThanOrEqual(60 * MINUTE + RETAINED);
    expect(await store.get(r.id, now)).toEqual(r);

    // A touch 20 minutes later (by the app's clock) moves the record's TTL to the new deadline.
    const later = now + 20 * MINUTE;
    const touched = { ...r, lastSeenAt: later, idleExpiresAt: later + 30 * MINUTE, version: 2 };
    expect(await store.update(touched, 1, later)).toBe(true);
    expect(await redis.pttl(store.sessionKey(r.id))).toBeGreaterThan(30 * MINUTE + RETAINED - 5000);
  });

  it('a touch writes the index only when the new deadline nears what the index holds', async () => {
    const start = clock.now();
    const r = record();
    await store.create(r, start);
    const indexKey = store.userIndexKey(r.userId);
    const score = async () => Number(await redis.zscore(indexKey, r.id));
    expect(await score()).toBe(start + 60 * MINUTE);

    const touchAt = (at: number, version: number) => ({
      ...r,
      lastSeenAt: at,
      idleExpiresAt: at + 30 * MINUTE,
      version,
    });
    // 20 minutes on: the new deadline (+50 min) is well inside +60 min, so the index is left alone.
    expect(await store.update(touchAt(start + 20 * MINUTE, 2), 1, start + 20 * MINUTE)).toBe(true);
    expect(await score()).toBe(start + 60 * MINUTE);
    // 40 minutes on: the deadline (+70 min) passes it; the index is raised with it, to +100 min.
    expect(await store.update(touchAt(start + 40 * MINUTE, 3), 2, start + 40 * MINUTE)).toBe(true);
    expect(await score()).toBe(start + 100 * MINUTE);
    // Another instance, which never read this session, learns it from the script instead: a touch
    // just before the +70 min deadline needs +100.5 min (deadline plus the clock margin).
    const lastMoment = start + 69 * MINUTE + 30_000;
    const other = new RedisStore({ client: redis, prefix: store.prefix });
    expect(await other.update(touchAt(lastMoment, 4), 3, lastMoment)).toBe(true);
    expect(await score()).toBe(lastMoment + 60 * MINUTE);
    expect(await redis.hmget(store.sessionKey(r.id), 'indexedUntil', 'version', 'record')).toEqual([
      String(lastMoment + 60 * MINUTE),
      '4',
      JSON.stringify(touchAt(lastMoment, 4)),
    ]);
    // A stale writer still loses.
    expect(await store.update(touchAt(lastMoment + MINUTE, 4), 3, lastMoment + MINUTE)).toBe(false);
    expect((await store.get(r.id, lastMoment + MINUTE))?.version).toBe(4);
  });

  it('the user index sheds dead entries on the next write, by score, once their keys have gone', async () => {
    const userId = `user-${randomString(9)}`;
    const short = record({ userId, idleExpiresAt: clock.now() + MINUTE });
    const long = record({ userId });
    await store.create(short, clock.now());
    await store.create(long, clock.now());
    expect(await redis.zcard(store.userIndexKey(userId))).toBe(2);

    // The short one is dead after 1 minute; its key stays for the retention, and so does its
    // entry (one idle span more): an id leaves the index only once its key has gone.
    const add = async (at: number) => {
      const r = record({ userId, createdAt: at, lastSeenAt: at, idleExpiresAt: at + MINUTE });
      await store.create(r, at);
      return r.id;
    };
    const third = await add(clock.now() + 2 * MINUTE);
    expect(await redis.zcard(store.userIndexKey(userId))).toBe(3);
    const fourth = await add(clock.now() + 2 * MINUTE + RETAINED);
    expect((await redis.zrange(store.userIndexKey(userId), 0, -1)).sort()).toEqual([long.id, third, fourth].sort());
  });

  it('a delete removes the index entry; a list prunes entries whose session is gone', async () => {
    const userId = `user-${randomString(9)}`;
    const a = record({ userId });
    const b = record({ userId });
    await store.create(a, clock.now());
    await store.create(b, clock.now());
    expect(await store.delete(a.id)).toBe(true);
    expect(await redis.zrange(store.userIndexKey(userId), 0, -1)).toEqual([b.id]);

    // The record vanishes behind the store's back (eviction, a manual DEL): the next list notices.
    await redis.del(store.sessionKey(b.id));
    expect(await store.listByUser(userId, clock.now())).toEqual([]);
    expect(await redis.exists(store.userIndexKey(userId))).toBe(0);
  });

  it("a forged index entry never lets deleteByUser or listByUser touch another user's session", async () => {
    const victim = record();
    const attacker = record();
    await store.create(victim, clock.now());
    await store.create(attacker, clock.now());
    await redis.zadd(store.userIndexKey(attacker.userId), recordExpiresAt(victim), victim.id);

    expect((await store.listByUser(attacker.userId, clock.now())).map((r) => r.id)).toEqual([attacker.id]);
    await redis.zadd(store.userIndexKey(attacker.userId), recordExpiresAt(victim), victim.id);
    expect(await store.deleteByUser(attacker.userId)).toBe(1);
    expect(await store.get(victim.id, clock.now())).toEqual(victim);
    expect(await redis.exists(store.userIndexKey(attacker.userId))).toBe(0);
  });

  it('deleteByUser works in rounds of userBatchSize, keeps the one spared, and empties the index behind it', async () => {
    const small = new RedisStore({ client: redis, prefix: store.prefix, userBatchSize: 3 });
    const userId = `user-${randomString(9)}`;
    const all = Array.from({ length: 11 }, () => record({ userId }));
    for (const r of all) await small.create(r, clock.now());
    const keep = all[5] as SessionRecord;
    expect((await small.listByUser(userId, clock.now())).length).toBe(11);
    expect(await small.deleteByUser(userId, keep.id)).toBe(10);
    expect(await redis.zrange(small.userIndexKey(userId), 0, -1)).toEqual([keep.id]);
    expect((await small.listByUser(userId, clock.now())).map((r) => r.id)).toEqual([keep.id]);
    for (const r of all) expect(await redis.exists(small.sessionKey(r.id))).toBe(r === keep ? 1 : 0);
  });

  it('an update to a deadline more than the retention in the past deletes the record', async () => {
    const r = record();
    await store.create(r, clock.now());
    const dead = { ...r, idleExpiresAt: clock.now() - RETAINED - 1, version: 2 };
    expect(await store.update(dead, 1, clock.now())).toBe(true);
    expect(await redis.exists(store.sessionKey(r.id))).toBe(0);
  });

  it('a refused command (wrong key type) is STORE_UNAVAILABLE with reason "refused"', async () => {
    const id = randomString(16);
    await redis.zadd(store.sessionKey(id), 1, 'not-a-record');
    const error = await store.get(id, clock.now()).catch((e: unknown) => e);
    expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
    expect((error as SessionError).reason).toBe('refused');
    await redis.del(store.sessionKey(id));
  });

  it('expiry with an injected clock and real TTLs: expired sessions disappear and the user index shrinks', async () => {
    const realClock = createTestClock(Date.now());
    const sessions = createSessionManager({ store, clock: realClock });
    const userId = `user-${randomString(9)}`;
    // Sessions whose idle deadline passed almost a retention ago: 0.7 s of it is left.
    const start = realClock.now() - RETAINED;
    const issued = [generateSessionToken(), generateSessionToken()];
    for (const { id, secretHash } of issued) {
      const r = record({ id, secretHash, userId, createdAt: start, lastSeenAt: start, idleExpiresAt: start + 700 });
      await store.create(r, realClock.now());
    }
    const indexKey = store.userIndexKey(userId);
    expect(await redis.zcard(indexKey)).toBe(2);

    // Redis drops the records (0.7 s) and the index (one more idle span) by itself: real TTLs,
    // a bounded wait under 3 s.
    const keys = [indexKey, ...issued.map(({ id }) => store.sessionKey(id))];
    const gone = await waitFor(async () => (await redis.exists(...keys)) === 0, 30, 100);
    expect(gone).toBe(true);
    realClock.set(Date.now());
    for (const { token } of issued) expect((await sessions.validateToken(token)).status).toBe('invalid');
    expect(await sessions.list(userId)).toEqual([]);
  });

  it('close() leaves a client it was given open, and ends one it opened', async () => {
    const borrowed = new RedisStore({ client: redis, prefix: store.prefix });
    expect(borrowed.ownsClient).toBe(false);
    await borrowed.close();
    expect(await redis.ping()).toBe('PONG');

    const owned = new RedisStore({ url: LOCAL_URL, prefix: store.prefix });
    expect(await owned.get(randomString(16), clock.now())).toBeNull();
    await owned.close();
    expect(owned.client.status).toBe('end');
    const error = await owned.get(randomString(16), clock.now()).catch((e: unknown) => e);
    expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
  });
});

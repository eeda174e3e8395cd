import { join } from 'node:path';
import { createSessionManager, type SessionRecord } from '@org/session-core';
import { createTestClock, randomString, sessionRecordFixture } from '@org/session-core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_USER_BATCH_SIZE, SqliteStore } from '../src/index.js';
import { tempDir } from './helpers.js';

const temp = tempDir('batches');
afterAll(() => temp.remove());

let files = 0;
const freshPath = () => join(temp.dir, `batches-${++files}.db`);

const USER_SESSIONS = 30_000;

/** Writes many sessions of one user through `create`, in one transaction so the setup stays quick. */
async function seed(store: SqliteStore, records: SessionRecord[], now: number): Promise<void> {
  store.database.exec('BEGIN');
  try {
    for (const r of records) await store.create(r, now);
    store.database.exec('COMMIT');
  } catch (error) {
    store.database.exec('ROLLBACK');
    throw error;
  }
}

/**
 * Runs `operation` while another "request" reads a session over and over, each read waiting for the
 * event loop's next turn; returns the result and how many reads completed before it settled. A
 * call that never yields lets no read through.
 */
async function withReader<T>(
  store: SqliteStore,
  probe: SessionRecord,
  now: number,
  operation: () => Promise<T>,
): Promise<{ result: T; reads: number }> {
  let done = false;
  let reads = 0;
  const reader = (async () => {
    while (!done) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (done) break;
      expect((await store.get(probe.id, now))?.id).toBe(probe.id);
      reads++;
    }
  })();
  try {
    return { result: await operation(), reads };
  } finally {
    done = true;
    await reader;
  }
}

describe('SqliteStore per-user batches (item 4)', () => {
  const clock = createTestClock();

  it(`item 4: a user with ${USER_SESSIONS} sessions: listByUser and deleteByUser complete in batches while other requests are served`, async () => {
    const store = new SqliteStore({ path: freshPath(), migrate: true, synchronous: 'normal' });
    try {
      const now = clock.now();
      const userId = `user-${randomString(9)}`;
      // One fixture with fresh ids: hashing 30 000 secrets would dominate the test's time.
      const base = sessionRecordFixture(now, { userId });
      const records = Array.from({ length: USER_SESSIONS }, () => ({ ...base, id: randomString(16) }));
      const probe = sessionRecordFixture(now);
      await seed(store, [...records, probe], now);
      const batches = USER_SESSIONS / DEFAULT_USER_BATCH_SIZE;
      expect(store.userBatchSize).toBe(DEFAULT_USER_BATCH_SIZE);

      const listed = await withReader(store, probe, now, () => store.listByUser(userId, now));
      expect(listed.result).toHaveLength(USER_SESSIONS);
      expect(new Set(listed.result.map((r) => r.id)).size).toBe(USER_SESSIONS);
      // One read per turn of the event loop at most: many reads means many batches, each yielding.
      expect(listed.reads).toBeGreaterThanOrEqual(batches / 2);

      // Through the manager, as an admin screen would call it.
      const sessions = createSessionManager({ store, clock });
      expect(await sessions.list(userId)).toHaveLength(USER_SESSIONS);

      const keep = records[USER_SESSIONS - 1] as SessionRecord;
      const deleted = await withReader(store, probe, now, () => store.deleteByUser(userId, keep.id));
      expect(deleted.result).toBe(USER_SESSIONS - 1);
      expect(deleted.reads).toBeGreaterThanOrEqual(batches / 2);
      expect((await store.listByUser(userId, now)).map((r) => r.id)).toEqual([keep.id]);
      expect(await store.get(probe.id, now)).toEqual(probe);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('item 4: revokeAll on a user with many sessions ends them all in batches; other users keep theirs', async () => {
    const store = new SqliteStore({ path: freshPath(), migrate: true, userBatchSize: 50 });
    try {
      const sessions = createSessionManager({ store, clock });
      const now = clock.now();
      const userId = `user-${randomString(9)}`;
      const records = Array.from({ length: 1_000 }, () => sessionRecordFixture(now, { userId }));
      const probe = sessionRecordFixture(now);
      await seed(store, [...records, probe], now);
      const revoked = await withReader(store, probe, now, () => sessions.revokeAll(userId));
      expect(revoked.result).toBe(1_000);
      expect(revoked.reads).toBeGreaterThanOrEqual(10);
      expect(await store.listByUser(userId, now)).toEqual([]);
      expect(await store.get(probe.id, now)).toEqual(probe);
    } finally {
      await store.close();
    }
  });

  it('listByUser pages past batches of expired and revoked rows without losing a live one', async () => {
    const store = new SqliteStore({ path: freshPath(), migrate: true, userBatchSize: 3 });
    try {
      const now = clock.now();
      const userId = `user-${randomString(9)}`;
      const revoked = Array.from({ length: 7 }, () => sessionRecordFixture(now, { userId, createdAt: now - 1 }));
      const expired = Array.from({ length: 5 }, () =>
        sessionRecordFixture(now, { userId, createdAt: now, idleExpiresAt: now }),
      );
      const live = Array.from({ length: 4 }, () => sessionRecordFixture(now, { userId, createdAt: now }));
      await seed(store, [...revoked, ...expired, ...live], now);
      await store.setUserEpoch(userId, { validAfter: now, keep: null }, now + 60_000, now);
      const listed = (await store.listByUser(userId, now)).map((r) => r.id).sort();
      expect(listed).toEqual(live.map((r) => r.id).sort());
      // Exactly a multiple of the batch size: the walk ends on the empty page after it.
      expect(await store.deleteByUser(userId, live[0]?.id)).toBe(15);
      expect(await store.deleteByUser(userId)).toBe(1);
      expect(await store.deleteByUser(userId)).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('refuses a userBatchSize that is not a positive integer', () => {
    for (const userBatchSize of [0, -1, 1.5, Number.NaN]) {
      expect(() => new SqliteStore({ path: ':memory:', userBatchSize })).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID' }),
      );
    }
  });
});

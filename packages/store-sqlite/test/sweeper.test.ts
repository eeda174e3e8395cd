import { join } from 'node:path';
import { EXPIRED_RETENTION_MS, startSweeper } from '@org/session-core';
import { refreshFamilyFixture, sessionRecordFixture } from '@org/session-core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/index.js';
import { tempDir } from './helpers.js';

const T0 = Date.UTC(2026, 0, 1);
const expiredAt = (deadline: number) => ({ idleExpiresAt: null, absoluteExpiresAt: deadline });

describe('SqliteStore.deleteExpired and startSweeper', () => {
  const temp = tempDir('sweeper');
  const path = join(temp.dir, 'sessions.db');
  const store = new SqliteStore({ path, migrate: true });
  const other = new SqliteStore({ path });
  afterAll(async () => {
    await store.close();
    await other.close();
    temp.remove();
  });
  const rows = () =>
    (store.database.prepare('SELECT count(*) AS n FROM session_store_sessions').get() as { n: number }).n;

  it('deletes expired sessions and families past the retention, in batches, and keeps live ones', async () => {
    const old = Array.from({ length: 600 }, () => sessionRecordFixture(T0, expiredAt(T0 + 1_000)));
    const live = sessionRecordFixture(T0, expiredAt(T0 + 10 * EXPIRED_RETENTION_MS));
    for (const record of [...old, live]) await store.create(record, T0);
    await store.createRefreshFamily(refreshFamilyFixture(T0, expiredAt(T0 + 1_000)), T0);
    const now = T0 + 1_000 + EXPIRED_RETENTION_MS;
    expect(await store.deleteExpired(now)).toEqual({ sessions: 600, refreshFamilies: 1, done: true, skipped: false });
    expect(rows()).toBe(1);
    expect(await store.get(live.id, now)).not.toBeNull();
  });

  it('two stores on one file sweeping at once delete each row once, and startSweeper drives it', async () => {
    for (let i = 0; i < 300; i++) await store.create(sessionRecordFixture(T0, expiredAt(T0 + 2)), T0);
    const now = T0 + 2 + EXPIRED_RETENTION_MS;
    const [a, b] = await Promise.all([store.deleteExpired(now), other.deleteExpired(now)]);
    expect(a.sessions + b.sessions).toBe(300);
    expect(rows()).toBe(1);

    await other.create(sessionRecordFixture(T0, expiredAt(T0 + 3)), T0);
    const sweeper = startSweeper(other, { intervalMs: 60_000, clock: { now: () => T0 + 3 + EXPIRED_RETENTION_MS } });
    try {
      expect(await sweeper.sweepNow()).toEqual({ sessions: 1, refreshFamilies: 0, done: true, skipped: false });
    } finally {
      await sweeper.stop();
    }
    expect(rows()).toBe(1);
  });
});

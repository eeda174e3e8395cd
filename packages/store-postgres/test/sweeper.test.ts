import { EXPIRED_RETENTION_MS, startSweeper } from '@org/session-core';
import { refreshFamilyFixture, sessionRecordFixture } from '@org/session-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../src/index.js';
import { adminPool, dropSchema, freshSchema, PG_URL, postgresAvailable } from './helpers.js';

const available = await postgresAvailable();
const schema = freshSchema('sweeper');
const T0 = Date.UTC(2026, 0, 1);
const expiredAt = (deadline: number) => ({ idleExpiresAt: null, absoluteExpiresAt: deadline });

describe.skipIf(!available)('PostgresStore.deleteExpired and startSweeper', () => {
  const admin = adminPool();
  let store: PostgresStore;
  const count = async (table: string) =>
    Number((await admin.query(`SELECT count(*)::int AS n FROM "${schema}".${table}`)).rows[0].n);

  beforeAll(async () => {
    store = new PostgresStore({ connectionString: PG_URL, schema, poolConfig: { application_name: `${schema}-a` } });
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
    await dropSchema(admin, schema);
    await admin.end();
  });

  it('deletes expired sessions and families past the retention, in batches, and keeps live ones', async () => {
    const old = Array.from({ length: 600 }, () => sessionRecordFixture(T0, expiredAt(T0 + 1_000)));
    const live = sessionRecordFixture(T0);
    const all = [...old, live];
    for (let i = 0; i < all.length; i += 8) await Promise.all(all.slice(i, i + 8).map((r) => store.create(r, T0)));
    await store.createRefreshFamily(refreshFamilyFixture(T0, expiredAt(T0 + 1_000)), T0);
    const now = T0 + 1_000 + EXPIRED_RETENTION_MS;

    const result = await store.deleteExpired(now);
    expect(result).toEqual({ sessions: 600, refreshFamilies: 1, done: true, skipped: false });
    expect(await count('session_store_sessions')).toBe(1);
    expect(await store.get(live.id, now - EXPIRED_RETENTION_MS)).not.toBeNull();
    expect(await store.deleteExpired(now)).toEqual({ sessions: 0, refreshFamilies: 0, done: true, skipped: false });
  });

  it('sweeps on one instance at a time: a second store on the same tables is skipped while the lock is held', async () => {
    const other = new PostgresStore({
      connectionString: PG_URL,
      schema,
      poolConfig: { application_name: `${schema}-b` },
    });
    const holder = await admin.connect();
    try {
      await holder.query('SELECT pg_advisory_lock(hashtext($1))', [`"${schema}"."session_store_sessions":sweep`]);
      await store.create(sessionRecordFixture(T0, expiredAt(T0 + 1)), T0);
      const now = T0 + 1 + EXPIRED_RETENTION_MS;
      expect(await other.deleteExpired(now)).toEqual({ sessions: 0, refreshFamilies: 0, done: true, skipped: true });
      expect(await count('session_store_sessions')).toBe(2);
      await holder.query('SELECT pg_advisory_unlock(hashtext($1))', [`"${schema}"."session_store_sessions":sweep`]);

      // Two sweepers at once: exactly one sweeps each round, and the lock is released afterwards.
      const results = await Promise.all([store.deleteExpired(now), other.deleteExpired(now)]);
      expect(results.reduce((n, r) => n + r.sessions, 0)).toBe(1);
      expect(await count('session_store_sessions')).toBe(1);
      // Released: each store sweeps again on its own, never skipped.
      expect((await other.deleteExpired(now)).skipped).toBe(false);
      expect((await store.deleteExpired(now)).skipped).toBe(false);
    } finally {
      holder.release();
      await other.close();
    }
  });

  it('runs from startSweeper and fails with STORE_UNAVAILABLE when the server cannot be reached', async () => {
    await store.create(sessionRecordFixture(T0, expiredAt(T0 + 5)), T0);
    const sweeper = startSweeper(store, { intervalMs: 60_000, clock: { now: () => T0 + 5 + EXPIRED_RETENTION_MS } });
    try {
      expect((await sweeper.sweepNow()).sessions).toBe(1);
    } finally {
      await sweeper.stop();
    }
    const unreachable = new PostgresStore({
      connectionString: 'postgres://postgres@127.0.0.1:1/test',
      schema,
      connectionTimeoutMs: 500,
    });
    try {
      await expect(unreachable.deleteExpired(Date.now())).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    } finally {
      await unreachable.close();
    }
  });
});

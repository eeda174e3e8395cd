/**
 * The postgres (porsager) client beside the pg Pool, on a real PostgreSQL: what runs on one
 * connection of its own (migrate, the sweep under its advisory lock, the attempt counter's
 * transaction), failures mapped to the same codes, and what is not a client refused.
 */
import { isSessionError } from '@org/session-core';
import { randomString, sessionRecordFixture } from '@org/session-core/testing';
import { runAttemptCounterConformance } from '@org/session-core/testing/vitest';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresAttemptCounter, PostgresRevocationChannel, PostgresStore } from '../src/index.js';
import { adminPool, closedPort, dropSchema, freshSchema, PG_URL, postgresAvailable } from './helpers.js';

const available = await postgresAvailable();

describe.skipIf(!available)('PostgresStore on a postgres (porsager) client', () => {
  const admin = adminPool();
  const schema = freshSchema('porsager');
  const sql = postgres(PG_URL, { max: 6, onnotice: () => {} });
  const second = postgres(PG_URL, { max: 6, onnotice: () => {} });
  let turn = 0;

  beforeAll(async () => {
    await new PostgresAttemptCounter({ pool: sql, schema: 'public', table: `attempts_${schema}` }).migrate();
  });
  afterAll(async () => {
    await admin.query(`DROP TABLE IF EXISTS "public"."attempts_${schema}"`);
    await dropSchema(admin, schema);
    await Promise.all([sql.end({ timeout: 5 }), second.end({ timeout: 5 })]);
    await admin.end();
  });

  it('migrates in one transaction on a reserved connection, idempotently, also when two start together', async () => {
    const stores = [new PostgresStore({ pool: sql, schema }), new PostgresStore({ pool: second, schema })];
    const applied = await Promise.all(stores.map((store) => store.migrate()));
    expect(applied.flat()).toEqual(['001_init', '002_user_epochs', '003_once_keys']);
    expect(await stores[0]?.migrate()).toEqual([]);
    const { rows } = await admin.query(`SELECT name FROM "${schema}".session_store_migrations ORDER BY name`);
    expect(rows.map((r) => r.name)).toEqual(['001_init', '002_user_epochs', '003_once_keys']);
  });

  it('sweeps under the advisory lock on a reserved connection: one instance at a time, expired rows only', async () => {
    const store = new PostgresStore({ pool: sql, schema });
    const other = new PostgresStore({ pool: second, schema });
    const now = Date.now();
    const live = sessionRecordFixture(now, { idleExpiresAt: now + 60_000 });
    const dead = sessionRecordFixture(now - 3 * 3_600_000, {
      idleExpiresAt: now - 2 * 3_600_000,
      absoluteExpiresAt: now - 2 * 3_600_000,
    });
    await store.create(live, now);
    await store.create(dead, now - 3 * 3_600_000);
    await store.markOnce('gone', 1000, now - 5000);
    // Another session holds the sweep lock: this instance skips.
    const lock = await sql.reserve();
    try {
      await lock`SELECT pg_advisory_lock(hashtext(${`"${schema}"."session_store_sessions":sweep`}))`;
      expect(await other.deleteExpired(now)).toEqual({ sessions: 0, refreshFamilies: 0, done: true, skipped: true });
      await lock`SELECT pg_advisory_unlock(hashtext(${`"${schema}"."session_store_sessions":sweep`}))`;
    } finally {
      lock.release();
    }
    expect(await other.deleteExpired(now)).toEqual({ sessions: 1, refreshFamilies: 0, done: true, skipped: false });
    expect(await store.get(live.id, now)).toEqual(live);
    const { rows } = await admin.query(`SELECT id FROM "${schema}".session_store_once_keys WHERE id = 'gone'`);
    expect(rows).toEqual([]);
    // The lock was given back: the next sweep runs.
    expect((await store.deleteExpired(now)).skipped).toBe(false);
  });

  runAttemptCounterConformance('postgres client', {
    counter: () =>
      new PostgresAttemptCounter({ pool: turn++ % 2 ? sql : second, schema: 'public', table: `attempts_${schema}` }),
    keyPrefix: 'porsager',
  });

  it('an unreachable server, a closed client: STORE_UNAVAILABLE with the same reasons as on pg', async () => {
    const port = await closedPort();
    const unreachable = postgres(`postgres://postgres@127.0.0.1:${port}/test`, { max: 1, connect_timeout: 1 });
    const store = new PostgresStore({ pool: unreachable, schema });
    try {
      const error = await store.get(randomString(16), Date.now()).catch((e: unknown) => e);
      expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
      expect((error as { reason?: string }).reason).toBe('connection');
    } finally {
      await unreachable.end({ timeout: 1 });
    }
    const ended = postgres(PG_URL, { max: 1, onnotice: () => {} });
    const closed = new PostgresStore({ pool: ended, schema });
    await ended.end({ timeout: 5 });
    const error = await closed.get(randomString(16), Date.now()).catch((e: unknown) => e);
    expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
    expect((error as { reason?: string }).reason).toBe('closed');
  });

  it('terminated connections of a postgres client: STORE_UNAVAILABLE at worst, never a driver error, then it recovers', async () => {
    const applicationName = `porsager_${randomString(8)
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '_')}`;
    const client = postgres(PG_URL, { max: 3, onnotice: () => {}, connection: { application_name: applicationName } });
    const store = new PostgresStore({ pool: client, schema });
    try {
      const record = sessionRecordFixture(Date.now());
      await store.create(record, Date.now());
      await Promise.all(Array.from({ length: 6 }, () => store.get(record.id, Date.now())));
      const { rows } = await admin.query<{ terminated: boolean }>(
        'SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE application_name = $1',
        [applicationName],
      );
      expect(rows.length).toBeGreaterThan(0);
      // Each of the three dead connections may fail one call; on a loaded machine the driver can
      // take a moment to notice, so allow a bounded number of tries 100 ms apart (10 s at most).
      let recovered = false;
      for (let attempt = 0; attempt < 100 && !recovered; attempt++) {
        try {
          recovered = (await store.get(record.id, Date.now()))?.id === record.id;
        } catch (error) {
          expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      expect(recovered).toBe(true);
      for (let i = 0; i < 5; i++) expect(await store.get(record.id, Date.now())).toEqual(record);
    } finally {
      await client.end({ timeout: 5 });
    }
  });

  it('refuses anything that is neither a pg Pool nor a postgres client with CONFIG_INVALID', () => {
    for (const pool of [{}, { query: () => {} }, () => {}, 'postgres://x']) {
      for (const open of [
        () => new PostgresStore({ pool: pool as never }),
        () => new PostgresAttemptCounter({ pool: pool as never }),
        () => new PostgresRevocationChannel({ pool: pool as never, connectionString: PG_URL }),
      ]) {
        expect(open).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
      }
    }
  });
});

/**
 * SQL stores section: validate and create through the SessionManager on PostgresStore and
 * SqliteStore, each next to its floor measured in the same run on the same connection:
 * a bare `SELECT 1` round trip on the store's own pool (PostgreSQL), and a bare prepared SELECT of
 * the same row by primary key on the store's own database (SQLite).
 *
 * Targets (issue 4): a validate that needs no touch costs one round trip (one store call, about
 * the floor); a touch adds at most one more. Round trips are counted with `instrumentStore`, and
 * the times are shown beside them.
 *
 * PostgreSQL at SESSION_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/test), in a
 * schema of its own that is dropped afterwards; SQLite in a temp file that is removed afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSessionManager, type SessionStore } from '@org/session-core';
import { instrumentStore, randomString } from '@org/session-core/testing';
import { PostgresStore } from '@org/session-store-postgres';
import { SqliteStore } from '@org/session-store-sqlite';
import { type BenchResult, bench, printTable, printTarget } from './lib.ts';

const pgUrl = process.env.SESSION_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export async function run(): Promise<void> {
  await runPostgres();
  await runSqlite();
}

/** A manager whose clock moves one touch interval per validation, so every validation touches. */
function touchingManager(store: SessionStore) {
  let now = Date.now();
  const touchIntervalMs = 1000;
  const manager = createSessionManager({
    store,
    clock: { now: () => now },
    policy: { idleTimeoutMs: 30 * 60_000, absoluteTimeoutMs: 365 * 24 * 3_600_000, touchIntervalMs },
  });
  return {
    manager,
    tick: () => {
      now += touchIntervalMs;
    },
  };
}

/** The shared cases: validate with and without a touch, store.get alone, create. */
async function managerCases(store: SessionStore, label: string): Promise<BenchResult[]> {
  const frozenAt = Date.now();
  const sessions = createSessionManager({ store, clock: { now: () => frozenAt } });
  const seed = await sessions.create({ userId: 'bench-user', data: { role: 'member' } });
  const touching = touchingManager(store);
  const touched = await touching.manager.create({ userId: 'bench-user' });
  let counter = 0;
  return [
    await bench(`${label}.get alone`, () => store.get(seed.session.id, frozenAt)),
    await bench(`validateToken (${label}, no touch)`, () => sessions.validateToken(seed.token)),
    await bench(`validateToken (${label}, touch every call)`, () => {
      touching.tick();
      return touching.manager.validateToken(touched.token);
    }),
    await bench(`create (${label})`, () => sessions.create({ userId: `user-${counter++ % 1000}` })),
  ];
}

/** Store calls per operation, counted over 100 operations: the round-trip target. */
async function roundTrips(store: SessionStore): Promise<{ plain: number; touch: number }> {
  const probe = instrumentStore(store);
  const frozenAt = Date.now();
  const sessions = createSessionManager({ store: probe.store, clock: { now: () => frozenAt } });
  const { token } = await sessions.create({ userId: 'bench-user' });
  probe.reset();
  for (let i = 0; i < 100; i++) await sessions.validateToken(token);
  const plain = probe.total() / 100;
  const touching = touchingManager(probe.store);
  const touched = await touching.manager.create({ userId: 'bench-user' });
  probe.reset();
  for (let i = 0; i < 100; i++) {
    touching.tick();
    await touching.manager.validateToken(touched.token);
  }
  return { plain, touch: probe.total() / 100 };
}

async function runPostgres(): Promise<void> {
  const schema = `bench_${randomString(6)
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '_')}`;
  const store = new PostgresStore({ connectionString: pgUrl, schema });
  try {
    await store.migrate();
  } catch {
    console.log(`\n### PostgreSQL store\n\nSkipped: no PostgreSQL answers at ${pgUrl}.`);
    await store.close();
    return;
  }
  try {
    const table = `"${schema}".session_store_sessions`;
    const frozenAt = Date.now();
    const row = (await createSessionManager({ store, clock: { now: () => frozenAt } }).create({ userId: 'floor' }))
      .session;
    const floor = await bench('bare SELECT 1 (same pool)', () => store.pool.query('SELECT 1'));
    // The same query the store runs, without the store and the manager: one round trip that reads the row.
    const rowRead = await bench('bare SELECT of one row by primary key (named)', () =>
      store.pool.query({
        name: 'bench_row_read',
        text: `SELECT * FROM ${table} WHERE id = $1 AND expires_at > $2`,
        values: [row.id, frozenAt],
      }),
    );
    // One committed write of the columns a touch changes (expires_at is indexed): what a touch adds at best.
    let version = row.version;
    const rowWrite = await bench('bare UPDATE of one row by primary key (named)', () => {
      version++;
      return store.pool.query({
        name: 'bench_row_write',
        text: `UPDATE ${table} SET last_seen_at = $2, idle_expires_at = $3, expires_at = $3, version = $4 WHERE id = $1`,
        values: [row.id, frozenAt + version, frozenAt + version + 1_800_000, version],
      });
    });
    const ours = await managerCases(store, 'PostgresStore');
    const results = [floor, rowRead, rowWrite, ...ours];
    printTable(
      'store-sql: PostgresStore through the SessionManager vs bare round trips (same run)',
      results,
      floor.name,
    );
    const trips = await roundTrips(store);
    const [, validate, touching] = ours as [BenchResult, BenchResult, BenchResult];
    printTarget('PostgreSQL: round trips per validate without touch', trips.plain, 1, '');
    printTarget('PostgreSQL: round trips per validate with a touch', trips.touch, 2, '');
    printTarget('PostgreSQL: validate (no touch) / bare row SELECT', validate.nsPerOp / rowRead.nsPerOp, 1.3);
    printTarget(
      'PostgreSQL: validate with touch / (bare row SELECT + bare row UPDATE)',
      touching.nsPerOp / (rowRead.nsPerOp + rowWrite.nsPerOp),
      1.3,
    );
  } finally {
    await store.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
    await store.close();
  }
}

async function runSqlite(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'session-bench-sqlite-'));
  const store = new SqliteStore({ path: join(dir, 'sessions.db'), migrate: true });
  const relaxed = new SqliteStore({ path: join(dir, 'relaxed.db'), migrate: true, synchronous: 'normal' });
  try {
    const frozenAt = Date.now();
    const seedManager = createSessionManager({ store, clock: { now: () => frozenAt } });
    const seed = await seedManager.create({ userId: 'bench-user', data: { role: 'member' } });
    // The floor: the same row by primary key, one prepared statement on the store's own connection.
    const byId = store.database.prepare('SELECT * FROM session_store_sessions WHERE id = ? AND expires_at > ?');
    const floor = await bench('bare prepared SELECT by primary key', () => byId.get(seed.session.id, frozenAt));
    // One committed write of the columns a touch changes (synchronous: full, like the store): what a
    // touch adds at best.
    const bump = store.database.prepare(
      'UPDATE session_store_sessions SET last_seen_at = last_seen_at + 1, idle_expires_at = idle_expires_at + 1, expires_at = expires_at + 1, version = version + 1 WHERE id = ?',
    );
    const rowWrite = await bench('bare prepared UPDATE by primary key', () => bump.run(seed.session.id));
    let counter = 0;
    const relaxedSessions = createSessionManager({ store: relaxed, clock: { now: () => frozenAt } });
    const ours = await managerCases(store, 'SqliteStore');
    const results = [
      floor,
      rowWrite,
      ...ours,
      await bench('create (SqliteStore, synchronous: normal)', () =>
        relaxedSessions.create({ userId: `user-${counter++ % 1000}` }),
      ),
    ];
    printTable(
      'store-sql: SqliteStore through the SessionManager vs a bare prepared SELECT (same run)',
      results,
      floor.name,
    );
    const trips = await roundTrips(store);
    const [, validate, touching] = ours as [BenchResult, BenchResult, BenchResult];
    printTarget('SQLite: store calls per validate without touch', trips.plain, 1, '');
    printTarget('SQLite: store calls per validate with a touch', trips.touch, 2, '');
    // Here the "round trip" is a few microseconds, so the manager's own work (hashing, the store
    // timeout) weighs more than on a network store.
    printTarget('SQLite: validate (no touch) / bare prepared SELECT', validate.nsPerOp / floor.nsPerOp, 2.5);
    printTarget(
      'SQLite: validate with touch / (bare SELECT + bare UPDATE)',
      touching.nsPerOp / (floor.nsPerOp + rowWrite.nsPerOp),
      1.3,
    );
  } finally {
    await store.close();
    await relaxed.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

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
 * Touch before/after (issue 11): a validate that touches a session holding about 4 kB of data,
 * through the store's lean `touch` (one UPDATE of the deadline and version columns) and through
 * the same store with `touch` hidden, which makes the manager fall back to `update` with the whole
 * record (the path every touch took before). Interleaved in two rounds within one run; compare
 * only within the run.
 *
 * PostgreSQL at SESSION_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/test), in a
 * schema of its own that is dropped afterwards; SQLite in a temp file that is removed afterwards.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSessionManager, type SessionStore } from '@org/session-core';
import { instrumentStore, randomString } from '@org/session-core/testing';
import { PostgresStore } from '@org/session-store-postgres';
import { SqliteStore } from '@org/session-store-sqlite';
import type { Pool } from 'pg';
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

/**
 * `store` with its `touch` hidden: the manager then writes a touch with `update` and the whole
 * record, the data re-serialised and rewritten (how every touch was written before the lean path).
 */
function withoutTouch(store: SessionStore): SessionStore {
  return new Proxy(store, {
    get(target, key) {
      if (key === 'touch') return undefined;
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** About 4 kB of session data, as a cart or a set of preferences might hold. */
const BULKY_DATA = {
  role: 'member',
  cart: Array.from({ length: 95 }, (_, i) => ({
    sku: `sku-${i.toString().padStart(6, '0')}`,
    qty: i % 5,
    note: 'gift',
  })),
};

/** Validate with a touch on every call, before (whole-record update) and after (lean touch), interleaved. */
async function touchBeforeAfter(store: SessionStore, label: string): Promise<BenchResult[]> {
  const lean = touchingManager(store);
  const full = touchingManager(withoutTouch(store));
  const leanIssued = await lean.manager.create({ userId: 'bench-touch', data: BULKY_DATA });
  const fullIssued = await full.manager.create({ userId: 'bench-touch', data: BULKY_DATA });
  const results: BenchResult[] = [];
  for (let round = 1; round <= 2; round++) {
    results.push(
      await bench(`validate + touch, 4 kB data, ${label}: whole-record update (before), round ${round}`, () => {
        full.tick();
        return full.manager.validateToken(fullIssued.token);
      }),
      await bench(`validate + touch, 4 kB data, ${label}: lean touch (after), round ${round}`, () => {
        lean.tick();
        return lean.manager.validateToken(leanIssued.token);
      }),
    );
  }
  return results;
}

const TOUCHES = 50;

/**
 * What one touch writes, before and after, counted rather than timed (the times of a committed
 * write are mostly the disk's flush and vary a lot on a shared machine): `measure` runs `TOUCHES`
 * touching validations and answers the amount its probe counts per touch.
 */
async function touchFootprint(
  store: SessionStore,
  measure: (touches: () => Promise<void>) => Promise<number>,
): Promise<{ before: number; after: number }> {
  const perTouch = async (target: SessionStore) => {
    const touching = touchingManager(target);
    const { token } = await touching.manager.create({ userId: 'bench-touch', data: BULKY_DATA });
    const amount = await measure(async () => {
      for (let i = 0; i < TOUCHES; i++) {
        touching.tick();
        const result = await touching.manager.validateToken(token);
        if (result.status !== 'valid') throw new Error(`expected a valid session, got ${result.status}`);
      }
    });
    return amount / TOUCHES;
  };
  const before = await perTouch(withoutTouch(store));
  const after = await perTouch(store);
  return { before, after };
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
    // The store opened a pg Pool (connectionString): the bare round trips use it directly.
    const pool = store.pool as Pool;
    const floor = await bench('bare SELECT 1 (same pool)', () => pool.query('SELECT 1'));
    // The same query the store runs, without the store and the manager: one round trip that reads the row.
    const rowRead = await bench('bare SELECT of one row by primary key (named)', () =>
      pool.query({
        name: 'bench_row_read',
        text: `SELECT * FROM ${table} WHERE id = $1 AND expires_at > $2`,
        values: [row.id, frozenAt],
      }),
    );
    // One committed write of the columns a touch changes (expires_at is indexed): what a touch adds at best.
    let version = row.version;
    const rowWrite = await bench('bare UPDATE of one row by primary key (named)', () => {
      version++;
      return pool.query({
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
    printTable(
      'store-sql: PostgreSQL touch before/after (interleaved, same run)',
      await touchBeforeAfter(store, 'PostgreSQL'),
    );
    // Parameter bytes each statement sends (strings by length, numbers by their text), summed over the pool.
    let sentBytes = 0;
    const query = pool.query.bind(pool) as (config: { text: string; values?: unknown[] }) => Promise<unknown>;
    pool.query = ((config: { text: string; values?: unknown[] }) => {
      for (const value of config.values ?? []) sentBytes += value === null ? 0 : String(value).length;
      return query(config);
    }) as typeof pool.query;
    const sent = await touchFootprint(store, async (touches) => {
      sentBytes = 0;
      await touches();
      return sentBytes;
    });
    // WAL is cluster-wide: other writers on the server add to it, so read it as an upper bound.
    const walAt = async () => {
      const result = (await query({ text: "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::text AS n" })) as {
        rows: { n: string }[];
      };
      return BigInt(result.rows[0]?.n ?? '0');
    };
    const wal = await touchFootprint(store, async (touches) => {
      const start = await walAt();
      await touches();
      return Number((await walAt()) - start);
    });
    console.log(
      `PostgreSQL touch of a session with ${JSON.stringify(BULKY_DATA).length} bytes of data, per touch over ${TOUCHES}: ` +
        `parameter bytes sent (get + write) ${sent.before.toFixed(0)} before, ${sent.after.toFixed(0)} after; ` +
        `WAL bytes ${wal.before.toFixed(0)} before, ${wal.after.toFixed(0)} after (one run)`,
    );
  } finally {
    await (store.pool as Pool).query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
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
    printTable('store-sql: SQLite touch before/after (interleaved, same run)', await touchBeforeAfter(store, 'SQLite'));
    // WAL bytes appended per touch: the log is emptied before each measurement, so only these commits count.
    const walPath = `${store.database.name}-wal`;
    const wal = await touchFootprint(store, async (touches) => {
      store.database.pragma('wal_checkpoint(TRUNCATE)');
      await touches();
      return statSync(walPath).size;
    });
    console.log(
      `SQLite touch of a session with ${JSON.stringify(BULKY_DATA).length} bytes of data, per touch over ${TOUCHES}: ` +
        `WAL bytes ${wal.before.toFixed(0)} before, ${wal.after.toFixed(0)} after (one run)`,
    );
  } finally {
    await store.close();
    await relaxed.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

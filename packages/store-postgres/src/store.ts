import {
  type ExpiredSweep,
  type RefreshFamilyStore,
  type SessionData,
  SessionError,
  type SessionRecord,
  type SessionStore,
} from '@org/session-core';
import {
  type Batch,
  columnsMismatch,
  columnsOf,
  DEFAULT_DELETE_ALL_BATCH_SIZE,
  type DeleteAllOptions,
  type Dialect,
  deleteAllTables,
  positiveInteger,
  type QueryAnswer,
  quoteIdentifier,
  SESSION_COLUMNS,
  type SessionTable,
  type SharedStatement,
  SqlStore,
  SWEEP,
  type SweepOptions,
  type SweepResult,
  sharedStatements,
  sweepTables,
  walk,
} from '@org/session-sql-kit';
import type { PoolConfig } from 'pg';
import { adapterFor, type Connection, type PostgresClient, pgAdapter, type QueryAdapter } from './client.js';
import { toStoreError } from './errors.js';
import { loadPg } from './pg.js';
import {
  MIGRATIONS,
  type PostgresSchemaOptions,
  type ResolvedSchema,
  readMigrationTemplate,
  renderTemplate,
  resolveSchema,
} from './schema.js';

export {
  DEFAULT_DELETE_ALL_BATCH_SIZE,
  DEFAULT_SWEEP_BATCH_SIZE,
  DEFAULT_SWEEP_MAX_BATCHES,
  type DeleteAllOptions,
  type SweepOptions,
  type SweepResult,
} from '@org/session-sql-kit';

/** Default server-side `statement_timeout` and connect timeout of the pool the store opens (I2). */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 1000;
export const DEFAULT_CONNECTION_TIMEOUT_MS = 1000;
/** Rows per statement of `listByUser` and `deleteByUser`. */
export const DEFAULT_USER_BATCH_SIZE = 1000;

export interface PostgresStoreOptions extends PostgresSchemaOptions {
  /**
   * A client you own, the store uses it and never ends it: a `pg` Pool, or a `postgres`
   * (porsager) client 3.4 or later, told apart by what they have. Give it a `statement_timeout`
   * and a connect timeout yourself, and a pg Pool an `'error'` listener (see the README).
   */
  pool?: PostgresClient;
  /** Opens a pool the store owns (ended by `close()`), with the timeouts below. */
  connectionString?: string;
  /** More settings for the pool the store opens (`max`, `ssl`, `application_name`, ...). */
  poolConfig?: PoolConfig;
  /** Server-side `statement_timeout` of the pool the store opens. Default 1000 ms. */
  statementTimeoutMs?: number;
  /** How long the pool the store opens waits for a connection. Default 1000 ms. */
  connectionTimeoutMs?: number;
  /**
   * Use named prepared statements (parsed once per connection). Default true; turn off behind a
   * pooler that cannot track them (PgBouncer before 1.21 in transaction mode).
   */
  preparedStatements?: boolean;
  /**
   * Rows per statement when `listByUser` and `deleteByUser` walk one user's sessions (each batch
   * its own statement, bounded by the `statement_timeout`). Default 1000.
   */
  userBatchSize?: number;
}

interface Statement {
  name: string;
  text: string;
}

/** Types of the session columns, for the casts of the rotation statement (INSERT ... SELECT). */
const SESSION_COLUMN_TYPES: Record<(typeof SESSION_COLUMNS)[number], string> = {
  id: 'text',
  secret_hash: 'text',
  user_id: 'text',
  created_at: 'bigint',
  last_seen_at: 'bigint',
  idle_expires_at: 'bigint',
  absolute_expires_at: 'bigint',
  authenticated_at: 'bigint',
  persistent: 'boolean',
  // JSON text, cast on the server (see the shared statements): never typed jsonb by the driver.
  data: 'text::jsonb',
  metadata: 'text::jsonb',
  version: 'integer',
  expires_at: 'bigint',
};

/** PostgreSQL: native booleans, jsonb parsed by the driver, sweeps that skip rows other transactions hold. */
const POSTGRES: Dialect = { booleans: 'boolean', json: 'jsonb', rowid: false, skipLocked: true };

/**
 * A session store on PostgreSQL through `pg`: a `SessionStore` and a `RefreshFamilyStore`. Sessions,
 * refresh-token families and user epochs live in tables created by {@link PostgresStore.migrate} (or
 * by the shipped SQL, applied with your own tool). Updates are compare-and-set on `version` and
 * `generation`; every statement is parameterised; a failure to reach the server rejects with
 * `STORE_UNAVAILABLE`, never with a driver error, and is not retried. Expiry uses the `now` the
 * manager passes, never the database clock.
 *
 * @example
 * ```ts
 * import { createSessionManager } from '@org/session-core'
 * import { PostgresStore } from '@org/session-store-postgres'
 *
 * const store = new PostgresStore({ connectionString: process.env.DATABASE_URL })
 * await store.migrate() // once per deploy; idempotent
 * const sessions = createSessionManager({ store })
 * setInterval(() => store.sweep().catch(console.error), 5 * 60_000).unref()
 * ```
 */
export class PostgresStore<D extends SessionData = SessionData>
  extends SqlStore<D>
  implements SessionStore<D>, RefreshFamilyStore
{
  /** The client in use: yours (a pg Pool or a postgres client), or the pg Pool the store opened. */
  readonly pool: PostgresClient;
  /** Whether `close()` ends {@link pool}. */
  readonly ownsPool: boolean;
  readonly schema: ResolvedSchema;
  protected readonly userBatchSize: number;
  private readonly statements: ReturnType<typeof buildStatements>;
  private readonly prepared: boolean;
  /** One SQL path over either driver. */
  private readonly db: QueryAdapter;
  private closed = false;

  constructor(options: PostgresStoreOptions) {
    super(POSTGRES);
    if (!options || typeof options !== 'object') throw new SessionError('CONFIG_INVALID', 'Options are required');
    this.schema = resolveSchema(options);
    this.prepared = options.preparedStatements ?? true;
    this.userBatchSize = positiveInteger('userBatchSize', options.userBatchSize, DEFAULT_USER_BATCH_SIZE);
    this.statements = buildStatements(this.schema);
    if (options.pool) {
      if (options.connectionString !== undefined || options.poolConfig !== undefined) {
        throw new SessionError('CONFIG_INVALID', 'Pass either pool or connectionString/poolConfig, not both');
      }
      this.db = adapterFor(options.pool, 'pool');
      this.pool = options.pool;
      this.ownsPool = false;
      return;
    }
    if (options.connectionString === undefined && options.poolConfig === undefined) {
      throw new SessionError('CONFIG_INVALID', 'Pass a pool, a connectionString or a poolConfig');
    }
    const statementTimeout = positiveInteger(
      'statementTimeoutMs',
      options.statementTimeoutMs,
      DEFAULT_STATEMENT_TIMEOUT_MS,
    );
    const connectionTimeout = positiveInteger(
      'connectionTimeoutMs',
      options.connectionTimeoutMs,
      DEFAULT_CONNECTION_TIMEOUT_MS,
    );
    // Only here is pg needed: an app that passes a postgres client never loads it.
    const { Pool } = loadPg('A PostgresStore opened from a connectionString or poolConfig');
    const pool = new Pool({
      application_name: 'org-session-store',
      keepAlive: true,
      ...options.poolConfig,
      ...(options.connectionString === undefined ? {} : { connectionString: options.connectionString }),
      statement_timeout: statementTimeout,
      connectionTimeoutMillis: connectionTimeout,
      // Client-side backstop for a server that stopped answering altogether: the pool then drops
      // the connection instead of keeping it busy for ever.
      query_timeout: statementTimeout + connectionTimeout,
    });
    // An idle connection that dies (server restart, pg_terminate_backend) is reported here and
    // dropped by the pool; the next query opens a new one. Without a listener Node would crash.
    pool.on('error', () => {});
    this.pool = pool;
    this.db = pgAdapter(pool);
    this.ownsPool = true;
  }

  /**
   * Creates the schema, tables and indexes if missing, in one transaction guarded by an advisory
   * lock (so instances starting together do not race), and records what it applied in the
   * migrations table. Idempotent; never runs unless you call it. Returns the names it applied.
   */
  async migrate(): Promise<string[]> {
    const client = await this.connect();
    try {
      await client.query('BEGIN');
      // Migrations are not on the request path: allow them more than the per-request timeout.
      await client.query("SET LOCAL statement_timeout = '60s'");
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
        `${this.schema.schema}.${this.schema.tables.migrations}`,
      ]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(this.schema.schema)}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${this.schema.qualified.migrations} (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const done = new Set(
        (await client.query<{ name: string }>(`SELECT name FROM ${this.schema.qualified.migrations}`, [])).rows.map(
          (r) => r.name,
        ),
      );
      // A table of another shape under our name must not be half-adopted by the migration.
      await this.checkColumns(client);
      const applied: string[] = [];
      for (const name of MIGRATIONS) {
        if (done.has(name)) continue;
        await client.query(renderTemplate(await readMigrationTemplate(name), this.schema));
        await client.query(`INSERT INTO ${this.schema.qualified.migrations} (name) VALUES ($1)`, [name]);
        applied.push(name);
      }
      await this.checkColumns(client);
      await client.query('COMMIT');
      return applied;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw toStoreError(error);
    } finally {
      await client.release(false);
    }
  }

  /**
   * One statement, hence one transaction: deletes the old row if its version and deadline still
   * match and inserts the successor only then. Concurrent rotations queue on the old row's lock
   * and all but the first find it gone; a failed insert (the successor id exists, the connection
   * dies) rolls the delete back with it.
   */
  async rotate(oldId: string, expectedVersion: number, successor: SessionRecord<D>, now: number): Promise<boolean> {
    const { rows } = await this.run(this.statements.rotateSession, [
      ...this.codec.sessionValues(successor),
      oldId,
      expectedVersion,
      now,
    ]);
    const result = rows[0] as { rotated: number; taken: boolean } | undefined;
    if (result?.rotated === 1) return true;
    // Nothing was rotated: a successor id that is already taken is still the caller's error.
    if (result?.taken) throw new SessionError('STORE_CONFLICT', 'The id already exists');
    return false;
  }

  /**
   * Deletes in keyset batches of `userBatchSize` rows, each its own statement and short
   * transaction, and ends only on a batch that started from the user's first row, saw fewer rows
   * than a batch in one snapshot and deleted every one of them. A rotation swaps one row for
   * another atomically, so that snapshot held the old row or the successor: the old one, and the
   * rotation cannot succeed any more (its row is gone); the successor, and it is deleted. A walk
   * that reached its end past the first batch, or lost rows to a concurrent writer (a rotation may
   * have put the successor behind the walk), starts over from the first row; normally that costs
   * one more round trip, which finds nothing.
   */
  async deleteByUser(userId: string, exceptId?: string): Promise<number> {
    const except = exceptId ?? null;
    const size = this.userBatchSize;
    const { deleted } = await walk(async (after): Promise<Batch> => {
      const { rows } = await (after === null
        ? this.run(this.statements.deleteByUserFirst, [userId, except, size])
        : this.run(this.statements.deleteByUserNext, [userId, except, size, after]));
      const batch = rows[0] as unknown as BatchResult;
      if (batch.selected === size && batch.last !== null)
        return { deleted: batch.deleted, over: false, after: batch.last };
      // The user's last batch: the walk is over only if it started from the first row and lost
      // nothing to a concurrent writer; otherwise it starts over.
      return { deleted: batch.deleted, over: after === null && batch.deleted === batch.selected, after: null };
    });
    return deleted;
  }

  /**
   * Deletes sessions and refresh families whose deadline passed `EXPIRED_RETENTION_MS` (1 h) ago,
   * and user epochs past their own `expires_at`, in small batches, each its own statement and
   * transaction, skipping rows another transaction holds (`FOR UPDATE SKIP LOCKED`): no long lock,
   * no blocked request. Run it from a timer or a job every few minutes; reads already ignore
   * expired rows, so sweeping only reclaims space. The retention keeps a session that expired a
   * moment ago readable, so the manager reports it as expired rather than unknown.
   *
   * @example
   * ```ts
   * const timer = setInterval(() => store.sweep({ batchSize: 500 }).catch(log.error), 5 * 60_000)
   * timer.unref()
   * ```
   */
  async sweep(options: SweepOptions = {}): Promise<SweepResult> {
    return this.sweepExpired(options);
  }

  /**
   * The sweep `startSweeper` drives, one instance at a time: on one pooled connection it takes a
   * session-level advisory lock named after the sessions table (`pg_try_advisory_lock`, never
   * waiting), runs the batches of {@link sweep} there, each its own short transaction, and unlocks.
   * An instance that finds the lock taken deletes nothing and answers `skipped: true`. A connection
   * that dies mid-sweep takes its lock with it, so a crash never leaves the sweep locked.
   */
  async deleteExpired(now: number): Promise<ExpiredSweep> {
    const client = await this.connect();
    let healthy = false;
    try {
      const lockName = `${this.schema.qualified.sessions}:sweep`;
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [
        lockName,
      ]);
      if (!rows[0]?.locked) {
        healthy = true;
        return { sessions: 0, refreshFamilies: 0, done: true, skipped: true };
      }
      const result = await sweepTables({ now }, async (table, cutOff, batchSize) => {
        return (await client.query(this.statements[SWEEP[table]].text, [cutOff, batchSize])).rowCount;
      });
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [lockName]);
      healthy = true;
      return { sessions: result.sessions, refreshFamilies: result.refreshFamilies, done: result.done, skipped: false };
    } catch (error) {
      throw toStoreError(error);
    } finally {
      // A connection that failed may still hold the lock: release(true) lets it go with the lock.
      await client.release(!healthy);
    }
  }

  /**
   * Deletes every session, refresh family and user epoch in this store's three tables (E3: log
   * everyone out) and returns how many sessions it deleted, expired rows not yet swept included.
   * Other tables and schemas are never touched. Administrative, never on a request path: it walks each table
   * in primary-key order, `batchSize` rows per statement, each its own short transaction, so no
   * lock is held for long and requests go on meanwhile (a row being updated is waited for, never
   * skipped). Each statement is bounded by the pool's `statement_timeout`; on a failure it rejects
   * with `STORE_UNAVAILABLE` and can simply be called again. Sessions created while it runs may
   * survive it.
   *
   * @example
   * ```ts
   * const ended = await store.deleteAll() // or, with an event: sessions.revokeEveryone()
   * ```
   */
  async deleteAll(options: DeleteAllOptions = {}): Promise<number> {
    const size = positiveInteger('batchSize', options.batchSize, DEFAULT_DELETE_ALL_BATCH_SIZE);
    // Keyset walk: each batch starts after the last key of the one before, so no statement
    // rescans the dead rows that earlier batches left behind.
    return deleteAllTables(async (table, after): Promise<Batch> => {
      const [first, next] = this.statements.deleteAll[table];
      const { rows } = await (after === null ? this.run(first, [size]) : this.run(next, [size, after]));
      const batch = rows[0] as BatchResult | undefined;
      const over = !batch || batch.last === null || batch.selected < size;
      return { deleted: batch?.deleted ?? 0, over, after: batch?.last ?? null };
    });
  }

  /** Ends the pool if the store opened it; a pool you passed in stays open. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsPool) await this.db.end();
  }

  protected async query(statement: SharedStatement, values: unknown[]): Promise<QueryAnswer> {
    const { rows, rowCount } = await this.run(this.statements[statement], values);
    return { rows, changes: rowCount };
  }

  private async run(statement: Statement, values: unknown[]) {
    try {
      return await this.db.query(statement.text, values, this.prepared ? statement.name : undefined);
    } catch (error) {
      throw toStoreError(error);
    }
  }

  private async connect(): Promise<Connection> {
    try {
      return await this.db.connect();
    } catch (error) {
      throw toStoreError(error);
    }
  }

  /** A table that existed before under the same name but with other columns is a configuration error. */
  private async checkColumns(client: Connection): Promise<void> {
    for (const [table, columns] of columnsOf(this.schema.qualified)) {
      const { rows } = await client.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [
        table,
      ]);
      if (!rows[0]?.present) continue;
      try {
        await client.query('SAVEPOINT check_columns');
        await client.query(`SELECT ${columns.join(', ')} FROM ${table} LIMIT 0`);
        await client.query('RELEASE SAVEPOINT check_columns');
      } catch (error) {
        if ((error as { code?: unknown }).code !== '42703') throw error;
        throw columnsMismatch(table, error);
      }
    }
  }
}

/** What one keyset batch of a delete answers (see {@link deleteBatchText}). */
interface BatchResult {
  selected: number;
  deleted: number;
  last: string | null;
}

function buildStatements(schema: ResolvedSchema) {
  const sessions = schema.qualified.sessions;
  const s = SESSION_COLUMNS.length;
  const typed = SESSION_COLUMNS.map((column, i) => `$${i + 1}::${SESSION_COLUMN_TYPES[column]}`).join(', ');
  const texts = {
    ...sharedStatements(schema.qualified, POSTGRES),
    // The INSERT reads from the DELETE: no old row deleted, no successor inserted. `taken` tells
    // a successor id already in use from an old row that is gone or changed.
    rotateSession:
      `WITH old AS (DELETE FROM ${sessions} WHERE id = $${s + 1} AND version = $${s + 2} AND expires_at > $${s + 3} RETURNING id), ` +
      `successor AS (INSERT INTO ${sessions} (${SESSION_COLUMNS.join(', ')}) SELECT ${typed} FROM old RETURNING id) ` +
      `SELECT (SELECT count(*) FROM successor)::int AS rotated, EXISTS (SELECT 1 FROM ${sessions} WHERE id = $1) AS taken`,
    deleteByUserFirst: deleteBatchText(sessions, 'id', { user: true, after: false }),
    deleteByUserNext: deleteBatchText(sessions, 'id', { user: true, after: true }),
  };
  const named = (text: string): Statement => ({ name: `session_store_${fnv1a(text)}`, text });
  const keyset = (table: SessionTable, key: string): [Statement, Statement] => [
    named(deleteBatchText(schema.qualified[table], key, { user: false, after: false })),
    named(deleteBatchText(schema.qualified[table], key, { user: false, after: true })),
  ];
  return {
    ...(Object.fromEntries(Object.entries(texts).map(([key, text]) => [key, named(text)])) as Record<
      keyof typeof texts,
      Statement
    >),
    deleteAll: {
      sessions: keyset('sessions', 'id'),
      refreshFamilies: keyset('refreshFamilies', 'id'),
      userEpochs: keyset('userEpochs', 'user_id'),
    } satisfies Record<SessionTable, [Statement, Statement]>,
  };
}

/**
 * One keyset batch of a delete walk, by primary key `key`. For `deleteAll` (`user: false`): up to
 * $1 rows, after $2 when `after`. For `deleteByUser` (`user: true`): up to $3 rows of user $1
 * other than id $2, after $4 when `after`. Answers how many rows the batch selected, how many it
 * deleted (a concurrent logout or rotation may have taken some) and its last key, where the next
 * batch starts.
 */
function deleteBatchText(table: string, key: string, { user, after }: { user: boolean; after: boolean }): string {
  const conditions = user ? ['user_id = $1', 'id IS DISTINCT FROM $2::text'] : [];
  if (after) conditions.push(`${key} > ${user ? '$4' : '$2'}`);
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')} ` : '';
  return (
    `WITH batch AS (SELECT ${key} FROM ${table} ${where}ORDER BY ${key} LIMIT ${user ? '$3' : '$1'}), ` +
    `gone AS (DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM batch)${user ? ' AND user_id = $1' : ''} RETURNING 1) ` +
    'SELECT (SELECT count(*) FROM batch)::int AS selected, (SELECT count(*) FROM gone)::int AS deleted, ' +
    `(SELECT max(${key}) FROM batch) AS last`
  );
}

/** A short, stable name per statement text, so two stores with other table names never share one. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, '0');
}

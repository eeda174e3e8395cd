import {
  EXPIRED_RETENTION_MS,
  type RefreshFamilyRecord,
  recordExpiresAt,
  type SessionData,
  SessionError,
  type SessionRecord,
  type SessionStore,
  type UserEpoch,
} from '@org/session-core';
import { Pool, type PoolClient, type PoolConfig, type QueryResultRow } from 'pg';
import { toStoreError } from './errors.js';
import {
  MIGRATIONS,
  type PostgresSchemaOptions,
  quoteIdentifier,
  type ResolvedSchema,
  readMigrationTemplate,
  renderTemplate,
  resolveSchema,
} from './schema.js';

/** Default server-side `statement_timeout` and connect timeout of the pool the store opens (I2). */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 1000;
export const DEFAULT_CONNECTION_TIMEOUT_MS = 1000;
export const DEFAULT_SWEEP_BATCH_SIZE = 500;
export const DEFAULT_SWEEP_MAX_BATCHES = 100;
export const DEFAULT_DELETE_ALL_BATCH_SIZE = 500;
/** Rows per statement of `listByUser` and `deleteByUser`. */
export const DEFAULT_USER_BATCH_SIZE = 1000;

export interface PostgresStoreOptions extends PostgresSchemaOptions {
  /**
   * A pool you own: the store uses it and never ends it. Give it a `statement_timeout` and a
   * `connectionTimeoutMillis` yourself, and an `'error'` listener (see the README).
   */
  pool?: Pool;
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

export interface SweepOptions {
  /**
   * The manager's clock. Sessions and refresh families are deleted once their deadline is
   * `EXPIRED_RETENTION_MS` (1 h) or more before it, user epochs once their own `expires_at` is at
   * or before it. Default `Date.now()`.
   */
  now?: number;
  /** Rows deleted per statement (each its own short transaction). Default 500. */
  batchSize?: number;
  /** Upper bound on batches per table in one call. Default 100. */
  maxBatches?: number;
}

export interface SweepResult {
  sessions: number;
  refreshFamilies: number;
  userEpochs: number;
  /** Statements run, over the three tables. */
  batches: number;
  /** False when `maxBatches` stopped the sweep before the end: call again. */
  done: boolean;
}

export interface DeleteAllOptions {
  /** Rows deleted per statement (each its own short transaction). Default 500. */
  batchSize?: number;
}

interface Statement {
  name: string;
  text: string;
}

const SESSION_COLUMNS = [
  'id',
  'secret_hash',
  'user_id',
  'created_at',
  'last_seen_at',
  'idle_expires_at',
  'absolute_expires_at',
  'authenticated_at',
  'persistent',
  'data',
  'metadata',
  'version',
  'expires_at',
] as const;

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
  data: 'jsonb',
  metadata: 'jsonb',
  version: 'integer',
  expires_at: 'bigint',
};

const EPOCH_COLUMNS = ['user_id', 'valid_after', 'keep_id', 'expires_at'] as const;

const FAMILY_COLUMNS = [
  'id',
  'session_id',
  'user_id',
  'generation',
  'current_hash',
  'previous_hash',
  'rotated_at',
  'created_at',
  'last_used_at',
  'idle_expires_at',
  'absolute_expires_at',
  'revoked_at',
  'expires_at',
] as const;

/**
 * A session store on PostgreSQL through `pg`. Sessions and refresh-token families live in two
 * tables created by {@link PostgresStore.migrate} (or by the shipped SQL, applied with your own tool).
 * Updates are compare-and-set on `version`/`generation`; every statement is parameterised; a failure
 * to reach the server rejects with `STORE_UNAVAILABLE`, never with a driver error, and is not retried.
 * Expiry uses the `now` the manager passes, never the database clock.
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
export class PostgresStore<D extends SessionData = SessionData> implements SessionStore<D> {
  /** The pool in use: yours, or the one the store opened. */
  readonly pool: Pool;
  /** Whether `close()` ends {@link pool}. */
  readonly ownsPool: boolean;
  readonly schema: ResolvedSchema;
  private readonly statements: ReturnType<typeof buildStatements>;
  private readonly prepared: boolean;
  private readonly userBatchSize: number;
  private closed = false;

  constructor(options: PostgresStoreOptions) {
    if (!options || typeof options !== 'object') throw new SessionError('CONFIG_INVALID', 'Options are required');
    this.schema = resolveSchema(options);
    this.prepared = options.preparedStatements ?? true;
    this.userBatchSize = positive('userBatchSize', options.userBatchSize, DEFAULT_USER_BATCH_SIZE);
    this.statements = buildStatements(this.schema);
    if (options.pool) {
      if (options.connectionString !== undefined || options.poolConfig !== undefined) {
        throw new SessionError('CONFIG_INVALID', 'Pass either pool or connectionString/poolConfig, not both');
      }
      this.pool = options.pool;
      this.ownsPool = false;
      return;
    }
    if (options.connectionString === undefined && options.poolConfig === undefined) {
      throw new SessionError('CONFIG_INVALID', 'Pass a pool, a connectionString or a poolConfig');
    }
    const statementTimeout = positive('statementTimeoutMs', options.statementTimeoutMs, DEFAULT_STATEMENT_TIMEOUT_MS);
    const connectionTimeout = positive(
      'connectionTimeoutMs',
      options.connectionTimeoutMs,
      DEFAULT_CONNECTION_TIMEOUT_MS,
    );
    this.pool = new Pool({
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
    this.pool.on('error', () => {});
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
        (await client.query<{ name: string }>(`SELECT name FROM ${this.schema.qualified.migrations}`)).rows.map(
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
      client.release();
    }
  }

  async create(record: SessionRecord<D>, _now: number): Promise<void> {
    await this.run(this.statements.createSession, sessionValues(record));
  }

  /** One statement: the user's epoch is joined in, so a revoked record costs no second round trip. */
  async get(id: string, now: number): Promise<SessionRecord<D> | null> {
    const { rows } = await this.run(this.statements.getSession, [id, now]);
    return rows[0] ? toSessionRecord<D>(rows[0]) : null;
  }

  /**
   * One statement, hence one transaction: deletes the old row if its version and deadline still
   * match and inserts the successor only then. Concurrent rotations queue on the old row's lock
   * and all but the first find it gone; a failed insert (the successor id exists, the connection
   * dies) rolls the delete back with it.
   */
  async rotate(oldId: string, expectedVersion: number, successor: SessionRecord<D>, now: number): Promise<boolean> {
    const { rows } = await this.run(this.statements.rotateSession, [
      ...sessionValues(successor),
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

  async update(record: SessionRecord<D>, expectedVersion: number, now: number): Promise<boolean> {
    const { rowCount } = await this.run(this.statements.updateSession, [
      ...sessionValues(record),
      expectedVersion,
      now,
    ]);
    return rowCount === 1;
  }

  async delete(id: string): Promise<boolean> {
    const { rowCount } = await this.run(this.statements.deleteSession, [id]);
    return rowCount === 1;
  }

  /**
   * Walks the user's rows in id order, `userBatchSize` per statement (each bounded by the
   * `statement_timeout`), and keeps the live ones that the user's epoch does not revoke. A user
   * with fewer rows than a batch costs one round trip.
   */
  async listByUser(userId: string, now: number): Promise<SessionRecord<D>[]> {
    const live: SessionRecord<D>[] = [];
    let after: string | null = null;
    for (;;) {
      const { rows } = await (after === null
        ? this.run(this.statements.listByUserFirst, [userId, now, this.userBatchSize])
        : this.run(this.statements.listByUserNext, [userId, now, this.userBatchSize, after]));
      for (const row of rows) if (row.live === true) live.push(toSessionRecord<D>(row));
      // Expired and revoked rows count towards the batch too: no statement scans more than a batch.
      if (rows.length < this.userBatchSize) return live;
      after = rows[rows.length - 1]?.id as string;
    }
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
    let deleted = 0;
    let after: string | null = null;
    for (;;) {
      const { rows } = await (after === null
        ? this.run(this.statements.deleteByUserFirst, [userId, except, this.userBatchSize])
        : this.run(this.statements.deleteByUserNext, [userId, except, this.userBatchSize, after]));
      const batch = rows[0] as BatchResult;
      deleted += batch.deleted;
      if (batch.selected === this.userBatchSize && batch.last !== null) {
        after = batch.last;
        continue;
      }
      if (after === null && batch.deleted === batch.selected) return deleted;
      after = null;
    }
  }

  /**
   * Writes the epoch unless a live one with a later `valid_after` is held: one upsert, so two
   * concurrent calls end with the later epoch whatever their order.
   */
  async setUserEpoch(userId: string, epoch: UserEpoch, expiresAt: number, now: number): Promise<void> {
    await this.run(this.statements.setUserEpoch, [userId, epoch.validAfter, epoch.keep, expiresAt, now]);
  }

  async getUserEpoch(userId: string, now: number): Promise<UserEpoch | null> {
    const { rows } = await this.run(this.statements.getUserEpoch, [userId, now]);
    const row = rows[0];
    return row ? { validAfter: int(row.valid_after), keep: row.keep_id } : null;
  }

  async createRefreshFamily(family: RefreshFamilyRecord, _now: number): Promise<void> {
    await this.run(this.statements.createFamily, familyValues(family));
  }

  async getRefreshFamily(id: string, now: number): Promise<RefreshFamilyRecord | null> {
    const { rows } = await this.run(this.statements.getFamily, [id, now]);
    return rows[0] ? toFamilyRecord(rows[0]) : null;
  }

  async updateRefreshFamily(family: RefreshFamilyRecord, expectedGeneration: number, now: number): Promise<boolean> {
    const { rowCount } = await this.run(this.statements.updateFamily, [
      ...familyValues(family),
      expectedGeneration,
      now,
    ]);
    return rowCount === 1;
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
    const now = options.now ?? Date.now();
    const batchSize = positive('batchSize', options.batchSize, DEFAULT_SWEEP_BATCH_SIZE);
    const maxBatches = positive('maxBatches', options.maxBatches, DEFAULT_SWEEP_MAX_BATCHES);
    const result: SweepResult = { sessions: 0, refreshFamilies: 0, userEpochs: 0, batches: 0, done: true };
    const retained = now - EXPIRED_RETENTION_MS;
    for (const [key, statement, before] of [
      ['sessions', this.statements.sweepSessions, retained],
      ['refreshFamilies', this.statements.sweepFamilies, retained],
      ['userEpochs', this.statements.sweepEpochs, now],
    ] as const) {
      for (let batch = 0; ; batch++) {
        if (batch === maxBatches) {
          result.done = false;
          break;
        }
        const { rowCount } = await this.run(statement, [before, batchSize]);
        result.batches++;
        result[key] += rowCount ?? 0;
        if ((rowCount ?? 0) < batchSize) break;
      }
    }
    return result;
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
    const batchSize = positive('batchSize', options.batchSize, DEFAULT_DELETE_ALL_BATCH_SIZE);
    let sessions = 0;
    for (const [first, next, counted] of [
      [this.statements.deleteAllSessionsFirst, this.statements.deleteAllSessionsNext, true],
      [this.statements.deleteAllFamiliesFirst, this.statements.deleteAllFamiliesNext, false],
      [this.statements.deleteAllEpochsFirst, this.statements.deleteAllEpochsNext, false],
    ] as const) {
      // Keyset walk: each batch starts after the last id of the one before, so no statement
      // rescans the dead rows that earlier batches left behind.
      let after: string | null = null;
      for (;;) {
        const { rows } = await (after === null ? this.run(first, [batchSize]) : this.run(next, [batchSize, after]));
        const batch = rows[0] as BatchResult | undefined;
        if (counted) sessions += batch?.deleted ?? 0;
        if (!batch || batch.last === null || batch.selected < batchSize) break;
        after = batch.last;
      }
    }
    return sessions;
  }

  /** Ends the pool if the store opened it; a pool you passed in stays open. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsPool) await this.pool.end();
  }

  private async run(statement: Statement, values: unknown[]) {
    try {
      return await this.pool.query<QueryResultRow>(
        this.prepared ? { name: statement.name, text: statement.text, values } : { text: statement.text, values },
      );
    } catch (error) {
      throw toStoreError(error);
    }
  }

  private async connect(): Promise<PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      throw toStoreError(error);
    }
  }

  /** A table that existed before under the same name but with other columns is a configuration error. */
  private async checkColumns(client: PoolClient): Promise<void> {
    for (const [table, columns] of [
      [this.schema.qualified.sessions, SESSION_COLUMNS],
      [this.schema.qualified.refreshFamilies, FAMILY_COLUMNS],
      [this.schema.qualified.userEpochs, EPOCH_COLUMNS],
    ] as const) {
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
        throw new SessionError(
          'CONFIG_INVALID',
          `The existing table ${table} does not have the columns this store needs; choose other table names`,
          { cause: error },
        );
      }
    }
  }
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback;
  if (!Number.isInteger(result) || result <= 0) {
    throw new SessionError('CONFIG_INVALID', `${name} must be a positive integer`);
  }
  return result;
}

/** What one keyset batch of a delete answers (see {@link deleteBatchText}). */
interface BatchResult {
  selected: number;
  deleted: number;
  last: string | null;
}

function buildStatements(schema: ResolvedSchema) {
  const sessions = schema.qualified.sessions;
  const families = schema.qualified.refreshFamilies;
  const epochs = schema.qualified.userEpochs;
  const sessionList = SESSION_COLUMNS.join(', ');
  const sessionListAs = SESSION_COLUMNS.map((column) => `s.${column}`).join(', ');
  const familyList = FAMILY_COLUMNS.join(', ');
  const placeholders = (count: number) => Array.from({ length: count }, (_, i) => `$${i + 1}`).join(', ');
  // Columns 2..n are assigned from the same positions as in INSERT; $1 is the id in WHERE.
  const assignments = (columns: readonly string[]) =>
    columns
      .slice(1)
      .map((column, i) => `${column} = $${i + 2}`)
      .join(', ');
  const s = SESSION_COLUMNS.length;
  const f = FAMILY_COLUMNS.length;
  const typed = SESSION_COLUMNS.map((column, i) => `$${i + 1}::${SESSION_COLUMN_TYPES[column]}`).join(', ');
  // The user's epoch, if one is live at $2, joined to each session row (isRevokedByEpoch in SQL):
  // a row is revoked when it was created before valid_after and is not the one kept.
  const withEpoch = `${sessions} s LEFT JOIN ${epochs} e ON e.user_id = s.user_id AND e.expires_at > $2`;
  const notRevoked = 'NOT (e.user_id IS NOT NULL AND s.created_at < e.valid_after AND s.id IS DISTINCT FROM e.keep_id)';
  const listBatch = (after: boolean) =>
    `SELECT ${sessionListAs}, (s.expires_at > $2 AND ${notRevoked}) AS live FROM ${withEpoch} ` +
    `WHERE s.user_id = $1 ${after ? 'AND s.id > $4 ' : ''}ORDER BY s.id LIMIT $3`;
  const texts = {
    createSession: `INSERT INTO ${sessions} (${sessionList}) VALUES (${placeholders(s)})`,
    getSession: `SELECT ${sessionListAs} FROM ${withEpoch} WHERE s.id = $1 AND s.expires_at > $2 AND ${notRevoked}`,
    updateSession: `UPDATE ${sessions} SET ${assignments(SESSION_COLUMNS)} WHERE id = $1 AND version = $${s + 1} AND expires_at > $${s + 2}`,
    // The INSERT reads from the DELETE: no old row deleted, no successor inserted. `taken` tells
    // a successor id already in use from an old row that is gone or changed.
    rotateSession:
      `WITH old AS (DELETE FROM ${sessions} WHERE id = $${s + 1} AND version = $${s + 2} AND expires_at > $${s + 3} RETURNING id), ` +
      `successor AS (INSERT INTO ${sessions} (${sessionList}) SELECT ${typed} FROM old RETURNING id) ` +
      `SELECT (SELECT count(*) FROM successor)::int AS rotated, EXISTS (SELECT 1 FROM ${sessions} WHERE id = $1) AS taken`,
    deleteSession: `DELETE FROM ${sessions} WHERE id = $1`,
    listByUserFirst: listBatch(false),
    listByUserNext: listBatch(true),
    deleteByUserFirst: deleteBatchText(sessions, 'id', { user: true, after: false }),
    deleteByUserNext: deleteBatchText(sessions, 'id', { user: true, after: true }),
    setUserEpoch:
      `INSERT INTO ${epochs} AS e (user_id, valid_after, keep_id, expires_at) VALUES ($1, $2, $3, $4) ` +
      'ON CONFLICT (user_id) DO UPDATE SET valid_after = excluded.valid_after, keep_id = excluded.keep_id, ' +
      'expires_at = excluded.expires_at WHERE e.valid_after <= excluded.valid_after OR e.expires_at <= $5',
    getUserEpoch: `SELECT valid_after, keep_id FROM ${epochs} WHERE user_id = $1 AND expires_at > $2`,
    createFamily: `INSERT INTO ${families} (${familyList}) VALUES (${placeholders(f)})`,
    getFamily: `SELECT ${familyList} FROM ${families} WHERE id = $1 AND expires_at > $2`,
    updateFamily: `UPDATE ${families} SET ${assignments(FAMILY_COLUMNS)} WHERE id = $1 AND generation = $${f + 1} AND expires_at > $${f + 2}`,
    sweepSessions: sweepText(sessions, 'id'),
    sweepFamilies: sweepText(families, 'id'),
    sweepEpochs: sweepText(epochs, 'user_id'),
    deleteAllSessionsFirst: deleteBatchText(sessions, 'id', { user: false, after: false }),
    deleteAllSessionsNext: deleteBatchText(sessions, 'id', { user: false, after: true }),
    deleteAllFamiliesFirst: deleteBatchText(families, 'id', { user: false, after: false }),
    deleteAllFamiliesNext: deleteBatchText(families, 'id', { user: false, after: true }),
    deleteAllEpochsFirst: deleteBatchText(epochs, 'user_id', { user: false, after: false }),
    deleteAllEpochsNext: deleteBatchText(epochs, 'user_id', { user: false, after: true }),
  };
  return Object.fromEntries(
    Object.entries(texts).map(([key, text]) => [key, { name: `session_store_${fnv1a(text)}`, text }]),
  ) as Record<keyof typeof texts, Statement>;
}

/** `$1` is the cut-off: rows whose `expires_at` is at or before it go. */
function sweepText(table: string, key: string): string {
  // The outer condition repeats the inner one: a row extended between the two is kept.
  return `DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${table} WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED) AND expires_at <= $1`;
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

function sessionValues<D extends SessionData>(r: SessionRecord<D>): unknown[] {
  return [
    r.id,
    r.secretHash,
    r.userId,
    r.createdAt,
    r.lastSeenAt,
    r.idleExpiresAt,
    r.absoluteExpiresAt,
    r.authenticatedAt,
    r.persistent,
    JSON.stringify(r.data),
    JSON.stringify(r.metadata),
    r.version,
    recordExpiresAt(r),
  ];
}

function familyValues(f: RefreshFamilyRecord): unknown[] {
  return [
    f.id,
    f.sessionId,
    f.userId,
    f.generation,
    f.currentHash,
    f.previousHash,
    f.rotatedAt,
    f.createdAt,
    f.lastUsedAt,
    f.idleExpiresAt,
    f.absoluteExpiresAt,
    f.revokedAt,
    recordExpiresAt(f),
  ];
}

// bigint columns arrive as strings (pg keeps 64-bit precision); our times fit in a double.
const int = (value: unknown): number => Number(value);
const intOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

function toSessionRecord<D extends SessionData>(row: QueryResultRow): SessionRecord<D> {
  return {
    id: row.id,
    secretHash: row.secret_hash,
    userId: row.user_id,
    createdAt: int(row.created_at),
    lastSeenAt: int(row.last_seen_at),
    idleExpiresAt: intOrNull(row.idle_expires_at),
    absoluteExpiresAt: int(row.absolute_expires_at),
    authenticatedAt: int(row.authenticated_at),
    persistent: row.persistent,
    data: row.data,
    metadata: row.metadata,
    version: row.version,
  };
}

function toFamilyRecord(row: QueryResultRow): RefreshFamilyRecord {
  return {
    id: row.id,
    sessionId: row.session_id,
    userId: row.user_id,
    generation: row.generation,
    currentHash: row.current_hash,
    previousHash: row.previous_hash,
    rotatedAt: intOrNull(row.rotated_at),
    createdAt: int(row.created_at),
    lastUsedAt: int(row.last_used_at),
    idleExpiresAt: intOrNull(row.idle_expires_at),
    absoluteExpiresAt: int(row.absolute_expires_at),
    revokedAt: intOrNull(row.revoked_at),
  };
}

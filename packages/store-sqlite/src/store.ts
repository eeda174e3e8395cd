import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
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
import Database from 'better-sqlite3';
import { toStoreError } from './errors.js';
import {
  MIGRATIONS,
  type ResolvedTables,
  readMigrationTemplate,
  renderTemplate,
  resolveTables,
  type SqliteSchemaOptions,
} from './schema.js';

/** Where the store keeps its database when you name no path (relative to the working directory). */
export const DEFAULT_SQLITE_PATH = '.data/sessions.db';
/** How long a write waits for another connection's write lock before failing (I2). */
export const DEFAULT_BUSY_TIMEOUT_MS = 1000;
export const DEFAULT_SWEEP_BATCH_SIZE = 500;
export const DEFAULT_SWEEP_MAX_BATCHES = 100;
export const DEFAULT_DELETE_ALL_BATCH_SIZE = 500;
/** Rows per statement when `listByUser` and `deleteByUser` walk one user's sessions. */
export const DEFAULT_USER_BATCH_SIZE = 500;

export interface SqliteStoreOptions extends SqliteSchemaOptions {
  /**
   * Database file the store opens (and closes); its parent directory is created if missing.
   * Default `.data/sessions.db`. `:memory:` works but is neither persistent nor shared.
   */
  path?: string;
  /** A better-sqlite3 database you own: the store uses it and never closes it or changes its settings. */
  database?: Database.Database;
  /** Apply the shipped migrations in the constructor (idempotent). Default false: call `migrate()` yourself. */
  migrate?: boolean;
  /** Busy timeout of the database the store opens. Default 1000 ms. The wait blocks the event loop. */
  busyTimeoutMs?: number;
  /** Open the file read-only: reads work, every write fails with `STORE_UNAVAILABLE`. */
  readonly?: boolean;
  /**
   * `full` (default) makes every commit durable across power loss, so a logout is never undone;
   * `normal` is faster in WAL mode but may lose the last commits on power loss (not on a crash).
   */
  synchronous?: 'full' | 'normal';
  /**
   * Rows per statement when `listByUser` and `deleteByUser` walk one user's sessions. Default 500.
   * Between batches the store yields to the event loop, so a user with tens of thousands of
   * sessions never holds up other requests for more than one batch.
   */
  userBatchSize?: number;
}

export interface SweepOptions {
  /**
   * The manager's clock. Default `Date.now()`. Sessions and refresh families are deleted once
   * their deadline lies `EXPIRED_RETENTION_MS` (1 h) or more before it, user epochs once their
   * `expires_at` is at or before it.
   */
  now?: number;
  /** Rows deleted per statement (each its own short write transaction). Default 500. */
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
  /** Rows deleted per statement (each its own short write transaction). Default 500. */
  batchSize?: number;
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

const USER_EPOCH_COLUMNS = ['user_id', 'valid_after', 'keep_id', 'expires_at'] as const;

type Statements = ReturnType<typeof prepareStatements>;
type Row = Record<string, unknown>;

/**
 * A session store in one SQLite file through better-sqlite3: the embedded, persistent default.
 * WAL mode lets reads go on while a write is in progress; sessions survive a process restart.
 * The driver is synchronous: each call runs to completion (microseconds on a local file) and the
 * async methods only wrap it to fit the store contract. Updates are compare-and-set, a rotation is
 * one transaction, and reads apply the user's revocation epoch in the same statement; expiry uses
 * the `now` the manager passes, never SQLite's clock; a locked, read-only or closed database
 * rejects with `STORE_UNAVAILABLE`.
 *
 * @example
 * ```ts
 * import { createSessionManager } from '@org/session-core'
 * import { SqliteStore } from '@org/session-store-sqlite'
 *
 * const store = new SqliteStore({ path: '.data/sessions.db', migrate: true })
 * const sessions = createSessionManager({ store })
 * setInterval(() => store.sweep().catch(console.error), 5 * 60_000).unref()
 * ```
 */
export class SqliteStore<D extends SessionData = SessionData> implements SessionStore<D> {
  /** The better-sqlite3 database in use: yours, or the one the store opened. */
  readonly database: Database.Database;
  /** Whether `close()` closes {@link database}. */
  readonly ownsDatabase: boolean;
  readonly tables: ResolvedTables;
  /** Rows per statement of `listByUser` and `deleteByUser`. */
  readonly userBatchSize: number;
  private statements: Statements | null = null;

  constructor(options: SqliteStoreOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new SessionError('CONFIG_INVALID', 'Options must be an object');
    }
    this.tables = resolveTables(options);
    this.userBatchSize = positive('userBatchSize', options.userBatchSize, DEFAULT_USER_BATCH_SIZE);
    if (options.database) {
      if (options.path !== undefined || options.readonly !== undefined || options.busyTimeoutMs !== undefined) {
        throw new SessionError('CONFIG_INVALID', 'Pass either database or path/readonly/busyTimeoutMs, not both');
      }
      this.database = options.database;
      this.ownsDatabase = false;
    } else {
      this.database = openDatabase(options);
      this.ownsDatabase = true;
    }
    if (options.migrate) {
      try {
        this.migrateNow();
      } catch (error) {
        if (this.ownsDatabase) this.database.close();
        throw error;
      }
    }
  }

  /**
   * Creates the tables and indexes if missing, in one write transaction (so processes starting
   * together do not race), and records what it applied. Idempotent; runs only when you call it or
   * pass `migrate: true`. Returns the names it applied.
   */
  async migrate(): Promise<string[]> {
    return this.migrateNow();
  }

  async create(record: SessionRecord<D>, _now: number): Promise<void> {
    this.run((sql) => sql.createSession.run(sessionValues(record)));
  }

  /** One statement: the row, unless it is expired at `now` or revoked by its user's epoch. */
  async get(id: string, now: number): Promise<SessionRecord<D> | null> {
    const row = this.run((sql) => sql.getSession.get({ id, now }) as Row | undefined);
    return row ? toSessionRecord<D>(row) : null;
  }

  async update(record: SessionRecord<D>, expectedVersion: number, now: number): Promise<boolean> {
    const values = updateValues(sessionValues(record), expectedVersion, now);
    return this.run((sql) => sql.updateSession.run(values).changes === 1);
  }

  async delete(id: string): Promise<boolean> {
    return this.run((sql) => sql.deleteSession.run(id).changes === 1);
  }

  /**
   * Atomic rotation in one `BEGIN IMMEDIATE` transaction: deletes `oldId` if it still has
   * `expectedVersion` and is live at `now`, then inserts `successor`. If the insert fails (the id
   * exists: `STORE_CONFLICT`; or any other error) the transaction rolls back and the old record
   * stays. A successor id that exists is `STORE_CONFLICT` even when there was nothing to rotate. Another connection (another process) rotating the same session waits for the write
   * lock and then finds the version changed: exactly one rotation wins.
   */
  async rotate(oldId: string, expectedVersion: number, successor: SessionRecord<D>, now: number): Promise<boolean> {
    const values = sessionValues(successor);
    return this.run((sql) => sql.rotate.immediate({ id: oldId, version: expectedVersion, now }, values));
  }

  /**
   * The user's live sessions, read in pages of `userBatchSize` rows in id order, yielding to the
   * event loop between pages. Each page is one statement that also applies the user's epoch. The
   * pages are not one snapshot: a session created or rotated during the walk may be missed.
   */
  async listByUser(userId: string, now: number): Promise<SessionRecord<D>[]> {
    const records: SessionRecord<D>[] = [];
    const limit = this.userBatchSize;
    // Ids are non-empty, so every id sorts after ''. The cursor is the last row read, live or
    // not, so a page never rereads rows that an earlier page skipped.
    let after = '';
    for (;;) {
      const rows = this.run((sql) => sql.listByUser.all({ userId, now, after, limit }) as Row[]);
      for (const row of rows) if (row.visible === 1) records.push(toSessionRecord<D>(row));
      if (rows.length < limit) return records;
      after = rows[rows.length - 1]?.id as string;
      await yieldToEventLoop();
    }
  }

  /**
   * Deletes the user's sessions (expired ones included) but `exceptId`, `userBatchSize` rows per
   * statement, each its own short write transaction, yielding to the event loop between them.
   * Sessions of the user created while it runs may be deleted too.
   */
  async deleteByUser(userId: string, exceptId?: string): Promise<number> {
    const limit = this.userBatchSize;
    let deleted = 0;
    for (;;) {
      // Deleted rows are gone from the index, so each statement starts at the user's first row left.
      const changes = this.run((sql) => sql.deleteByUser.run({ userId, exceptId: exceptId ?? null, limit }).changes);
      deleted += changes;
      if (changes < limit) return deleted;
      await yieldToEventLoop();
    }
  }

  /**
   * Upserts the user's epoch unless the stored one has a later `validAfter` and is still held at
   * `now` (an equal `validAfter` replaces it, `keep` and `expiresAt` included).
   */
  async setUserEpoch(userId: string, epoch: UserEpoch, expiresAt: number, now: number): Promise<void> {
    const values = { userId, validAfter: epoch.validAfter, keep: epoch.keep ?? null, expiresAt, now };
    this.run((sql) => sql.setUserEpoch.run(values));
  }

  async getUserEpoch(userId: string, now: number): Promise<UserEpoch | null> {
    const row = this.run((sql) => sql.getUserEpoch.get(userId, now) as Row | undefined);
    return row ? { validAfter: row.valid_after as number, keep: row.keep_id as string | null } : null;
  }

  async createRefreshFamily(family: RefreshFamilyRecord, _now: number): Promise<void> {
    this.run((sql) => sql.createFamily.run(familyValues(family)));
  }

  async getRefreshFamily(id: string, now: number): Promise<RefreshFamilyRecord | null> {
    const row = this.run((sql) => sql.getFamily.get(id, now) as Row | undefined);
    return row ? toFamilyRecord(row) : null;
  }

  async updateRefreshFamily(family: RefreshFamilyRecord, expectedGeneration: number, now: number): Promise<boolean> {
    const values = updateValues(familyValues(family), expectedGeneration, now);
    return this.run((sql) => sql.updateFamily.run(values).changes === 1);
  }

  /**
   * Deletes expired rows in small batches, each its own short write transaction, yielding to the
   * event loop between batches so requests are served meanwhile. Sessions and refresh families
   * are kept `EXPIRED_RETENTION_MS` (1 h) past their deadline, so the manager, which reads that far
   * back, reports a session that expired a moment ago as expired rather than unknown; user epochs
   * go once their `expires_at` has passed. Run it from a timer every few minutes; reads already
   * ignore expired rows, so sweeping only reclaims space.
   *
   * @example
   * ```ts
   * setInterval(() => store.sweep({ batchSize: 500 }).catch(console.error), 5 * 60_000).unref()
   * ```
   */
  async sweep(options: SweepOptions = {}): Promise<SweepResult> {
    const now = options.now ?? Date.now();
    const batchSize = positive('batchSize', options.batchSize, DEFAULT_SWEEP_BATCH_SIZE);
    const maxBatches = positive('maxBatches', options.maxBatches, DEFAULT_SWEEP_MAX_BATCHES);
    const result: SweepResult = { sessions: 0, refreshFamilies: 0, userEpochs: 0, batches: 0, done: true };
    const retained = now - EXPIRED_RETENTION_MS;
    const plan = [
      ['sessions', retained],
      ['refreshFamilies', retained],
      ['userEpochs', now],
    ] as const;
    for (const [key, deadline] of plan) {
      for (let batch = 0; ; batch++) {
        if (batch === maxBatches) {
          result.done = false;
          break;
        }
        const deleted = this.run((sql) => sql.sweep[key].run(deadline, batchSize)).changes;
        result.batches++;
        result[key] += deleted;
        if (deleted < batchSize) break;
        await yieldToEventLoop();
      }
    }
    return result;
  }

  /**
   * Deletes every session, refresh family and user epoch in this store's tables (E3: log everyone
   * out) and returns how many sessions it deleted, expired rows not yet swept included. Other
   * tables in the same file are never touched. Administrative, never on a request path: `batchSize` rows per
   * statement, each its own short write transaction, yielding to the event loop between batches
   * so requests are served meanwhile. Sessions created while it runs may be deleted too.
   *
   * @example
   * ```ts
   * const ended = await store.deleteAll() // or, with an event: sessions.revokeEveryone()
   * ```
   */
  async deleteAll(options: DeleteAllOptions = {}): Promise<number> {
    const batchSize = positive('batchSize', options.batchSize, DEFAULT_DELETE_ALL_BATCH_SIZE);
    let sessions = 0;
    for (const table of ['sessions', 'refreshFamilies', 'userEpochs'] as const) {
      // Each statement deletes from the start of the table, so a short batch means it is empty.
      for (;;) {
        const deleted = this.run((sql) => sql.deleteAll[table].run(batchSize)).changes;
        if (table === 'sessions') sessions += deleted;
        if (deleted < batchSize) break;
        await yieldToEventLoop();
      }
    }
    return sessions;
  }

  /** Closes the database if the store opened it (WAL is checkpointed); yours stays open. Idempotent. */
  async close(): Promise<void> {
    if (this.ownsDatabase && this.database.open) this.database.close();
  }

  private run<T>(operation: (sql: Statements) => T): T {
    try {
      this.statements ??= prepareStatements(this.database, this.tables);
      return operation(this.statements);
    } catch (error) {
      throw toStoreError(error);
    }
  }

  private migrateNow(): string[] {
    const db = this.database;
    const { quoted } = this.tables;
    const apply = db.transaction(() => {
      db.exec(
        `CREATE TABLE IF NOT EXISTS ${quoted.migrations} (name TEXT NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`,
      );
      // A table of another shape under our name must not be half-adopted by the migration.
      this.checkColumns();
      const done = new Set(db.prepare(`SELECT name FROM ${quoted.migrations}`).pluck().all() as string[]);
      const applied: string[] = [];
      for (const name of MIGRATIONS) {
        if (done.has(name)) continue;
        db.exec(renderTemplate(readMigrationTemplate(name), this.tables));
        db.prepare(`INSERT INTO ${quoted.migrations} (name, applied_at) VALUES (?, ?)`).run(name, Date.now());
        applied.push(name);
      }
      this.checkColumns();
      return applied;
    });
    try {
      // IMMEDIATE takes the write lock first, so two processes migrating at once run one after the other.
      const applied = apply.immediate();
      this.statements = null;
      return applied;
    } catch (error) {
      throw toStoreError(error);
    }
  }

  /** A table that existed before under the same name but with other columns is a configuration error. */
  private checkColumns(): void {
    const db = this.database;
    for (const [table, columns] of [
      [this.tables.tables.sessions, SESSION_COLUMNS],
      [this.tables.tables.refreshFamilies, FAMILY_COLUMNS],
      [this.tables.tables.userEpochs, USER_EPOCH_COLUMNS],
    ] as const) {
      const present = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
      if (!present) continue;
      try {
        db.prepare(`SELECT ${columns.join(', ')} FROM "${table}" LIMIT 0`);
      } catch (error) {
        throw new SessionError(
          'CONFIG_INVALID',
          `The existing table ${table} does not have the columns this store needs; choose other table names`,
          { cause: error },
        );
      }
    }
  }
}

function openDatabase(options: SqliteStoreOptions): Database.Database {
  const path = options.path ?? DEFAULT_SQLITE_PATH;
  if (typeof path !== 'string') throw new SessionError('CONFIG_INVALID', 'path must be a string');
  const readonly = options.readonly === true;
  const busyTimeout = positive('busyTimeoutMs', options.busyTimeoutMs, DEFAULT_BUSY_TIMEOUT_MS);
  const synchronous = options.synchronous ?? 'full';
  if (synchronous !== 'full' && synchronous !== 'normal') {
    throw new SessionError('CONFIG_INVALID', "synchronous must be 'full' or 'normal'");
  }
  const inMemory = path === '' || path === ':memory:';
  let database: Database.Database | undefined;
  try {
    if (!inMemory && !readonly) mkdirSync(dirname(resolve(path)), { recursive: true });
    database = new Database(path, { readonly, fileMustExist: readonly, timeout: busyTimeout });
    if (!readonly) {
      // WAL: readers never wait for the writer and a commit is one append; persistent per file.
      database.pragma('journal_mode = WAL');
      database.pragma(`synchronous = ${synchronous.toUpperCase()}`);
    }
    return database;
  } catch (error) {
    database?.close();
    throw toStoreError(error);
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((done) => setImmediate(done));
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback;
  if (!Number.isInteger(result) || result <= 0) {
    throw new SessionError('CONFIG_INVALID', `${name} must be a positive integer`);
  }
  return result;
}

function prepareStatements(db: Database.Database, { quoted }: ResolvedTables) {
  const sessions = quoted.sessions;
  const families = quoted.refreshFamilies;
  const epochs = quoted.userEpochs;
  const sessionList = SESSION_COLUMNS.join(', ');
  const sessionColumns = SESSION_COLUMNS.map((column) => `s.${column}`).join(', ');
  const familyList = FAMILY_COLUMNS.join(', ');
  const placeholders = (count: number) => Array.from({ length: count }, () => '?').join(', ');
  // Every column but the id, in INSERT order; see updateValues for the parameters.
  const assignments = (columns: readonly string[]) =>
    columns
      .slice(1)
      .map((column) => `${column} = ?`)
      .join(', ');
  // The user's epoch held at @now, if any (a LEFT JOIN: a user without one has NULLs here).
  const withEpoch = `${sessions} AS s LEFT JOIN ${epochs} AS e ON e.user_id = s.user_id AND e.expires_at > @now`;
  // Live at @now and not revoked by the epoch: isRevokedByEpoch of core, in SQL.
  const visible = `s.expires_at > @now AND (e.user_id IS NULL OR s.created_at >= e.valid_after OR s.id IS e.keep_id)`;
  const sweep = (table: string) =>
    `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE expires_at <= ? LIMIT ?)`;
  // SQLite frees deleted rows at once, so the next batch starts at the next live row: no rescans.
  const deleteBatch = (table: string) => `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} LIMIT ?)`;
  const createSession = db.prepare(
    `INSERT INTO ${sessions} (${sessionList}) VALUES (${placeholders(SESSION_COLUMNS.length)})`,
  );
  const sessionExists = db.prepare(`SELECT 1 FROM ${sessions} WHERE id = ?`);
  const deleteLiveVersion = db.prepare(
    `DELETE FROM ${sessions} WHERE id = @id AND version = @version AND expires_at > @now`,
  );
  return {
    createSession,
    getSession: db.prepare(`SELECT ${sessionColumns} FROM ${withEpoch} WHERE s.id = @id AND ${visible}`),
    updateSession: db.prepare(
      `UPDATE ${sessions} SET ${assignments(SESSION_COLUMNS)} WHERE id = ? AND version = ? AND expires_at > ?`,
    ),
    // A failing insert (a duplicate id, a full disk) throws, and the transaction rolls the delete
    // back. When nothing is rotated, a successor id already taken is still the caller's error, as
    // on every store.
    rotate: db.transaction((old: { id: string; version: number; now: number }, successor: unknown[]) => {
      if (deleteLiveVersion.run(old).changes === 1) {
        createSession.run(successor);
        return true;
      }
      if (sessionExists.get(successor[0]) !== undefined) {
        throw new SessionError('STORE_CONFLICT', 'The id already exists');
      }
      return false;
    }),
    deleteSession: db.prepare(`DELETE FROM ${sessions} WHERE id = ?`),
    // One page of the user's rows in id order (the (user_id, id) index), each with whether it is
    // visible, so the caller can continue after the last row read even when that row is hidden.
    listByUser: db.prepare(
      `SELECT ${sessionColumns}, (${visible}) AS visible FROM ${withEpoch}
       WHERE s.user_id = @userId AND s.id > @after ORDER BY s.id LIMIT @limit`,
    ),
    deleteByUser: db.prepare(
      `DELETE FROM ${sessions} WHERE rowid IN
         (SELECT rowid FROM ${sessions} WHERE user_id = @userId AND id IS NOT @exceptId LIMIT @limit)`,
    ),
    // Epochs never move back: a stored one with a later valid_after wins unless it has expired.
    setUserEpoch: db.prepare(
      `INSERT INTO ${epochs} (user_id, valid_after, keep_id, expires_at) VALUES (@userId, @validAfter, @keep, @expiresAt)
       ON CONFLICT (user_id) DO UPDATE SET
         valid_after = excluded.valid_after, keep_id = excluded.keep_id, expires_at = excluded.expires_at
       WHERE excluded.valid_after >= ${epochs}.valid_after OR ${epochs}.expires_at <= @now`,
    ),
    getUserEpoch: db.prepare(`SELECT valid_after, keep_id FROM ${epochs} WHERE user_id = ? AND expires_at > ?`),
    createFamily: db.prepare(`INSERT INTO ${families} (${familyList}) VALUES (${placeholders(FAMILY_COLUMNS.length)})`),
    getFamily: db.prepare(`SELECT ${familyList} FROM ${families} WHERE id = ? AND expires_at > ?`),
    updateFamily: db.prepare(
      `UPDATE ${families} SET ${assignments(FAMILY_COLUMNS)} WHERE id = ? AND generation = ? AND expires_at > ?`,
    ),
    sweep: {
      sessions: db.prepare(sweep(sessions)),
      refreshFamilies: db.prepare(sweep(families)),
      userEpochs: db.prepare(sweep(epochs)),
    },
    deleteAll: {
      sessions: db.prepare(deleteBatch(sessions)),
      refreshFamilies: db.prepare(deleteBatch(families)),
      userEpochs: db.prepare(deleteBatch(epochs)),
    },
  };
}

/** `SET` takes every value but the id; `WHERE` takes the id, the expected version and now. */
function updateValues(values: unknown[], expected: number, now: number): unknown[] {
  return [...values.slice(1), values[0], expected, now];
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
    r.persistent ? 1 : 0,
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

function toSessionRecord<D extends SessionData>(row: Row): SessionRecord<D> {
  return {
    id: row.id as string,
    secretHash: row.secret_hash as string,
    userId: row.user_id as string,
    createdAt: row.created_at as number,
    lastSeenAt: row.last_seen_at as number,
    idleExpiresAt: row.idle_expires_at as number | null,
    absoluteExpiresAt: row.absolute_expires_at as number,
    authenticatedAt: row.authenticated_at as number,
    persistent: row.persistent === 1,
    data: JSON.parse(row.data as string) as D,
    metadata: JSON.parse(row.metadata as string),
    version: row.version as number,
  };
}

function toFamilyRecord(row: Row): RefreshFamilyRecord {
  return {
    id: row.id as string,
    sessionId: row.session_id as string,
    userId: row.user_id as string,
    generation: row.generation as number,
    currentHash: row.current_hash as string,
    previousHash: row.previous_hash as string | null,
    rotatedAt: row.rotated_at as number | null,
    createdAt: row.created_at as number,
    lastUsedAt: row.last_used_at as number,
    idleExpiresAt: row.idle_expires_at as number | null,
    absoluteExpiresAt: row.absolute_expires_at as number,
    revokedAt: row.revoked_at as number | null,
  };
}

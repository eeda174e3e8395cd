import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  type RefreshFamilyRecord,
  recordExpiresAt,
  type SessionData,
  SessionError,
  type SessionRecord,
  type SessionStore,
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

export interface SqliteStoreOptions extends SqliteSchemaOptions {
  /**
   * Database file the store opens (and closes); its parent directory is created if missing.
   * Default `.data/sessions.db`. `:memory:` works but is neither persistent nor shared.
   */
  path?: string;
  /** A better-sqlite3 database you own: the store uses it and never closes it or changes its settings. */
  database?: Database.Database;
  /** Apply the shipped migration in the constructor (idempotent). Default false: call `migrate()` yourself. */
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
}

export interface SweepOptions {
  /** The manager's clock: rows whose deadline is at or before it are deleted. Default `Date.now()`. */
  now?: number;
  /** Rows deleted per statement (each its own short write transaction). Default 500. */
  batchSize?: number;
  /** Upper bound on batches per table in one call. Default 100. */
  maxBatches?: number;
}

export interface SweepResult {
  sessions: number;
  refreshFamilies: number;
  /** Statements run, over both tables. */
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

type Statements = ReturnType<typeof prepareStatements>;
type Row = Record<string, unknown>;

/**
 * A session store in one SQLite file through better-sqlite3: the embedded, persistent default.
 * WAL mode lets reads go on while a write is in progress; sessions survive a process restart.
 * The driver is synchronous: each call runs to completion (microseconds on a local file) and the
 * async methods only wrap it to fit the store contract. Updates are compare-and-set; expiry uses the
 * `now` the manager passes, never SQLite's clock; a locked, read-only or closed database rejects
 * with `STORE_UNAVAILABLE`.
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
  private statements: Statements | null = null;

  constructor(options: SqliteStoreOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new SessionError('CONFIG_INVALID', 'Options must be an object');
    }
    this.tables = resolveTables(options);
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

  async get(id: string, now: number): Promise<SessionRecord<D> | null> {
    const row = this.run((sql) => sql.getSession.get(id, now) as Row | undefined);
    return row ? toSessionRecord<D>(row) : null;
  }

  async update(record: SessionRecord<D>, expectedVersion: number, now: number): Promise<boolean> {
    const values = updateValues(sessionValues(record), expectedVersion, now);
    return this.run((sql) => sql.updateSession.run(values).changes === 1);
  }

  async delete(id: string): Promise<boolean> {
    return this.run((sql) => sql.deleteSession.run(id).changes === 1);
  }

  async listByUser(userId: string, now: number): Promise<SessionRecord<D>[]> {
    const rows = this.run((sql) => sql.listByUser.all(userId, now) as Row[]);
    return rows.map((row) => toSessionRecord<D>(row));
  }

  async deleteByUser(userId: string, exceptId?: string): Promise<number> {
    return this.run((sql) => sql.deleteByUser.run(userId, exceptId ?? null).changes);
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
   * Deletes expired sessions and refresh families in small batches, each its own short write
   * transaction, yielding to the event loop between batches so requests are served meanwhile. Run
   * it from a timer every few minutes; reads already ignore expired rows, so sweeping only reclaims
   * space.
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
    const result: SweepResult = { sessions: 0, refreshFamilies: 0, batches: 0, done: true };
    for (const key of ['sessions', 'refreshFamilies'] as const) {
      for (let batch = 0; ; batch++) {
        if (batch === maxBatches) {
          result.done = false;
          break;
        }
        const deleted = this.run((sql) =>
          (key === 'sessions' ? sql.sweepSessions : sql.sweepFamilies).run(now, batchSize),
        ).changes;
        result.batches++;
        result[key] += deleted;
        if (deleted < batchSize) break;
        await new Promise<void>((done) => setImmediate(done));
      }
    }
    return result;
  }

  /**
   * Deletes every session and refresh family in this store's two tables (E3: log everyone out)
   * and returns how many sessions it deleted, expired rows not yet swept included. Other tables in
   * the same file are never touched. Administrative, never on a request path: `batchSize` rows per
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
    for (const table of ['sessions', 'refreshFamilies'] as const) {
      // Each statement deletes from the start of the table, so a short batch means it is empty.
      for (;;) {
        const deleted = this.run((sql) =>
          (table === 'sessions' ? sql.deleteAllSessions : sql.deleteAllFamilies).run(batchSize),
        ).changes;
        if (table === 'sessions') sessions += deleted;
        if (deleted < batchSize) break;
        await new Promise<void>((done) => setImmediate(done));
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
  const sessionList = SESSION_COLUMNS.join(', ');
  const familyList = FAMILY_COLUMNS.join(', ');
  const placeholders = (count: number) => Array.from({ length: count }, () => '?').join(', ');
  // Every column but the id, in INSERT order; see updateValues for the parameters.
  const assignments = (columns: readonly string[]) =>
    columns
      .slice(1)
      .map((column) => `${column} = ?`)
      .join(', ');
  const sweep = (table: string) =>
    `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE expires_at <= ? LIMIT ?)`;
  // SQLite frees deleted rows at once, so the next batch starts at the next live row: no rescans.
  const deleteBatch = (table: string) => `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} LIMIT ?)`;
  return {
    createSession: db.prepare(
      `INSERT INTO ${sessions} (${sessionList}) VALUES (${placeholders(SESSION_COLUMNS.length)})`,
    ),
    getSession: db.prepare(`SELECT ${sessionList} FROM ${sessions} WHERE id = ? AND expires_at > ?`),
    updateSession: db.prepare(
      `UPDATE ${sessions} SET ${assignments(SESSION_COLUMNS)} WHERE id = ? AND version = ? AND expires_at > ?`,
    ),
    deleteSession: db.prepare(`DELETE FROM ${sessions} WHERE id = ?`),
    listByUser: db.prepare(`SELECT ${sessionList} FROM ${sessions} WHERE user_id = ? AND expires_at > ?`),
    deleteByUser: db.prepare(`DELETE FROM ${sessions} WHERE user_id = ? AND id IS NOT ?`),
    createFamily: db.prepare(`INSERT INTO ${families} (${familyList}) VALUES (${placeholders(FAMILY_COLUMNS.length)})`),
    getFamily: db.prepare(`SELECT ${familyList} FROM ${families} WHERE id = ? AND expires_at > ?`),
    updateFamily: db.prepare(
      `UPDATE ${families} SET ${assignments(FAMILY_COLUMNS)} WHERE id = ? AND generation = ? AND expires_at > ?`,
    ),
    sweepSessions: db.prepare(sweep(sessions)),
    sweepFamilies: db.prepare(sweep(families)),
    deleteAllSessions: db.prepare(deleteBatch(sessions)),
    deleteAllFamilies: db.prepare(deleteBatch(families)),
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

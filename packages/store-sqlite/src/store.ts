import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  type ExpiredSweep,
  type RefreshFamilyStore,
  type SessionData,
  SessionError,
  type SessionRecord,
  type SessionStore,
} from '@org/session-core';
import {
  columnsMismatch,
  columnsOf,
  DEFAULT_DELETE_ALL_BATCH_SIZE,
  type DeleteAllOptions,
  type Dialect,
  deleteAllTables,
  fromStart,
  type Pause,
  positiveInteger,
  type QueryAnswer,
  type Row,
  type SharedStatement,
  SqlStore,
  type SweepOptions,
  type SweepResult,
  sharedStatements,
  walk,
} from '@org/session-sql-kit';
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

export {
  DEFAULT_DELETE_ALL_BATCH_SIZE,
  DEFAULT_SWEEP_BATCH_SIZE,
  DEFAULT_SWEEP_MAX_BATCHES,
  type DeleteAllOptions,
  type SweepOptions,
  type SweepResult,
} from '@org/session-sql-kit';

/** Where the store keeps its database when you name no path (relative to the working directory). */
export const DEFAULT_SQLITE_PATH = '.data/sessions.db';
/** How long a write waits for another connection's write lock before failing (I2). */
export const DEFAULT_BUSY_TIMEOUT_MS = 1000;
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

/** SQLite: booleans as 0/1, JSON as text, batched deletes by rowid. */
const SQLITE: Dialect = { booleans: 'integer', json: 'text', rowid: true, skipLocked: false };

type Statements = ReturnType<typeof prepareStatements>;

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
export class SqliteStore<D extends SessionData = SessionData>
  extends SqlStore<D>
  implements SessionStore<D>, RefreshFamilyStore
{
  /** The better-sqlite3 database in use: yours, or the one the store opened. */
  readonly database: Database.Database;
  /** Whether `close()` closes {@link database}. */
  readonly ownsDatabase: boolean;
  readonly tables: ResolvedTables;
  /** Rows per statement of `listByUser` and `deleteByUser`. */
  readonly userBatchSize: number;
  private statements: Statements | null = null;
  // The driver is synchronous: a walk of many batches gives requests their turn in between.
  protected override readonly pause: Pause = yieldToEventLoop;

  constructor(options: SqliteStoreOptions = {}) {
    super(SQLITE);
    if (typeof options !== 'object' || options === null) {
      throw new SessionError('CONFIG_INVALID', 'Options must be an object');
    }
    this.tables = resolveTables(options);
    this.userBatchSize = positiveInteger('userBatchSize', options.userBatchSize, DEFAULT_USER_BATCH_SIZE);
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

  /**
   * Atomic rotation in one `BEGIN IMMEDIATE` transaction: deletes `oldId` if it still has
   * `expectedVersion` and is live at `now`, then inserts `successor`. If the insert fails (the id
   * exists: `STORE_CONFLICT`; or any other error) the transaction rolls back and the old record
   * stays. A successor id that exists is `STORE_CONFLICT` even when there was nothing to rotate. Another connection (another process) rotating the same session waits for the write
   * lock and then finds the version changed: exactly one rotation wins.
   */
  async rotate(oldId: string, expectedVersion: number, successor: SessionRecord<D>, now: number): Promise<boolean> {
    const values = this.codec.sessionValues(successor);
    return this.run((sql) => sql.rotate.immediate([oldId, expectedVersion, now], values));
  }

  /**
   * Deletes the user's sessions (expired ones included) but `exceptId`, `userBatchSize` rows per
   * statement, each its own short write transaction, yielding to the event loop between them.
   * Sessions of the user created while it runs may be deleted too.
   */
  async deleteByUser(userId: string, exceptId?: string): Promise<number> {
    const values = numbered([userId, exceptId ?? null, this.userBatchSize]);
    // Deleted rows are gone from the index, so each statement starts at the user's first row left.
    const step = () =>
      fromStart(
        this.run((sql) => sql.deleteByUser.run(values).changes),
        this.userBatchSize,
      );
    return (await walk(step, { pause: this.pause })).deleted;
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
    return this.sweepExpired(options);
  }

  /**
   * The sweep `startSweeper` drives: {@link sweep} at `now`. SQLite runs one write transaction at
   * a time per file, so two processes sweeping together only take turns batch by batch (each
   * deletes what the other left); there is no lock to take and `skipped` is always false.
   */
  async deleteExpired(now: number): Promise<ExpiredSweep> {
    const result = await this.sweepExpired({ now });
    return { sessions: result.sessions, refreshFamilies: result.refreshFamilies, done: result.done, skipped: false };
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
    const size = positiveInteger('batchSize', options.batchSize, DEFAULT_DELETE_ALL_BATCH_SIZE);
    // Each statement deletes from the start of the table, so a short batch means it is empty.
    const step = (table: keyof Statements['deleteAll']) =>
      fromStart(
        this.run((sql) => sql.deleteAll[table].run(numbered([size])).changes),
        size,
      );
    return deleteAllTables(step, this.pause);
  }

  /** Closes the database if the store opened it (WAL is checkpointed); yours stays open. Idempotent. */
  async close(): Promise<void> {
    if (this.ownsDatabase && this.database.open) this.database.close();
  }

  protected async query(statement: SharedStatement, values: unknown[]): Promise<QueryAnswer> {
    return this.run((sql) => {
      const prepared = sql.shared(statement);
      const bound = numbered(values);
      return prepared.reader
        ? { rows: prepared.all(bound) as Row[], changes: 0 }
        : { rows: [], changes: prepared.run(bound).changes };
    });
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
    for (const [table, columns] of columnsOf(this.tables.tables)) {
      const present = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
      if (!present) continue;
      try {
        db.prepare(`SELECT ${columns.join(', ')} FROM "${table}" LIMIT 0`);
      } catch (error) {
        throw columnsMismatch(table, error);
      }
    }
  }
}

function openDatabase(options: SqliteStoreOptions): Database.Database {
  const path = options.path ?? DEFAULT_SQLITE_PATH;
  if (typeof path !== 'string') throw new SessionError('CONFIG_INVALID', 'path must be a string');
  const readonly = options.readonly === true;
  const busyTimeout = positiveInteger('busyTimeoutMs', options.busyTimeoutMs, DEFAULT_BUSY_TIMEOUT_MS);
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

/**
 * Parameters for the numbered placeholders (`$1`, `$2`, ...) of the shared statements: better-sqlite3
 * binds them as named parameters `1`, `2`, ..., from an object.
 */
function numbered(values: unknown[]): Record<number, unknown> {
  const bound: Record<number, unknown> = {};
  for (let i = 0; i < values.length; i++) bound[i + 1] = values[i];
  return bound;
}

function prepareStatements(db: Database.Database, { quoted }: ResolvedTables) {
  const sessions = quoted.sessions;
  const texts = sharedStatements(quoted, SQLITE);
  const prepared = new Map<SharedStatement, Database.Statement>();
  // Prepared on first use: a file migrated by your own tool up to 002 keeps serving sessions
  // before 003 is applied; only markOnce and the sweep need its table.
  const shared = (name: SharedStatement): Database.Statement => {
    let statement = prepared.get(name);
    if (!statement) {
      statement = db.prepare(texts[name]);
      prepared.set(name, statement);
    }
    return statement;
  };
  const sessionExists = db.prepare(`SELECT 1 FROM ${sessions} WHERE id = $1`);
  const deleteLiveVersion = db.prepare(`DELETE FROM ${sessions} WHERE id = $1 AND version = $2 AND expires_at > $3`);
  // SQLite frees deleted rows at once, so the next batch starts at the next live row: no rescans.
  const deleteBatch = (table: string) =>
    db.prepare(`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} LIMIT $1)`);
  return {
    shared,
    // A failing insert (a duplicate id, a full disk) throws, and the transaction rolls the delete
    // back. When nothing is rotated, a successor id already taken is still the caller's error, as
    // on every store.
    rotate: db.transaction((old: unknown[], successor: unknown[]) => {
      if (deleteLiveVersion.run(numbered(old)).changes === 1) {
        shared('createSession').run(numbered(successor));
        return true;
      }
      if (sessionExists.get(numbered([successor[0]])) !== undefined) {
        throw new SessionError('STORE_CONFLICT', 'The id already exists');
      }
      return false;
    }),
    deleteByUser: db.prepare(
      `DELETE FROM ${sessions} WHERE rowid IN
         (SELECT rowid FROM ${sessions} WHERE user_id = $1 AND id IS NOT $2 LIMIT $3)`,
    ),
    deleteAll: {
      sessions: deleteBatch(sessions),
      refreshFamilies: deleteBatch(quoted.refreshFamilies),
      userEpochs: deleteBatch(quoted.userEpochs),
    },
  };
}

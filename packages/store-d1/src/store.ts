import {
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
  positiveInteger,
  type QueryAnswer,
  type Row,
  SESSION_COLUMNS,
  type SharedStatement,
  SqlStore,
  type SweepOptions,
  type SweepResult,
  sharedStatements,
  walk,
} from '@org/session-sql-kit';
import type { D1DatabaseLike, D1ResultLike, D1StatementLike } from './d1.js';
import { toStoreError } from './errors.js';
import {
  type D1SchemaOptions,
  MIGRATIONS,
  migrationStatements,
  type ResolvedD1Tables,
  resolveTables,
} from './schema.js';

export {
  DEFAULT_DELETE_ALL_BATCH_SIZE,
  DEFAULT_SWEEP_BATCH_SIZE,
  DEFAULT_SWEEP_MAX_BATCHES,
  type DeleteAllOptions,
  type SweepOptions,
  type SweepResult,
} from '@org/session-sql-kit';

/** Rows per statement when `listByUser` and `deleteByUser` walk one user's sessions. */
export const DEFAULT_USER_BATCH_SIZE = 500;

export interface D1StoreOptions extends D1SchemaOptions {
  /** The D1 binding (`env.DB` in a Worker). The store never closes it. */
  database: D1DatabaseLike;
  /**
   * Rows per statement when `listByUser` and `deleteByUser` walk one user's sessions. Default 500.
   * Each statement is one round trip to D1.
   */
  userBatchSize?: number;
}

/** D1 is SQLite: booleans as 0/1, JSON as text, batched deletes by rowid. */
const D1_DIALECT: Dialect = { booleans: 'integer', json: 'text', rowid: true, skipLocked: false };

/**
 * D1 binds ordered parameters `?1`, `?2`, ...; the shared statements are written with `$1`, `$2`,
 * ... (no statement holds a `$` anywhere else: identifiers are validated, values are bound).
 */
const ordered = (sql: string) => sql.replace(/\$(\d+)/g, '?$1');

const changesOf = (result: D1ResultLike | undefined) => result?.meta.changes ?? 0;

/**
 * A session store in Cloudflare D1 (SQLite at the edge), for Workers: sessions, user epochs and
 * refresh families in three tables, through the binding's async API. Each method is one
 * statement, one round trip; a rotation is one `batch` (D1's transaction), so it either replaces
 * the old record by its successor or changes nothing. Updates are compare-and-set, reads apply the
 * user's revocation epoch in the same statement, and expiry uses the `now` the manager passes,
 * never D1's clock. Anything D1 throws rejects with `STORE_UNAVAILABLE` (the manager then fails
 * closed), or `STORE_CONFLICT` for a duplicate id.
 *
 * @example
 * ```ts
 * import { createSessionManager } from '@org/session-core'
 * import { D1Store } from '@org/session-store-d1'
 *
 * export default {
 *   async fetch(request: Request, env: { DB: D1Database }) {
 *     const sessions = createSessionManager({ store: new D1Store({ database: env.DB }) })
 *     // ...
 *   },
 * }
 * ```
 */
export class D1Store<D extends SessionData = SessionData>
  extends SqlStore<D>
  implements SessionStore<D>, RefreshFamilyStore
{
  /** The D1 binding in use. */
  readonly database: D1DatabaseLike;
  readonly tables: ResolvedD1Tables;
  /** Rows per statement of `listByUser` and `deleteByUser`. */
  readonly userBatchSize: number;
  private readonly shared: Record<SharedStatement, string>;
  private readonly sql: ReturnType<typeof ownStatements>;

  constructor(options: D1StoreOptions) {
    super(D1_DIALECT);
    if (typeof options !== 'object' || options === null) {
      throw new SessionError('CONFIG_INVALID', 'Options must be an object');
    }
    const { database } = options;
    if (
      typeof database !== 'object' ||
      database === null ||
      typeof database.prepare !== 'function' ||
      typeof database.batch !== 'function'
    ) {
      throw new SessionError('CONFIG_INVALID', 'database must be a D1 binding (env.DB)');
    }
    this.database = database;
    this.tables = resolveTables(options);
    this.userBatchSize = positiveInteger('userBatchSize', options.userBatchSize, DEFAULT_USER_BATCH_SIZE);
    const texts = sharedStatements(this.tables.quoted, D1_DIALECT);
    this.shared = Object.fromEntries(Object.entries(texts).map(([name, text]) => [name, ordered(text)])) as Record<
      SharedStatement,
      string
    >;
    this.sql = ownStatements(this.tables);
  }

  /**
   * Creates the tables and indexes if missing and records what it applied, each migration in one
   * `batch` (its statements and its bookkeeping row commit together). Idempotent, and safe when
   * two Workers start at once: every statement is `IF NOT EXISTS` and the bookkeeping row is
   * written once. A table of another shape under one of our names is `CONFIG_INVALID`. Returns
   * the names it applied. Or apply `renderMigrations()` with wrangler and never call it.
   */
  async migrate(): Promise<string[]> {
    const { quoted } = this.tables;
    const applied: string[] = [];
    try {
      await this.database
        .prepare(
          `CREATE TABLE IF NOT EXISTS ${quoted.migrations} (name TEXT NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`,
        )
        .run();
      // A table of another shape under our name must not be half-adopted by the migration.
      await this.checkColumns();
      const done = await this.database.prepare(`SELECT name FROM ${quoted.migrations}`).all();
      const names = new Set((done.results as { name: string }[]).map((row) => row.name));
      for (const name of MIGRATIONS) {
        if (names.has(name)) continue;
        const statements = migrationStatements(name, this.tables).map((text) => this.database.prepare(text));
        const record = this.database
          .prepare(`INSERT INTO ${quoted.migrations} (name, applied_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING`)
          .bind(name, Date.now());
        const results = await this.database.batch([...statements, record]);
        if (changesOf(results[results.length - 1]) === 1) applied.push(name);
      }
      await this.checkColumns();
      return applied;
    } catch (error) {
      throw toStoreError(error);
    }
  }

  /**
   * Atomic rotation in one `batch`: inserts `successor` only if `oldId` still has
   * `expectedVersion` and is live at `now`, then deletes `oldId` on the same condition. The
   * successor is in the user's index before the old record goes, and a duplicate successor id
   * fails the batch, so the old record stays (`STORE_CONFLICT`). A successor id that exists is
   * `STORE_CONFLICT` even when there was nothing to rotate, as on every store. D1 runs one
   * batch at a time: of concurrent rotations of one session exactly one wins.
   */
  async rotate(oldId: string, expectedVersion: number, successor: SessionRecord<D>, now: number): Promise<boolean> {
    const values = this.codec.sessionValues(successor);
    const old = [oldId, expectedVersion, now];
    const results = await this.batch([
      this.database.prepare(this.sql.insertIfLive).bind(...values, ...old),
      this.database.prepare(this.sql.deleteLiveVersion).bind(...old),
      this.database.prepare(this.sql.sessionExists).bind(successor.id),
    ]);
    if (changesOf(results[0]) === 1) return true;
    if ((results[2]?.results?.length ?? 0) > 0) throw new SessionError('STORE_CONFLICT', 'The id already exists');
    return false;
  }

  /**
   * Deletes the user's sessions (expired ones included) but `exceptId`, `userBatchSize` rows per
   * statement. Sessions of the user created while it runs may be deleted too.
   */
  async deleteByUser(userId: string, exceptId?: string): Promise<number> {
    const values = [userId, exceptId ?? null, this.userBatchSize];
    // Deleted rows are gone, so each statement starts at the user's first row left.
    const step = async () => fromStart(await this.changes(this.sql.deleteByUser, values), this.userBatchSize);
    return (await walk(step)).deleted;
  }

  /**
   * Deletes expired rows in batches of `batchSize` rows, one statement each. Sessions and refresh
   * families are kept `EXPIRED_RETENTION_MS` (1 h) past their deadline, so the manager, which
   * reads that far back, reports a session that expired a moment ago as expired rather than
   * unknown; user epochs go once their `expires_at` has passed. Run it from a Cron Trigger
   * (`scheduled` handler); reads already ignore expired rows, so sweeping only reclaims space.
   *
   * @example
   * ```ts
   * export default {
   *   async scheduled(_event: ScheduledEvent, env: { DB: D1Database }) {
   *     await new D1Store({ database: env.DB }).sweep()
   *   },
   * }
   * ```
   */
  async sweep(options: SweepOptions = {}): Promise<SweepResult> {
    return this.sweepExpired(options);
  }

  /**
   * Deletes every session, refresh family and user epoch in this store's tables (E3: log everyone
   * out) and returns how many sessions it deleted, expired rows not yet swept included. Other
   * tables of the database are never touched. Administrative: `batchSize` rows per statement.
   */
  async deleteAll(options: DeleteAllOptions = {}): Promise<number> {
    const size = positiveInteger('batchSize', options.batchSize, DEFAULT_DELETE_ALL_BATCH_SIZE);
    return deleteAllTables(async (table) => fromStart(await this.changes(this.sql.deleteAll[table], [size]), size));
  }

  protected async query(statement: SharedStatement, values: unknown[]): Promise<QueryAnswer> {
    try {
      const result = await this.database
        .prepare(this.shared[statement])
        .bind(...values)
        .all();
      return { rows: (result.results ?? []) as Row[], changes: changesOf(result) };
    } catch (error) {
      throw toStoreError(error);
    }
  }

  private async changes(sql: string, values: unknown[]): Promise<number> {
    try {
      return changesOf(
        await this.database
          .prepare(sql)
          .bind(...values)
          .run(),
      );
    } catch (error) {
      throw toStoreError(error);
    }
  }

  private async batch(statements: D1StatementLike[]): Promise<D1ResultLike[]> {
    try {
      return await this.database.batch(statements);
    } catch (error) {
      throw toStoreError(error);
    }
  }

  /** A table that existed before under the same name but with other columns is a configuration error. */
  private async checkColumns(): Promise<void> {
    for (const [table, columns] of columnsOf(this.tables.tables)) {
      try {
        await this.database.prepare(`SELECT ${columns.join(', ')} FROM "${table}" LIMIT 0`).all();
      } catch (error) {
        const message = error instanceof Error ? error.message : '';
        if (/no such table/i.test(message)) continue;
        if (/no such column/i.test(message)) throw columnsMismatch(table, error);
        throw error;
      }
    }
  }
}

function ownStatements({ quoted }: ResolvedD1Tables) {
  const sessions = quoted.sessions;
  const columns = SESSION_COLUMNS;
  const live = (first: number) => `id = ?${first} AND version = ?${first + 1} AND expires_at > ?${first + 2}`;
  const n = columns.length;
  // SQLite frees deleted rows at once, so the next batch starts at the next live row: no rescans.
  const deleteBatch = (table: string) => `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} LIMIT ?1)`;
  return {
    /** The successor's values (?1..?13), then the old id, its expected version and now. */
    insertIfLive:
      `INSERT INTO ${sessions} (${columns.join(', ')}) ` +
      `SELECT ${columns.map((_, i) => `?${i + 1}`).join(', ')} ` +
      `WHERE EXISTS (SELECT 1 FROM ${sessions} WHERE ${live(n + 1)})`,
    deleteLiveVersion: `DELETE FROM ${sessions} WHERE ${live(1)}`,
    sessionExists: `SELECT 1 AS found FROM ${sessions} WHERE id = ?1`,
    deleteByUser: `DELETE FROM ${sessions} WHERE rowid IN (SELECT rowid FROM ${sessions} WHERE user_id = ?1 AND id IS NOT ?2 LIMIT ?3)`,
    deleteAll: {
      sessions: deleteBatch(sessions),
      refreshFamilies: deleteBatch(quoted.refreshFamilies),
      userEpochs: deleteBatch(quoted.userEpochs),
    },
  };
}

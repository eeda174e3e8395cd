import { readFileSync } from 'node:fs';
import {
  DEFAULT_TABLE_NAMES,
  MIGRATIONS,
  mapTables,
  migrationNames,
  quoteIdentifier,
  renderTemplate as render,
  resolveTableNames,
} from '@org/session-sql-kit';

/** Names of the tables the store uses. */
export interface SqliteTableNames {
  /** Default `session_store_sessions`. */
  sessions: string;
  /** Default `session_store_refresh_families`. */
  refreshFamilies: string;
  /** Bookkeeping of applied migrations. Default `session_store_migrations`. */
  migrations: string;
  /** Per-user revocation epochs ("log out everywhere"). Default `session_store_user_epochs`. */
  userEpochs: string;
  /**
   * The `markOnce` keys: the replay cache of DPoP proof ids and DBSC challenges. Default
   * `session_store_once_keys`.
   */
  onceKeys: string;
}

export interface SqliteSchemaOptions {
  /**
   * Table names to use instead of the defaults (see {@link SqliteTableNames}), for several apps or tests
   * sharing one database. Default: the `session_store_*` names.
   */
  tables?: Partial<SqliteTableNames>;
}

/** Validated table names; `quoted` holds them ready to be placed in SQL. */
export interface ResolvedTables {
  tables: SqliteTableNames;
  quoted: SqliteTableNames;
}

export const DEFAULT_TABLES: Readonly<SqliteTableNames> = DEFAULT_TABLE_NAMES;

/** Migration files shipped in `sql/`, applied in this order. */
export { MIGRATIONS };

export function resolveTables(options: SqliteSchemaOptions = {}): ResolvedTables {
  // Names starting with sqlite_ are SQLite's own.
  const tables = resolveTableNames(options.tables, 'sqlite_');
  return { tables, quoted: mapTables(tables, quoteIdentifier) };
}

/** Replaces each `{{placeholder}}` of a migration template with a quoted identifier. */
export function renderTemplate(template: string, resolved: ResolvedTables): string {
  return render(template, migrationNames(resolved.tables));
}

/** Reads one migration template from the package's `sql/` folder. */
export function readMigrationTemplate(name: string): string {
  return readFileSync(new URL(`../sql/${name}.sql`, import.meta.url), 'utf8');
}

/**
 * The package's migrations as SQL for your table names, in order. Use it to feed your own migration
 * tool instead of calling `store.migrate()`.
 *
 * @example
 * ```ts
 * import { renderMigrations } from '@org/session-store-sqlite'
 * for (const m of renderMigrations()) console.log(`-- ${m.name}\n${m.sql}`)
 * ```
 */
export function renderMigrations(options: SqliteSchemaOptions = {}): { name: string; sql: string }[] {
  const resolved = resolveTables(options);
  return MIGRATIONS.map((name) => ({ name, sql: renderTemplate(readMigrationTemplate(name), resolved) }));
}

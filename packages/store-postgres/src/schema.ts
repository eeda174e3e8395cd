import { readFile } from 'node:fs/promises';
import {
  checkIdentifier,
  DEFAULT_TABLE_NAMES,
  MIGRATIONS,
  mapTables,
  migrationNames,
  quoteIdentifier,
  renderTemplate as render,
  resolveTableNames,
} from '@org/session-sql-kit';

/** Names of the tables the store uses, all inside one schema. */
export interface PostgresTableNames {
  /** Default `session_store_sessions`. */
  sessions: string;
  /** Default `session_store_refresh_families`. */
  refreshFamilies: string;
  /** Per-user "valid after" epochs ("log out everywhere"). Default `session_store_user_epochs`. */
  userEpochs: string;
  /** Bookkeeping of applied migrations. Default `session_store_migrations`. */
  migrations: string;
  /**
   * The `markOnce` keys: the replay cache of DPoP proof ids and DBSC challenges. Default
   * `session_store_once_keys`.
   */
  onceKeys: string;
}

export interface PostgresSchemaOptions {
  /** Schema holding the tables; created by the migration if missing. Default `public`. */
  schema?: string;
  /**
   * Table names to use instead of the defaults (see {@link PostgresTableNames}), for several apps or tests
   * sharing one database. Default: the `session_store_*` names.
   */
  tables?: Partial<PostgresTableNames>;
}

/** Validated names, ready to be placed in SQL. */
export interface ResolvedSchema {
  schema: string;
  tables: PostgresTableNames;
  /** Double-quoted, schema-qualified table names. */
  qualified: PostgresTableNames;
}

export const DEFAULT_SCHEMA = 'public';
export const DEFAULT_TABLES: Readonly<PostgresTableNames> = DEFAULT_TABLE_NAMES;

/** Migration files shipped in `sql/`, applied in this order. */
export { MIGRATIONS };

export function resolveSchema(options: PostgresSchemaOptions = {}): ResolvedSchema {
  const schema = checkIdentifier('schema', options.schema ?? DEFAULT_SCHEMA);
  const tables = resolveTableNames(options.tables);
  return {
    schema,
    tables,
    qualified: mapTables(tables, (table) => `${quoteIdentifier(schema)}.${quoteIdentifier(table)}`),
  };
}

/** Replaces each `{{placeholder}}` of a migration template with a quoted identifier. */
export function renderTemplate(template: string, resolved: ResolvedSchema): string {
  return render(template, { schema: resolved.schema, ...migrationNames(resolved.tables) });
}

/** Reads one migration template from the package's `sql/` folder. */
export async function readMigrationTemplate(name: string): Promise<string> {
  return readFile(new URL(`../sql/${name}.sql`, import.meta.url), 'utf8');
}

/**
 * The package's migrations as SQL for your schema and table names, in order. Use it to feed your own
 * migration tool instead of calling `store.migrate()`.
 *
 * @example
 * ```ts
 * import { renderMigrations } from '@org/session-store-postgres'
 * for (const m of await renderMigrations({ schema: 'auth' })) console.log(`-- ${m.name}\n${m.sql}`)
 * ```
 */
export async function renderMigrations(options: PostgresSchemaOptions = {}): Promise<{ name: string; sql: string }[]> {
  const resolved = resolveSchema(options);
  return Promise.all(
    MIGRATIONS.map(async (name) => ({ name, sql: renderTemplate(await readMigrationTemplate(name), resolved) })),
  );
}

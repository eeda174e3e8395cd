import { readFile } from 'node:fs/promises';
import { SessionError } from '@org/session-core';

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
}

export interface PostgresSchemaOptions {
  /** Schema holding the tables; created by the migration if missing. Default `public`. */
  schema?: string;
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
export const DEFAULT_TABLES: Readonly<PostgresTableNames> = Object.freeze({
  sessions: 'session_store_sessions',
  refreshFamilies: 'session_store_refresh_families',
  userEpochs: 'session_store_user_epochs',
  migrations: 'session_store_migrations',
});

/** Migration files shipped in `sql/`, applied in this order. */
export const MIGRATIONS: readonly string[] = Object.freeze(['001_init', '002_user_epochs']);

// Lower-case only, so quoted and unquoted spellings mean the same table; 40 characters leave room
// for the index-name suffixes within PostgreSQL's 63-byte identifier limit.
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,39}$/;

function checkIdentifier(label: string, value: string): string {
  if (typeof value !== 'string' || !IDENTIFIER.test(value)) {
    throw new SessionError(
      'CONFIG_INVALID',
      `${label} must be 1-40 characters of a-z, 0-9 and _, not starting with a digit`,
    );
  }
  return value;
}

/** A validated identifier in double quotes. Quoting is defence in depth: validation already excludes quotes. */
export function quoteIdentifier(name: string): string {
  return `"${name}"`;
}

export function resolveSchema(options: PostgresSchemaOptions = {}): ResolvedSchema {
  const schema = checkIdentifier('schema', options.schema ?? DEFAULT_SCHEMA);
  const tables: PostgresTableNames = {
    sessions: checkIdentifier('tables.sessions', options.tables?.sessions ?? DEFAULT_TABLES.sessions),
    refreshFamilies: checkIdentifier(
      'tables.refreshFamilies',
      options.tables?.refreshFamilies ?? DEFAULT_TABLES.refreshFamilies,
    ),
    userEpochs: checkIdentifier('tables.userEpochs', options.tables?.userEpochs ?? DEFAULT_TABLES.userEpochs),
    migrations: checkIdentifier('tables.migrations', options.tables?.migrations ?? DEFAULT_TABLES.migrations),
  };
  if (new Set(Object.values(tables)).size !== Object.keys(tables).length) {
    throw new SessionError(
      'CONFIG_INVALID',
      'The sessions, refresh families, user epochs and migrations tables need distinct names',
    );
  }
  const qualify = (table: string) => `${quoteIdentifier(schema)}.${quoteIdentifier(table)}`;
  return {
    schema,
    tables,
    qualified: {
      sessions: qualify(tables.sessions),
      refreshFamilies: qualify(tables.refreshFamilies),
      userEpochs: qualify(tables.userEpochs),
      migrations: qualify(tables.migrations),
    },
  };
}

/** Replaces each `{{placeholder}}` of a migration template with a quoted identifier. */
export function renderTemplate(template: string, resolved: ResolvedSchema): string {
  const { schema, tables } = resolved;
  const values: Record<string, string> = {
    schema,
    sessions: tables.sessions,
    refresh_families: tables.refreshFamilies,
    user_epochs: tables.userEpochs,
    sessions_user_index: `${tables.sessions}_user_idx`,
    sessions_user_id_index: `${tables.sessions}_user_id_idx`,
    sessions_expiry_index: `${tables.sessions}_expiry_idx`,
    refresh_families_session_index: `${tables.refreshFamilies}_session_idx`,
    refresh_families_expiry_index: `${tables.refreshFamilies}_expiry_idx`,
    user_epochs_expiry_index: `${tables.userEpochs}_expiry_idx`,
  };
  return template.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new SessionError('INTERNAL_ERROR', `Unknown migration placeholder ${key}`);
    return quoteIdentifier(value);
  });
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

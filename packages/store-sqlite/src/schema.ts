import { readFileSync } from 'node:fs';
import { SessionError } from '@org/session-core';

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
}

export interface SqliteSchemaOptions {
  tables?: Partial<SqliteTableNames>;
}

/** Validated table names; `quoted` holds them ready to be placed in SQL. */
export interface ResolvedTables {
  tables: SqliteTableNames;
  quoted: SqliteTableNames;
}

export const DEFAULT_TABLES: Readonly<SqliteTableNames> = Object.freeze({
  sessions: 'session_store_sessions',
  refreshFamilies: 'session_store_refresh_families',
  migrations: 'session_store_migrations',
  userEpochs: 'session_store_user_epochs',
});

/** Migration files shipped in `sql/`, applied in this order. */
export const MIGRATIONS: readonly string[] = Object.freeze(['001_init', '002_user_epochs']);

// Lower-case only, so quoted and unquoted spellings mean the same table, and short enough for the
// index-name suffixes.
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,39}$/;

function checkIdentifier(label: string, value: string): string {
  if (typeof value !== 'string' || !IDENTIFIER.test(value) || value.startsWith('sqlite_')) {
    throw new SessionError(
      'CONFIG_INVALID',
      `${label} must be 1-40 characters of a-z, 0-9 and _, not starting with a digit or sqlite_`,
    );
  }
  return value;
}

/** A validated identifier in double quotes. Quoting is defence in depth: validation already excludes quotes. */
export function quoteIdentifier(name: string): string {
  return `"${name}"`;
}

export function resolveTables(options: SqliteSchemaOptions = {}): ResolvedTables {
  const tables: SqliteTableNames = {
    sessions: checkIdentifier('tables.sessions', options.tables?.sessions ?? DEFAULT_TABLES.sessions),
    refreshFamilies: checkIdentifier(
      'tables.refreshFamilies',
      options.tables?.refreshFamilies ?? DEFAULT_TABLES.refreshFamilies,
    ),
    migrations: checkIdentifier('tables.migrations', options.tables?.migrations ?? DEFAULT_TABLES.migrations),
    userEpochs: checkIdentifier('tables.userEpochs', options.tables?.userEpochs ?? DEFAULT_TABLES.userEpochs),
  };
  if (new Set(Object.values(tables)).size !== 4) {
    throw new SessionError(
      'CONFIG_INVALID',
      'The sessions, refresh families, migrations and user epochs tables need distinct names',
    );
  }
  return {
    tables,
    quoted: {
      sessions: quoteIdentifier(tables.sessions),
      refreshFamilies: quoteIdentifier(tables.refreshFamilies),
      migrations: quoteIdentifier(tables.migrations),
      userEpochs: quoteIdentifier(tables.userEpochs),
    },
  };
}

/** Replaces each `{{placeholder}}` of a migration template with a quoted identifier. */
export function renderTemplate(template: string, resolved: ResolvedTables): string {
  const { tables } = resolved;
  const values: Record<string, string> = {
    sessions: tables.sessions,
    refresh_families: tables.refreshFamilies,
    sessions_user_index: `${tables.sessions}_user_idx`,
    sessions_expiry_index: `${tables.sessions}_expiry_idx`,
    refresh_families_session_index: `${tables.refreshFamilies}_session_idx`,
    refresh_families_expiry_index: `${tables.refreshFamilies}_expiry_idx`,
    sessions_user_id_index: `${tables.sessions}_user_id_idx`,
    user_epochs: tables.userEpochs,
    user_epochs_expiry_index: `${tables.userEpochs}_expiry_idx`,
  };
  return template.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new SessionError('INTERNAL_ERROR', `Unknown migration placeholder ${key}`);
    return quoteIdentifier(value);
  });
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

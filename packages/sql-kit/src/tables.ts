import { SessionError } from '@org/session-core';

/** The four tables of a SQL store (each store publishes this shape under a name of its own). */
export interface TableNames {
  sessions: string;
  refreshFamilies: string;
  userEpochs: string;
  migrations: string;
  onceKeys: string;
}

const TABLE_KEYS = ['sessions', 'refreshFamilies', 'userEpochs', 'migrations', 'onceKeys'] as const;

export const DEFAULT_TABLE_NAMES: Readonly<TableNames> = Object.freeze({
  sessions: 'session_store_sessions',
  refreshFamilies: 'session_store_refresh_families',
  userEpochs: 'session_store_user_epochs',
  migrations: 'session_store_migrations',
  onceKeys: 'session_store_once_keys',
});

/** Migration files shipped in `sql/`, applied in this order. */
export const MIGRATIONS: readonly string[] = Object.freeze(['001_init', '002_user_epochs', '003_once_keys']);

// Lower-case only, so quoted and unquoted spellings mean the same table; 40 characters leave room
// for the index-name suffixes within PostgreSQL's 63-byte identifier limit.
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,39}$/;

/**
 * `value` when it is a name every store accepts (and does not start with `reserved`, such as
 * SQLite's `sqlite_`), else `CONFIG_INVALID` naming `label`.
 */
export function checkIdentifier(label: string, value: string, reserved?: string): string {
  if (typeof value !== 'string' || !IDENTIFIER.test(value) || (reserved !== undefined && value.startsWith(reserved))) {
    const start = reserved === undefined ? 'a digit' : `a digit or ${reserved}`;
    throw new SessionError(
      'CONFIG_INVALID',
      `${label} must be 1-40 characters of a-z, 0-9 and _, not starting with ${start}`,
    );
  }
  return value;
}

/** A validated identifier in double quotes. Quoting is defence in depth: validation already excludes quotes. */
export function quoteIdentifier(name: string): string {
  return `"${name}"`;
}

/** The store's table names, defaults filled in, each checked, all distinct. */
export function resolveTableNames(tables: Partial<TableNames> | undefined, reserved?: string): TableNames {
  const resolved = mapTables(DEFAULT_TABLE_NAMES, (fallback, key) =>
    checkIdentifier(`tables.${key}`, tables?.[key] ?? fallback, reserved),
  );
  if (new Set(Object.values(resolved)).size !== TABLE_KEYS.length) {
    throw new SessionError(
      'CONFIG_INVALID',
      'The sessions, refresh families, user epochs, migrations and once-keys tables need distinct names',
    );
  }
  return resolved;
}

/** `names` with `map` applied to each table (quoting, qualifying with a schema). */
export function mapTables(
  names: Readonly<TableNames>,
  map: (name: string, key: keyof TableNames) => string,
): TableNames {
  return {
    sessions: map(names.sessions, 'sessions'),
    refreshFamilies: map(names.refreshFamilies, 'refreshFamilies'),
    userEpochs: map(names.userEpochs, 'userEpochs'),
    migrations: map(names.migrations, 'migrations'),
    onceKeys: map(names.onceKeys, 'onceKeys'),
  };
}

/** The placeholders of the migration templates: the tables and the indexes named after them. */
export function migrationNames(tables: TableNames): Record<string, string> {
  return {
    sessions: tables.sessions,
    refresh_families: tables.refreshFamilies,
    user_epochs: tables.userEpochs,
    sessions_user_index: `${tables.sessions}_user_idx`,
    sessions_user_id_index: `${tables.sessions}_user_id_idx`,
    sessions_expiry_index: `${tables.sessions}_expiry_idx`,
    refresh_families_session_index: `${tables.refreshFamilies}_session_idx`,
    refresh_families_expiry_index: `${tables.refreshFamilies}_expiry_idx`,
    user_epochs_expiry_index: `${tables.userEpochs}_expiry_idx`,
    once_keys: tables.onceKeys,
    once_keys_expiry_index: `${tables.onceKeys}_expiry_idx`,
  };
}

/** Replaces each `{{placeholder}}` of a migration template with its name from `names`, quoted. */
export function renderTemplate(template: string, names: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = names[key];
    if (value === undefined) throw new SessionError('INTERNAL_ERROR', `Unknown migration placeholder ${key}`);
    return quoteIdentifier(value);
  });
}

/** The error for a table that exists under our name with columns of another shape. */
export function columnsMismatch(table: string, cause: unknown): SessionError {
  return new SessionError(
    'CONFIG_INVALID',
    `The existing table ${table} does not have the columns this store needs; choose other table names`,
    { cause },
  );
}

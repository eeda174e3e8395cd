import { SessionError } from '@org/session-core';
import {
  DEFAULT_TABLE_NAMES,
  MIGRATIONS,
  mapTables,
  migrationNames,
  quoteIdentifier,
  renderTemplate,
  resolveTableNames,
} from '@org/session-sql-kit';

/** Names of the tables the store uses. */
export interface D1TableNames {
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

export interface D1SchemaOptions {
  /**
   * Table names to use instead of the defaults (see {@link D1TableNames}), for several apps or tests
   * sharing one database. Default: the `session_store_*` names.
   */
  tables?: Partial<D1TableNames>;
}

/** Validated table names; `quoted` holds them ready to be placed in SQL. */
export interface ResolvedD1Tables {
  tables: D1TableNames;
  quoted: D1TableNames;
}

export const DEFAULT_TABLES: Readonly<D1TableNames> = DEFAULT_TABLE_NAMES;

export { MIGRATIONS };

/**
 * The migrations, as templates: D1 is SQLite, so these are the statements of
 * `@org/session-store-sqlite`'s `sql/` files (a test keeps the two identical), held in the code
 * because a Worker has no file system. Placeholders in double braces become quoted identifiers.
 */
const TEMPLATES: Readonly<Record<string, string>> = {
  '001_init': `
CREATE TABLE IF NOT EXISTS {{sessions}} (
  id                  TEXT    NOT NULL PRIMARY KEY,
  secret_hash         TEXT    NOT NULL, -- hex SHA-256 of the token secret; the secret is never stored
  user_id             TEXT    NOT NULL,
  created_at          INTEGER NOT NULL,
  last_seen_at        INTEGER NOT NULL,
  idle_expires_at     INTEGER,
  absolute_expires_at INTEGER NOT NULL,
  expires_at          INTEGER NOT NULL,
  authenticated_at    INTEGER NOT NULL,
  persistent          INTEGER NOT NULL, -- 0 or 1
  data                TEXT    NOT NULL, -- JSON
  metadata            TEXT    NOT NULL, -- JSON
  version             INTEGER NOT NULL
) STRICT;

CREATE INDEX IF NOT EXISTS {{sessions_user_index}} ON {{sessions}} (user_id, expires_at);
CREATE INDEX IF NOT EXISTS {{sessions_expiry_index}} ON {{sessions}} (expires_at);

CREATE TABLE IF NOT EXISTS {{refresh_families}} (
  id                  TEXT    NOT NULL PRIMARY KEY,
  session_id          TEXT    NOT NULL,
  user_id             TEXT    NOT NULL,
  generation          INTEGER NOT NULL,
  current_hash        TEXT    NOT NULL, -- hex SHA-256 of the current refresh secret
  previous_hash       TEXT,
  rotated_at          INTEGER,
  created_at          INTEGER NOT NULL,
  last_used_at        INTEGER NOT NULL,
  idle_expires_at     INTEGER,
  absolute_expires_at INTEGER NOT NULL,
  expires_at          INTEGER NOT NULL,
  revoked_at          INTEGER
) STRICT;

CREATE INDEX IF NOT EXISTS {{refresh_families_session_index}} ON {{refresh_families}} (session_id);
CREATE INDEX IF NOT EXISTS {{refresh_families_expiry_index}} ON {{refresh_families}} (expires_at);
`,
  '002_user_epochs': `
CREATE TABLE IF NOT EXISTS {{user_epochs}} (
  user_id     TEXT    NOT NULL PRIMARY KEY,
  valid_after INTEGER NOT NULL, -- ms, the session manager's clock
  keep_id     TEXT,             -- the one session id the epoch spares, or NULL
  expires_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX IF NOT EXISTS {{user_epochs_expiry_index}} ON {{user_epochs}} (expires_at);
CREATE INDEX IF NOT EXISTS {{sessions_user_id_index}} ON {{sessions}} (user_id, id);
`,
  '003_once_keys': `
CREATE TABLE IF NOT EXISTS {{once_keys}} (
  id         TEXT    NOT NULL PRIMARY KEY,
  expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX IF NOT EXISTS {{once_keys_expiry_index}} ON {{once_keys}} (expires_at);
`,
};

export function resolveTables(options: D1SchemaOptions = {}): ResolvedD1Tables {
  // Names starting with sqlite_ are SQLite's own, and D1 refuses those starting with _cf_.
  const tables = resolveTableNames(options.tables, 'sqlite_');
  for (const [key, name] of Object.entries(tables)) {
    if (name.startsWith('_cf_')) throw new SessionError('CONFIG_INVALID', `tables.${key} must not start with _cf_`);
  }
  return { tables, quoted: mapTables(tables, quoteIdentifier) };
}

/**
 * The statements of a migration template, comments dropped, one per array item (D1 runs one
 * statement per prepared statement).
 */
export function splitStatements(sql: string): string[] {
  return sql
    .replace(/--[^\n]*/g, '')
    .split(';')
    .map((statement) => statement.replace(/\s+/g, ' ').trim())
    .filter((statement) => statement.length > 0);
}

/** One migration's statements for `tables`. */
export function migrationStatements(name: string, resolved: ResolvedD1Tables): string[] {
  const template = TEMPLATES[name];
  if (template === undefined) throw new SessionError('INTERNAL_ERROR', `Unknown migration ${name}`);
  return splitStatements(renderTemplate(template, migrationNames(resolved.tables)));
}

/**
 * The package's migrations as SQL for your table names, in order: for `wrangler d1 migrations`
 * (write each into a file of your migrations folder) or `wrangler d1 execute`, instead of calling
 * `store.migrate()` from the Worker.
 *
 * @example
 * ```ts
 * import { renderMigrations } from '@org/session-store-d1'
 * for (const m of renderMigrations()) console.log(`-- ${m.name}\n${m.sql}`)
 * ```
 */
export function renderMigrations(options: D1SchemaOptions = {}): { name: string; sql: string }[] {
  const resolved = resolveTables(options);
  return MIGRATIONS.map((name) => ({
    name,
    sql: migrationStatements(name, resolved)
      .map((statement) => `${statement};`)
      .join('\n'),
  }));
}

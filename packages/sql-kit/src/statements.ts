import { type Dialect, FAMILY_COLUMNS, SESSION_COLUMNS } from './codec.js';

/** The tables as they stand in SQL: quoted, and schema-qualified where the dialect has schemas. */
export interface SqlTables {
  sessions: string;
  refreshFamilies: string;
  userEpochs: string;
  /** The `markOnce` keys (replay cache of DPoP proofs and DBSC challenges). */
  onceKeys: string;
}

/** The statements whose text is the same in every dialect (see {@link sharedStatements}). */
export type SharedStatement =
  | 'createSession'
  | 'getSession'
  | 'updateSession'
  | 'touchSession'
  | 'deleteSession'
  | 'listByUser'
  | 'setUserEpoch'
  | 'getUserEpoch'
  | 'createFamily'
  | 'getFamily'
  | 'updateFamily'
  | 'sweepSessions'
  | 'sweepFamilies'
  | 'sweepEpochs'
  | 'markOnce'
  | 'sweepOnceKeys';

/** The table a sweep walks, by its key in {@link SqlTables}. */
export type Table = keyof SqlTables;

/**
 * The tables `deleteAll` empties: all but the once keys. Forgetting a replay-cache key early would
 * let the proof or challenge it stands for be used again, and the keys expire within minutes.
 */
export type SessionTable = Exclude<Table, 'onceKeys'>;

/** The sweep statement of each table: `$1` is the cut-off, `$2` the batch size. */
export const SWEEP: Readonly<Record<Table, SharedStatement>> = Object.freeze({
  sessions: 'sweepSessions',
  refreshFamilies: 'sweepFamilies',
  userEpochs: 'sweepEpochs',
  onceKeys: 'sweepOnceKeys',
});

/** The columns that hold JSON (jsonb in PostgreSQL, text in SQLite). */
const JSON_COLUMNS: ReadonlySet<string> = new Set(['data', 'metadata']);

/**
 * The parameter `$n` for `column`. A jsonb column's parameter is sent as text and cast on the
 * server (`$n::text::jsonb`): the values are JSON text already, and a driver that types its
 * parameters from the statement (postgres) would otherwise encode that text as a JSON string.
 */
function parameter(column: string, n: number, dialect: Dialect): string {
  return dialect.json === 'jsonb' && JSON_COLUMNS.has(column) ? `$${n}::text::jsonb` : `$${n}`;
}

const placeholders = (columns: readonly string[], dialect: Dialect) =>
  columns.map((column, i) => parameter(column, i + 1, dialect)).join(', ');
// Columns 2..n take the parameters of their positions in INSERT; $1 is the id, in WHERE.
const assignments = (columns: readonly string[], dialect: Dialect) =>
  columns
    .slice(1)
    .map((column, i) => `${column} = ${parameter(column, i + 2, dialect)}`)
    .join(', ');

/**
 * The text of every statement PostgreSQL and SQLite run alike, with numbered parameters (`$1`,
 * `$2`, ...): the `pg` driver binds them from an array, better-sqlite3 as named parameters from
 * an object keyed 1, 2, ... Values follow the codec's column order (`rowCodec`).
 */
export function sharedStatements(
  { sessions, refreshFamilies, userEpochs, onceKeys }: SqlTables,
  dialect: Dialect,
): Record<SharedStatement, string> {
  const s = SESSION_COLUMNS.length;
  const f = FAMILY_COLUMNS.length;
  const sessionColumns = SESSION_COLUMNS.map((column) => `s.${column}`).join(', ');
  // The user's epoch, if one is held at $2, joined to each session row (a user without one: NULLs).
  const withEpoch = `${sessions} s LEFT JOIN ${userEpochs} e ON e.user_id = s.user_id AND e.expires_at > $2`;
  // Not revoked by that epoch: isRevokedByEpoch of core, in SQL.
  const notRevoked = '(e.user_id IS NULL OR s.created_at >= e.valid_after OR s.id IS NOT DISTINCT FROM e.keep_id)';
  const sweep = (table: string, key: string) => {
    const row = dialect.rowid ? 'rowid' : key;
    // The outer condition repeats the inner one: a row extended between the two is kept.
    return (
      `DELETE FROM ${table} WHERE ${row} IN (SELECT ${row} FROM ${table} WHERE expires_at <= $1 LIMIT $2` +
      `${dialect.skipLocked ? ' FOR UPDATE SKIP LOCKED' : ''}) AND expires_at <= $1`
    );
  };
  return {
    createSession: `INSERT INTO ${sessions} (${SESSION_COLUMNS.join(', ')}) VALUES (${placeholders(SESSION_COLUMNS, dialect)})`,
    /** $1 id, $2 now: the row unless expired or revoked by its user's epoch, in one statement. */
    getSession: `SELECT ${sessionColumns} FROM ${withEpoch} WHERE s.id = $1 AND s.expires_at > $2 AND ${notRevoked}`,
    /** The record's values, then the expected version and now. */
    updateSession: `UPDATE ${sessions} SET ${assignments(SESSION_COLUMNS, dialect)} WHERE id = $1 AND version = $${s + 1} AND expires_at > $${s + 2}`,
    /**
     * A touch: $1 id, $2 lastSeenAt, $3 idleExpiresAt, $4 expires_at, $5 the new version, $6 the
     * expected version, $7 now. The same compare-and-set as updateSession, but it writes the
     * deadline and version columns only: the data is neither sent nor rewritten.
     */
    touchSession:
      `UPDATE ${sessions} SET last_seen_at = $2, idle_expires_at = $3, expires_at = $4, version = $5 ` +
      'WHERE id = $1 AND version = $6 AND expires_at > $7',
    deleteSession: `DELETE FROM ${sessions} WHERE id = $1`,
    /**
     * $1 user, $2 now, $3 batch size, $4 the last id read ('' first: ids are never empty). One page
     * of the user's rows in id order (the (user_id, id) index), each with whether it is `live`, so
     * the next page starts after the last row read even when that row is hidden.
     */
    listByUser:
      `SELECT ${sessionColumns}, (s.expires_at > $2 AND ${notRevoked}) AS live FROM ${withEpoch} ` +
      'WHERE s.user_id = $1 AND s.id > $4 ORDER BY s.id LIMIT $3',
    /** $1 user, $2 validAfter, $3 keep, $4 expiresAt, $5 now. Epochs never move back, unless expired. */
    setUserEpoch:
      `INSERT INTO ${userEpochs} AS e (user_id, valid_after, keep_id, expires_at) VALUES ($1, $2, $3, $4) ` +
      'ON CONFLICT (user_id) DO UPDATE SET valid_after = excluded.valid_after, keep_id = excluded.keep_id, ' +
      'expires_at = excluded.expires_at WHERE e.valid_after <= excluded.valid_after OR e.expires_at <= $5',
    getUserEpoch: `SELECT valid_after, keep_id FROM ${userEpochs} WHERE user_id = $1 AND expires_at > $2`,
    createFamily: `INSERT INTO ${refreshFamilies} (${FAMILY_COLUMNS.join(', ')}) VALUES (${placeholders(FAMILY_COLUMNS, dialect)})`,
    getFamily: `SELECT ${FAMILY_COLUMNS.join(', ')} FROM ${refreshFamilies} WHERE id = $1 AND expires_at > $2`,
    updateFamily: `UPDATE ${refreshFamilies} SET ${assignments(FAMILY_COLUMNS, dialect)} WHERE id = $1 AND generation = $${f + 1} AND expires_at > $${f + 2}`,
    sweepSessions: sweep(sessions, 'id'),
    sweepFamilies: sweep(refreshFamilies, 'id'),
    sweepEpochs: sweep(userEpochs, 'user_id'),
    /**
     * $1 key, $2 expires_at, $3 now. Inserts the key, or takes over its row if that expired at $3,
     * in one statement: it changes one row for the first caller and none while the key lives.
     * Concurrent callers on a new key queue on the primary key and all but the first find it
     * taken; on an expired row they queue on its row lock, and all but the first find it renewed.
     */
    markOnce:
      `INSERT INTO ${onceKeys} AS o (id, expires_at) VALUES ($1, $2) ` +
      'ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at WHERE o.expires_at <= $3',
    sweepOnceKeys: sweep(onceKeys, 'id'),
  };
}

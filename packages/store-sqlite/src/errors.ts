import { storeErrors } from '@org/session-sql-kit';

/** Why the store was unavailable, in `SessionError.reason`: for logs and tests, never shown to clients. */
export type SqliteFailureReason = 'busy' | 'readonly' | 'closed' | 'schema' | 'io' | 'query';

function classify(code: string, text: string): SqliteFailureReason {
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'busy';
  if (code.startsWith('SQLITE_READONLY')) return 'readonly';
  if (/database connection is not open/i.test(text)) return 'closed';
  if (/no such (table|column)/i.test(text)) return 'schema';
  if (/^SQLITE_(IOERR|FULL|CANTOPEN|CORRUPT|NOTADB|PERM|AUTH)/.test(code)) return 'io';
  if (/^E[A-Z]+$/.test(code)) return 'io'; // mkdir or open failed (EACCES, ENOENT, ...)
  return 'query';
}

const messages: Record<SqliteFailureReason, string> = {
  busy: 'The session database is locked by another connection',
  readonly: 'The session database is read-only',
  closed: 'The session store is closed',
  schema: 'The session store tables are missing: run store.migrate() or pass migrate: true',
  io: 'The session database file cannot be used',
  query: 'The session store failed to run a query',
};

/**
 * Turns anything the driver throws into a `SessionError`: a duplicate key becomes `STORE_CONFLICT`,
 * everything else `STORE_UNAVAILABLE` (the manager then fails closed). The driver's error is kept
 * as `cause` for logs; our message never repeats it.
 */
export const toStoreError = storeErrors<SqliteFailureReason>({
  isConflict: (code) => code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE',
  classify,
  messages,
});

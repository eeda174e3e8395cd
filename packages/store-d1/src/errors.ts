import { isSessionError, SessionError } from '@org/session-core';
import { storeErrors } from '@org/session-sql-kit';

/** Why the store was unavailable, in `SessionError.reason`: for logs and tests, never shown to clients. */
export type D1FailureReason = 'schema' | 'busy' | 'limit' | 'unreachable' | 'query';

// D1 errors carry no code property: the SQLite result code and the cause are in the message, as
// in "D1_ERROR: UNIQUE constraint failed: <table>.id: SQLITE_CONSTRAINT".
function codeOf(message: string): string {
  if (/UNIQUE constraint failed|SQLITE_CONSTRAINT_(PRIMARYKEY|UNIQUE)/.test(message)) return 'UNIQUE';
  return /\b(SQLITE_[A-Z_]+)\b/.exec(message)?.[1] ?? '';
}

function classify(code: string, message: string): D1FailureReason {
  if (/no such (table|column)/i.test(message)) return 'schema';
  if (code.startsWith('SQLITE_BUSY') || /overloaded|busy|locked/i.test(message)) return 'busy';
  if (code === 'SQLITE_TOOBIG' || /too many|too big|exceeded|limit/i.test(message)) return 'limit';
  if (/network|connection|unavailable|internal error|reset|timed? ?out|fetch failed/i.test(message)) {
    return 'unreachable';
  }
  return 'query';
}

const messages: Record<D1FailureReason, string> = {
  schema: 'The session store tables are missing: run store.migrate() or apply renderMigrations() with wrangler',
  busy: 'The D1 database is busy',
  limit: 'A D1 limit stopped the session store',
  unreachable: 'The D1 database cannot be reached',
  query: 'The session store failed to run a query',
};

const mapped = storeErrors<D1FailureReason>({ isConflict: (code) => code === 'UNIQUE', classify, messages });

/**
 * Turns anything D1 throws into a `SessionError`: a duplicate key becomes `STORE_CONFLICT`,
 * everything else `STORE_UNAVAILABLE` (the manager then fails closed) with the reason in
 * `reason`. D1's error is kept as `cause` for logs; our message never repeats it.
 */
export function toStoreError(error: unknown): SessionError {
  if (isSessionError(error)) return error;
  const message = error instanceof Error ? error.message : typeof error === 'string' ? error : '';
  // The kit reads a driver's code and message; D1's error itself stays the cause.
  const { code, reason } = mapped({ code: codeOf(message), message });
  return new SessionError(
    code,
    code === 'STORE_CONFLICT' ? 'The id already exists' : messages[reason as D1FailureReason],
    {
      cause: error,
      reason,
    },
  );
}

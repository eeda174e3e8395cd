import { storeErrors } from '@org/session-sql-kit';

/** Why the store was unavailable, in `SessionError.reason`: for logs and tests, never shown to clients. */
export type PostgresFailureReason = 'connection' | 'timeout' | 'schema' | 'closed' | 'query';

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  // The postgres (porsager) client's own codes for a connection it lost.
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
]);

function classify(code: string, text: string): PostgresFailureReason {
  if (code === '57014') return 'timeout'; // query_canceled: statement_timeout fired
  if (code === 'CONNECT_TIMEOUT') return 'timeout';
  if (code === 'CONNECTION_ENDED') return 'closed'; // postgres: the client was ended
  if (code === '42P01' || code === '3F000' || code === '42703') return 'schema';
  // Class 08 (connection exception), 57P01-57P05 (admin shutdown, crash, cannot connect now, ...).
  if (code.startsWith('08') || code.startsWith('57P') || CONNECTION_CODES.has(code)) return 'connection';
  if (/after calling end on the pool|Client was closed/i.test(text)) return 'closed';
  if (/Connection terminated|not queryable|trying to connect/i.test(text)) return 'connection';
  if (/timeout/i.test(text)) return 'timeout';
  return 'query';
}

const messages: Record<PostgresFailureReason, string> = {
  connection: 'The session store cannot reach PostgreSQL',
  timeout: 'The session store did not answer in time',
  schema: 'The session store tables are missing: run store.migrate() or apply the shipped migration',
  closed: 'The session store is closed',
  query: 'The session store failed to run a query',
};

/**
 * Turns anything the driver throws into a `SessionError`: a duplicate key (23505) becomes
 * `STORE_CONFLICT`, everything else `STORE_UNAVAILABLE` (the manager then fails closed). The
 * driver's error is kept as `cause` for logs; our message never repeats it, so no parameter value
 * can leak into a response.
 */
export const toStoreError = storeErrors<PostgresFailureReason>({
  isConflict: (code) => code === '23505',
  classify,
  messages,
});

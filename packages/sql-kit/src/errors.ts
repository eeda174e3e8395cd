import { isSessionError, SessionError } from '@org/session-core';

/** How one driver's errors read: which is a duplicate key, and why the store was unavailable. */
export interface DriverErrors<Reason extends string> {
  /** Whether the driver's error code means a duplicate key. */
  isConflict(code: string): boolean;
  /** Why the store was unavailable, from the driver's error code and message ('' when absent). */
  classify(code: string, message: string): Reason;
  /** What each reason says. Never the driver's own message, which may repeat parameter values. */
  messages: Readonly<Record<Reason, string>>;
}

/**
 * A function that turns anything the driver throws into a `SessionError`: a duplicate key becomes
 * `STORE_CONFLICT`, everything else `STORE_UNAVAILABLE` (the manager then fails closed) with the
 * reason in `reason`, for logs and tests. The driver's error is kept as `cause`; a `SessionError`
 * passes through unchanged.
 */
export function storeErrors<Reason extends string>(driver: DriverErrors<Reason>): (error: unknown) => SessionError {
  return (error) => {
    if (isSessionError(error)) return error;
    const { code, message } = (typeof error === 'object' && error !== null ? error : {}) as {
      code?: unknown;
      message?: unknown;
    };
    const codeText = typeof code === 'string' ? code : '';
    if (driver.isConflict(codeText))
      return new SessionError('STORE_CONFLICT', 'The id already exists', { cause: error });
    const reason = driver.classify(codeText, typeof message === 'string' ? message : '');
    return new SessionError('STORE_UNAVAILABLE', driver.messages[reason], { cause: error, reason });
  };
}

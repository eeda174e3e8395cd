/** Lifecycle and security events, for audit logs, alerts and rate limiting. */
export type SessionEventType =
  | 'session.created'
  | 'session.rotated'
  | 'session.extended'
  | 'session.revoked'
  | 'session.expired'
  | 'session.evicted'
  | 'session.invalid_token'
  | 'session.anomaly'
  | 'refresh.rotated'
  | 'refresh.reuse_detected'
  | 'csrf.rejected'
  | 'jwt.rejected';

/**
 * One event. It never carries a token, secret or JWT: sessions are named by `sidHash`, a keyed
 * hash of the session id (first 16 hex chars of HMAC-SHA256(logKey, id)).
 */
export interface SessionEvent {
  type: SessionEventType;
  /** Milliseconds since the epoch, from the manager's clock. */
  at: number;
  sidHash?: string;
  /** For `session.rotated`: the keyed hash of the id that was replaced. */
  previousSidHash?: string;
  userId?: string;
  /** A short machine-readable reason, e.g. `idle_expired`, `malformed`, `user_agent_changed`. */
  reason?: string;
  ip?: string | null;
  userAgent?: string | null;
}

/**
 * An audit hook. It may be async (a database write): a returned promise that rejects is ignored
 * like a throw. (`void` as the return type accepts any function, async ones included.)
 */
export type SessionEventListener = (event: SessionEvent) => void;

/**
 * Calls each listener; a throwing listener, or an async one that rejects, never breaks
 * authentication (an unhandled rejection would end a Node process).
 *
 * @example
 * ```ts
 * const emit = createEmitter([auditLog, alerts])
 * emit({ type: 'session.revoked', at: Date.now(), userId })
 * ```
 */
export function createEmitter(
  listeners: SessionEventListener | readonly SessionEventListener[] | undefined,
): (event: SessionEvent) => void {
  const list =
    listeners === undefined ? [] : Array.isArray(listeners) ? [...listeners] : [listeners as SessionEventListener];
  if (list.length === 0) return () => {};
  return (event) => {
    for (const listener of list) {
      try {
        const outcome: unknown = listener(event);
        if (isThenable(outcome)) outcome.then(undefined, ignoreFailure);
      } catch {
        // Audit hooks must not decide whether a request is authenticated.
      }
    }
  };
}

function ignoreFailure(): void {}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

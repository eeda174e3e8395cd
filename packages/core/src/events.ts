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

export type SessionEventListener = (event: SessionEvent) => void;

/**
 * Calls each listener; a throwing listener never breaks authentication.
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
        listener(event);
      } catch {
        // Audit hooks must not decide whether a request is authenticated.
      }
    }
  };
}

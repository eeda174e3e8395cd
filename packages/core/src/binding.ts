import type { RequestSignals, SessionMetadata } from './types.js';

/** `allow` passes silently, `flag` passes and emits `session.anomaly`, `reject` ends the session. */
export type BindingDecision = 'allow' | 'flag' | 'reject';

export interface BindingVerdict {
  decision: BindingDecision;
  /** Why, e.g. `user_agent_changed`; reported in the anomaly event. */
  reason?: string;
}

/**
 * Compares what was stored at sign-in with the current request. Runs on every validated request,
 * so it must be cheap and synchronous. Both arguments are read-only: a request without signals
 * shares one frozen object, and an adapter's signals are getters over the request.
 */
export type BindingPolicy = (
  stored: Readonly<SessionMetadata>,
  current: Readonly<RequestSignals>,
) => BindingVerdict | BindingDecision;

/**
 * The default: flag (never reject) a changed user agent. IP changes are normal for mobile clients
 * and are not flagged by default.
 *
 * @example
 * ```ts
 * createSessionManager({ store, binding: flagUserAgentChange }) // the default
 * ```
 */
export const flagUserAgentChange: BindingPolicy = (stored, current) => {
  if (stored.userAgent && current.userAgent !== undefined && current.userAgent !== stored.userAgent) {
    return { decision: 'flag', reason: 'user_agent_changed' };
  }
  return 'allow';
};

/**
 * A stricter policy: reject a changed user agent, flag a changed IP.
 *
 * @example
 * ```ts
 * createSessionManager({ store, binding: rejectUserAgentChange })
 * ```
 */
export const rejectUserAgentChange: BindingPolicy = (stored, current) => {
  if (stored.userAgent && current.userAgent !== undefined && current.userAgent !== stored.userAgent) {
    return { decision: 'reject', reason: 'user_agent_changed' };
  }
  if (stored.ip && current.ip && current.ip !== stored.ip) return { decision: 'flag', reason: 'ip_changed' };
  return 'allow';
};

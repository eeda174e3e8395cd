import { MAX_COOKIE_LIFETIME_SECONDS, type SessionPolicy } from './policy.js';

/** Expiry fields of a session or refresh family. */
export interface ExpiryState {
  lastSeenAt: number;
  idleExpiresAt: number | null;
  absoluteExpiresAt: number;
}

export type ExpiryStatus = 'valid' | 'idle_expired' | 'absolute_expired';

/**
 * Expiry of a session that starts (or is re-authenticated) at `now`.
 *
 * @example
 * ```ts
 * const expiry = initialExpiry(Date.now(), resolvePolicy('aal2'))
 * // { lastSeenAt: now, idleExpiresAt: now + 30 min, absoluteExpiresAt: now + 12 h }
 * ```
 */
export function initialExpiry(now: number, policy: SessionPolicy, persistent = false): ExpiryState {
  const absoluteExpiresAt = now + (persistent ? policy.persistentAbsoluteTimeoutMs : policy.absoluteTimeoutMs);
  return { lastSeenAt: now, idleExpiresAt: idleDeadline(now, absoluteExpiresAt, policy), absoluteExpiresAt };
}

/**
 * The idle deadline that activity at `now` sets: one idle timeout later, never past the absolute
 * deadline; null when the policy has no idle timeout. Sessions and refresh families share it.
 *
 * @example
 * ```ts
 * idleDeadline(now, now + 12 * 3_600_000, resolvePolicy('aal2')) // now + 30 min
 * ```
 */
export function idleDeadline(now: number, absoluteExpiresAt: number, policy: SessionPolicy): number | null {
  return policy.idleTimeoutMs === null ? null : Math.min(now + policy.idleTimeoutMs, absoluteExpiresAt);
}

/**
 * Whether a session is still valid at `now`. The absolute limit is checked first: it is the
 * one that activity can never move.
 *
 * @example
 * ```ts
 * expiryStatus(record, clock.now()) // 'valid' | 'idle_expired' | 'absolute_expired'
 * ```
 */
export function expiryStatus(state: ExpiryState, now: number): ExpiryStatus {
  if (now >= state.absoluteExpiresAt) return 'absolute_expired';
  if (state.idleExpiresAt !== null && now >= state.idleExpiresAt) return 'idle_expired';
  return 'valid';
}

/**
 * Whether a validated read at `now` should write ("touch") the store: only when at least one
 * touch interval has passed since the last write, and only when that moves the idle deadline.
 * A clock that stepped backwards never triggers a touch.
 *
 * @example
 * ```ts
 * if (needsTouch(record, now, policy)) await store.update(slideIdle(record, now, policy), record.version, now)
 * ```
 */
export function needsTouch(state: ExpiryState, now: number, policy: SessionPolicy): boolean {
  if (policy.idleTimeoutMs === null) return false;
  if (now - state.lastSeenAt < policy.touchIntervalMs) return false;
  return slideIdle(state, now, policy).idleExpiresAt !== state.idleExpiresAt;
}

/**
 * Sliding renewal: activity at `now` resets the idle deadline, never past the absolute one.
 *
 * @example
 * ```ts
 * const touched = slideIdle(record, now, policy) // idle deadline = min(now + idle, absolute)
 * ```
 */
export function slideIdle<T extends ExpiryState>(state: T, now: number, policy: SessionPolicy): T {
  const candidate = idleDeadline(now, state.absoluteExpiresAt, policy);
  if (candidate === null) return { ...state, lastSeenAt: Math.max(state.lastSeenAt, now) };
  // Never shorten the window because the clock went backwards.
  const idleExpiresAt = Math.max(candidate, state.idleExpiresAt ?? candidate);
  return { ...state, lastSeenAt: Math.max(state.lastSeenAt, now), idleExpiresAt };
}

/**
 * Explicit extension: moves the idle deadline to `now + byMs` (default: one idle timeout), capped
 * by the absolute deadline, which extension never moves.
 *
 * @example
 * ```ts
 * extendIdle(record, now, policy, 2 * 60 * 60_000) // two more hours, never past the absolute deadline
 * ```
 */
export function extendIdle<T extends ExpiryState>(state: T, now: number, policy: SessionPolicy, byMs?: number): T {
  // Without an idle timeout there is no idle deadline to move; adding one would shorten the session.
  if (policy.idleTimeoutMs === null || state.idleExpiresAt === null) {
    return { ...state, lastSeenAt: Math.max(state.lastSeenAt, now) };
  }
  const span = byMs ?? policy.idleTimeoutMs;
  const idleExpiresAt = Math.min(now + span, state.absoluteExpiresAt);
  return {
    ...state,
    lastSeenAt: Math.max(state.lastSeenAt, now),
    idleExpiresAt: Math.max(idleExpiresAt, state.idleExpiresAt ?? idleExpiresAt),
  };
}

/**
 * Cookie `Max-Age` for a persistent session: the remaining absolute lifetime in whole seconds,
 * capped at 400 days, never negative. Non-persistent sessions get no Max-Age (undefined).
 *
 * @example
 * ```ts
 * cookieMaxAge({ absoluteExpiresAt: now + 3_600_000, persistent: true }, now) // 3600
 * cookieMaxAge({ absoluteExpiresAt: now + 3_600_000, persistent: false }, now) // undefined
 * ```
 */
export function cookieMaxAge(
  state: { absoluteExpiresAt: number; persistent: boolean },
  now: number,
): number | undefined {
  if (!state.persistent) return undefined;
  const seconds = Math.floor((state.absoluteExpiresAt - now) / 1000);
  return Math.max(0, Math.min(seconds, MAX_COOKIE_LIFETIME_SECONDS));
}

/** Instances sharing a store may disagree on the time by this much (documented). */
export const FRESHNESS_SKEW_MS = 60_000;

/**
 * Whether the user authenticated within `maxAgeMs` of `now` (for sensitive actions). An
 * authentication time further in the future than the allowed skew counts as not fresh.
 *
 * @example
 * ```ts
 * isFreshAt(session.authenticatedAt, Date.now(), 10 * 60_000) // signed in within 10 minutes?
 * ```
 */
export function isFreshAt(authenticatedAt: number, now: number, maxAgeMs: number): boolean {
  const age = now - authenticatedAt;
  return age >= -FRESHNESS_SKEW_MS && age <= maxAgeMs;
}

import { type Clock, systemClock } from './clock.js';
import { Deadlines } from './deadlines.js';
import { toHex } from './encoding.js';
import { SessionError } from './errors.js';
import { hmacSha256 } from './hash.js';

/**
 * A store-backed login throttle: per account and per client address, a few free attempts, then
 * an exponentially growing wait between attempts, answered with 429 `RATE_LIMITED` and
 * `Retry-After`. Counters live in an {@link AttemptCounter} (memory here; Redis, PostgreSQL and
 * SQLite in their store packages), so every instance of an app sees the same counts.
 */

/** How one kind of key (account or address) is throttled. */
export interface ThrottleRule {
  /** Attempts allowed before any wait. */
  freeAttempts: number;
  /** The first wait, doubled on every further attempt. */
  baseDelayMs: number;
  /** The longest wait. */
  maxDelayMs: number;
  /** How long a key is remembered after its last attempt (or the end of its wait). */
  windowMs: number;
}

/** A key's state as counters keep it. `lockedUntil` 0: no wait. Times in ms since the epoch. */
export interface AttemptState {
  count: number;
  lockedUntil: number;
  expiresAt: number;
}

/** The answer to one attempt. */
export interface AttemptVerdict {
  allowed: boolean;
  /** Attempts counted for the key, this one included when allowed. */
  count: number;
  /** When the next attempt may come, or null when it may come at once. */
  retryAt: number | null;
}

/**
 * The shared counters. `attempt` must be atomic per key across every instance of the app: it
 * reads the key's state, applies {@link nextAttemptState} and writes the result in one step, so
 * that of many parallel attempts no more pass than the rule allows.
 */
export interface AttemptCounter {
  attempt(key: string, rule: ThrottleRule, now: number): Promise<AttemptVerdict>;
  /** Forgets a key (a successful login clears its account's count). */
  reset(key: string): Promise<void>;
}

/**
 * The throttle's arithmetic, shared by every counter: a key whose wait has not ended is refused
 * unchanged; otherwise the attempt counts, and from the `freeAttempts`-th on it starts a wait of
 * `baseDelayMs * 2^(count - freeAttempts)` (at most `maxDelayMs`).
 *
 * @example
 * ```ts
 * const { state, verdict } = nextAttemptState(stored, rule, Date.now()) // write state, answer verdict
 * ```
 */
export function nextAttemptState(
  current: AttemptState | null,
  rule: ThrottleRule,
  now: number,
): { state: AttemptState; verdict: AttemptVerdict } {
  const live = current !== null && current.expiresAt > now ? current : null;
  if (live && live.lockedUntil > now) {
    return { state: live, verdict: { allowed: false, count: live.count, retryAt: live.lockedUntil } };
  }
  const count = (live?.count ?? 0) + 1;
  const lockedUntil = count >= rule.freeAttempts ? now + backoffMs(count - rule.freeAttempts, rule) : 0;
  const state = { count, lockedUntil, expiresAt: Math.max(lockedUntil, now) + rule.windowMs };
  return { state, verdict: { allowed: true, count, retryAt: lockedUntil === 0 ? null : lockedUntil } };
}

function backoffMs(step: number, rule: ThrottleRule): number {
  // 2^step overflows nothing below 2^53 for the step counts a window can hold; capped anyway.
  return Math.min(rule.maxDelayMs, rule.baseDelayMs * 2 ** Math.min(step, 40));
}

/**
 * Attempt counters in this process's memory, for tests and single-instance apps. At most
 * `maxKeys` keys (default 100 000): past that, expired keys are dropped, then the oldest.
 */
export class MemoryAttemptCounter implements AttemptCounter {
  readonly #keys = new Map<string, AttemptState>();
  readonly #maxKeys: number;

  constructor(
    options: {
      /** Most keys held at once (default 100 000); past it expired keys go first, then the oldest. */
      maxKeys?: number;
    } = {},
  ) {
    const maxKeys = options.maxKeys ?? 100_000;
    if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) {
      throw new SessionError('CONFIG_INVALID', 'maxKeys must be a positive integer');
    }
    this.#maxKeys = maxKeys;
  }

  async attempt(key: string, rule: ThrottleRule, now: number): Promise<AttemptVerdict> {
    const { state, verdict } = nextAttemptState(this.#keys.get(key) ?? null, rule, now);
    this.#keys.delete(key); // re-inserted last: the Map's order is the eviction order
    this.#keys.set(key, state);
    if (this.#keys.size > this.#maxKeys) this.#evict(now);
    return verdict;
  }

  async reset(key: string): Promise<void> {
    this.#keys.delete(key);
  }

  /** Keys held now (for tests of the bound). */
  get size(): number {
    return this.#keys.size;
  }

  #evict(now: number): void {
    for (const [key, state] of this.#keys) if (state.expiresAt <= now) this.#keys.delete(key);
    for (const key of this.#keys.keys()) {
      if (this.#keys.size <= this.#maxKeys) break;
      this.#keys.delete(key);
    }
  }
}

export interface LoginThrottleOptions {
  /**
   * Where attempts are counted; required. Share one across instances (a store's counter) so every
   * instance sees the same waits; {@link MemoryAttemptCounter} for tests and single instances.
   */
  counter: AttemptCounter;
  /**
   * Key for hashing account names (at least 32 random bytes): counters hold
   * HMAC-SHA256(key, account), never an e-mail address.
   */
  key: Uint8Array;
  /** Per account. Default 5 free attempts, then 1 s doubling up to 15 min, remembered 15 min. */
  account?: Partial<ThrottleRule>;
  /** Per client address. Default 50 free attempts, then 1 s doubling up to 15 min, remembered 15 min. */
  ip?: Partial<ThrottleRule>;
  /** Source of the current time, for windows and waits. Default: the system clock. */
  clock?: Clock;
  /**
   * Bound in ms on each `check` and `succeeded` (default 1000, as a manager's `storeTimeoutMs`): a
   * counter that does not answer in time fails closed with 503 `STORE_UNAVAILABLE`, so a login
   * never waits on a store that hangs (or on a client queueing commands while it reconnects).
   */
  timeoutMs?: number;
}

export interface LoginAttempt {
  /** The account name as typed (e-mail); normalised (trimmed, lower case) before hashing. */
  account: string;
  /** The client address, or null when unknown (then only the account is throttled). */
  ip: string | null;
}

/** A login throttle; create it once per app with {@link createLoginThrottle}. */
export interface LoginThrottle {
  /**
   * Counts one login attempt for the account and the address, before the password is checked.
   * Throws 429 `RATE_LIMITED` (with `retryAfterSeconds`) when either must wait; the attempt then
   * does not count.
   */
  check(attempt: LoginAttempt): Promise<void>;
  /** After a successful login: clears the account's count (the address keeps its own). */
  succeeded(attempt: LoginAttempt): Promise<void>;
}

const MINUTE = 60_000;
const DEFAULT_ACCOUNT_RULE: ThrottleRule = {
  freeAttempts: 5,
  baseDelayMs: 1000,
  maxDelayMs: 15 * MINUTE,
  windowMs: 15 * MINUTE,
};
const DEFAULT_IP_RULE: ThrottleRule = { ...DEFAULT_ACCOUNT_RULE, freeAttempts: 50 };
const DEFAULT_COUNTER_TIMEOUT_MS = 1000;

/**
 * Creates a login throttle over shared counters.
 *
 * @example
 * ```ts
 * const throttle = createLoginThrottle({ counter: new MemoryAttemptCounter(), key: throttleKey })
 * await throttle.check({ account: email, ip }) // 429 RATE_LIMITED with Retry-After when too many
 * if (await passwordMatches()) await throttle.succeeded({ account: email, ip })
 * ```
 */
export function createLoginThrottle(options: LoginThrottleOptions): LoginThrottle {
  if (!options || typeof options.counter?.attempt !== 'function' || typeof options.counter.reset !== 'function') {
    throw new SessionError('CONFIG_INVALID', 'counter must be an AttemptCounter');
  }
  if (!(options.key instanceof Uint8Array) || options.key.length < 32) {
    throw new SessionError('CONFIG_INVALID', 'The throttle key must be at least 32 random bytes');
  }
  const accountRule = resolveRule(options.account, DEFAULT_ACCOUNT_RULE);
  const ipRule = resolveRule(options.ip, DEFAULT_IP_RULE);
  const { counter, key } = options;
  const clock = options.clock ?? systemClock;
  const timeoutMs = options.timeoutMs ?? DEFAULT_COUNTER_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new SessionError('CONFIG_INVALID', 'timeoutMs must be a positive number');
  }
  const deadlines = new Deadlines(timeoutMs, counterTimedOut);
  const accountKey = (account: string) => `a:${toHex(hmacSha256(key, account.trim().toLowerCase()))}`;
  const ipKey = (ip: string) => `i:${toHex(hmacSha256(key, ip))}`;

  return {
    async check(attempt) {
      if (typeof attempt?.account !== 'string') throw new SessionError('CONFIG_INVALID', 'account must be a string');
      const now = clock.now();
      const verdicts = await unavailableOnFailure(
        deadlines,
        Promise.all([
          counter.attempt(accountKey(attempt.account), accountRule, now),
          attempt.ip ? counter.attempt(ipKey(attempt.ip), ipRule, now) : null,
        ]),
      );
      const refused = verdicts.filter((v): v is AttemptVerdict => v !== null && !v.allowed);
      if (refused.length === 0) return;
      const retryAt = Math.max(...refused.map((v) => v.retryAt ?? now));
      throw new SessionError('RATE_LIMITED', undefined, {
        reason: 'login_throttled',
        retryAfterSeconds: Math.max(1, Math.ceil((retryAt - now) / 1000)),
      });
    },
    async succeeded(attempt) {
      await unavailableOnFailure(deadlines, counter.reset(accountKey(attempt.account)));
    },
  };
}

/** A counter that cannot answer, or not within `timeoutMs`, fails closed: 503 `STORE_UNAVAILABLE`, never a free pass. */
async function unavailableOnFailure<T>(deadlines: Deadlines, pending: Promise<T>): Promise<T> {
  try {
    return await deadlines.settle(pending);
  } catch (error) {
    if (error instanceof SessionError) throw error;
    throw new SessionError('STORE_UNAVAILABLE', undefined, { cause: error, reason: 'throttle_counter' });
  }
}

function counterTimedOut(): SessionError {
  return new SessionError('STORE_UNAVAILABLE', 'The login throttle counter did not answer in time', {
    reason: 'throttle_counter',
  });
}

function resolveRule(given: Partial<ThrottleRule> | undefined, defaults: ThrottleRule): ThrottleRule {
  const rule = { ...defaults, ...given };
  const valid =
    Number.isSafeInteger(rule.freeAttempts) &&
    rule.freeAttempts >= 1 &&
    [rule.baseDelayMs, rule.maxDelayMs, rule.windowMs].every((ms) => Number.isSafeInteger(ms) && ms > 0) &&
    rule.baseDelayMs <= rule.maxDelayMs;
  if (!valid) {
    throw new SessionError(
      'CONFIG_INVALID',
      'A throttle rule needs freeAttempts >= 1 and positive whole milliseconds, baseDelayMs <= maxDelayMs',
    );
  }
  return rule;
}

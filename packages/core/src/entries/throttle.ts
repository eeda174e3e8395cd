/**
 * `@org/session-core/throttle`: a store-backed login throttle (per account and per address,
 * exponential backoff, 429 `RATE_LIMITED` with `Retry-After`) and the counter contract the stores
 * implement. See docs/login-throttling.md.
 */
export {
  type AttemptCounter,
  type AttemptState,
  type AttemptVerdict,
  createLoginThrottle,
  type LoginAttempt,
  type LoginThrottle,
  type LoginThrottleOptions,
  MemoryAttemptCounter,
  nextAttemptState,
  type ThrottleRule,
} from '../throttle.js';

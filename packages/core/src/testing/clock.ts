import type { Clock } from '../clock.js';

/** A clock that only moves when told to: expiry tests never sleep. */
export interface TestClock extends Clock {
  /** Moves time forward (or back, with a negative value) by `ms`. */
  advance(ms: number): number;
  set(ms: number): number;
}

/**
 * Starts at 2026-01-01T00:00:00Z unless told otherwise.
 *
 * @example
 * ```ts
 * const clock = createTestClock()
 * const sessions = createSessionManager({ store: new MemoryStore(), clock })
 * clock.advance(30 * 60_000) // the session is now idle-expired
 * ```
 */
export function createTestClock(start = Date.UTC(2026, 0, 1)): TestClock {
  let current = start;
  return {
    now: () => current,
    advance: (ms) => {
      current += ms;
      return current;
    },
    set: (ms) => {
      current = ms;
      return current;
    },
  };
}

import { describe, expect, it } from 'vitest';
import { randomString } from '../random.js';
import type { AttemptCounter, ThrottleRule } from '../throttle.js';

export interface AttemptCounterConformanceOptions {
  /** A counter on the real backend; every case uses keys unique to itself. */
  counter: () => AttemptCounter;
  /** A prefix for this run's keys, so parallel runs never collide. */
  keyPrefix: string;
}

const RULE: ThrottleRule = { freeAttempts: 3, baseDelayMs: 1000, maxDelayMs: 8000, windowMs: 60_000 };
const AT = 1_800_000_000_000;

/**
 * The contract every login-throttle counter keeps (memory, Redis, PostgreSQL, SQLite), registered
 * as vitest tests: free attempts, exponential waits, windows, reset, and atomicity under parallel
 * attempts.
 *
 * @example
 * ```ts
 * runAttemptCounterConformance('redis', { counter: () => new RedisAttemptCounter({ client }), keyPrefix: 't1' })
 * ```
 */
export function runAttemptCounterConformance(name: string, options: AttemptCounterConformanceOptions): void {
  let sequence = 0;
  const key = (label: string) => `${options.keyPrefix}:${label}:${sequence++}:${randomString(8)}`;

  describe(`attempt counter conformance: ${name}`, () => {
    it('allows the free attempts, then makes each next attempt wait twice as long, up to the cap', async () => {
      const counter = options.counter();
      const k = key('backoff');
      const seen = [];
      for (let i = 0; i < 3; i++) seen.push(await counter.attempt(k, RULE, AT));
      expect(seen.map((v) => v.allowed)).toEqual([true, true, true]);
      expect(seen.map((v) => v.retryAt)).toEqual([null, null, AT + 1000]);
      // Within the wait: refused, not counted.
      expect(await counter.attempt(k, RULE, AT + 999)).toEqual({ allowed: false, count: 3, retryAt: AT + 1000 });
      expect(await counter.attempt(k, RULE, AT + 1000)).toEqual({ allowed: true, count: 4, retryAt: AT + 3000 });
      expect(await counter.attempt(k, RULE, AT + 3000)).toEqual({ allowed: true, count: 5, retryAt: AT + 7000 });
      expect(await counter.attempt(k, RULE, AT + 7000)).toEqual({ allowed: true, count: 6, retryAt: AT + 15_000 });
      // Capped at maxDelayMs.
      expect(await counter.attempt(k, RULE, AT + 15_000)).toEqual({ allowed: true, count: 7, retryAt: AT + 23_000 });
    });

    it('forgets a key a window after its last wait ends, and on reset', async () => {
      const counter = options.counter();
      const k = key('window');
      for (let i = 0; i < 3; i++) await counter.attempt(k, RULE, AT);
      // The wait ends at AT + 1000; the key is remembered until AT + 1000 + windowMs.
      expect(await counter.attempt(k, RULE, AT + 1000 + RULE.windowMs - 1)).toMatchObject({ allowed: true, count: 4 });
      const other = key('window');
      await counter.attempt(other, RULE, AT);
      expect(await counter.attempt(other, RULE, AT + RULE.windowMs)).toEqual({
        allowed: true,
        count: 1,
        retryAt: null,
      });
      for (let i = 0; i < 5; i++) await counter.attempt(other, RULE, AT + RULE.windowMs);
      await counter.reset(other);
      expect(await counter.attempt(other, RULE, AT + RULE.windowMs)).toEqual({
        allowed: true,
        count: 1,
        retryAt: null,
      });
    });

    it('keeps keys apart', async () => {
      const counter = options.counter();
      const a = key('a');
      const b = key('b');
      for (let i = 0; i < 4; i++) await counter.attempt(a, RULE, AT);
      expect(await counter.attempt(b, RULE, AT)).toEqual({ allowed: true, count: 1, retryAt: null });
    });

    it('lets no more than the free attempts through when 40 arrive at once (across two counters)', async () => {
      const first = options.counter();
      const second = options.counter();
      const k = key('parallel');
      const verdicts = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? first : second).attempt(k, RULE, AT)),
      );
      expect(verdicts.filter((v) => v.allowed)).toHaveLength(RULE.freeAttempts);
      expect(verdicts.filter((v) => !v.allowed).every((v) => v.retryAt === AT + 1000)).toBe(true);
    });
  });
}

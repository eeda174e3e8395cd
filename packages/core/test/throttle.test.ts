import { describe, expect, it } from 'vitest';
import { errorResponse, isSessionError, SessionError } from '../src/index.js';
import { createTestClock } from '../src/testing/index.js';
import { runAttemptCounterConformance } from '../src/testing/vitest.js';
import { createLoginThrottle, MemoryAttemptCounter, type ThrottleRule } from '../src/throttle.js';

const key = new Uint8Array(32).fill(3);

// One shared map for "two instances": the memory counter is per process, so both are the same object.
const shared = new MemoryAttemptCounter();
runAttemptCounterConformance('memory', { counter: () => shared, keyPrefix: 'memory' });

async function refusal(promise: Promise<void>): Promise<SessionError | null> {
  try {
    await promise;
    return null;
  } catch (error) {
    if (isSessionError(error)) return error;
    throw error;
  }
}

describe('createLoginThrottle', () => {
  const rule: Partial<ThrottleRule> = { freeAttempts: 2, baseDelayMs: 2000, maxDelayMs: 60_000, windowMs: 600_000 };

  it('throws 429 RATE_LIMITED with Retry-After once an account used its free attempts; a success clears it', async () => {
    const clock = createTestClock(1_800_000_000_000);
    const throttle = createLoginThrottle({ counter: new MemoryAttemptCounter(), key, account: rule, clock });
    const attempt = { account: ' Ada@Example.com ', ip: '192.0.2.1' };
    await throttle.check(attempt);
    await throttle.check(attempt);
    const error = await refusal(throttle.check({ ...attempt, account: 'ada@example.com' }));
    expect(error).toMatchObject({ code: 'RATE_LIMITED', status: 429, reason: 'login_throttled', retryAfterSeconds: 2 });
    const response = errorResponse(error);
    expect(response.status).toBe(429);
    expect(response.headers).toContainEqual(['retry-after', '2']);
    clock.advance(2000);
    await throttle.check(attempt);
    expect((await refusal(throttle.check(attempt)))?.retryAfterSeconds).toBe(4);
    await throttle.succeeded(attempt);
    await expect(throttle.check(attempt)).resolves.toBeUndefined();
  });

  it('throttles an address across accounts, and stores no e-mail address', async () => {
    const clock = createTestClock(1_800_000_000_000);
    const counter = new MemoryAttemptCounter();
    const seen: string[] = [];
    const spy = {
      attempt: (k: string, r: ThrottleRule, now: number) => {
        seen.push(k);
        return counter.attempt(k, r, now);
      },
      reset: (k: string) => counter.reset(k),
    };
    const throttle = createLoginThrottle({ counter: spy, key, ip: { freeAttempts: 3 }, clock });
    for (let i = 0; i < 3; i++) await throttle.check({ account: `user${i}@example.com`, ip: '198.51.100.9' });
    expect((await refusal(throttle.check({ account: 'user9@example.com', ip: '198.51.100.9' })))?.code).toBe(
      'RATE_LIMITED',
    );
    await throttle.check({ account: 'user9@example.com', ip: '198.51.100.10' });
    expect(seen.every((k) => /^[ai]:[0-9a-f]{64}$/.test(k))).toBe(true);
    expect(seen.join()).not.toContain('example.com');
  });

  it('fails closed with 503 STORE_UNAVAILABLE when the counter cannot answer', async () => {
    const broken = {
      attempt: async () => {
        throw new Error('connection refused');
      },
      reset: async () => {
        throw new Error('connection refused');
      },
    };
    const throttle = createLoginThrottle({ counter: broken, key });
    const error = await refusal(throttle.check({ account: 'a@example.com', ip: null }));
    expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE', status: 503, reason: 'throttle_counter' });
    expect((await refusal(throttle.succeeded({ account: 'a@example.com', ip: null })))?.code).toBe('STORE_UNAVAILABLE');
  });

  it('fails closed with 503 STORE_UNAVAILABLE once timeoutMs passes without an answer; a late answer changes nothing', async () => {
    const hung = { attempt: () => new Promise<never>(() => {}), reset: () => new Promise<never>(() => {}) };
    const throttle = createLoginThrottle({ counter: hung, key, timeoutMs: 50 });
    const started = performance.now();
    const error = await refusal(throttle.check({ account: 'a@example.com', ip: '192.0.2.7' }));
    // Timers may fire from the loop's cached time, a little early.
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE', status: 503, reason: 'throttle_counter' });
    expect(error?.message).toMatch(/did not answer in time/);
    expect((await refusal(throttle.succeeded({ account: 'a@example.com', ip: null })))?.code).toBe('STORE_UNAVAILABLE');

    // An answer (here a failure) after the bound is ignored, not an unhandled rejection.
    const slow = {
      attempt: () => new Promise<never>((_, reject) => setTimeout(() => reject(new Error('late')), 80)),
      reset: async () => {},
    };
    const late = await refusal(
      createLoginThrottle({ counter: slow, key, timeoutMs: 20 }).check({ account: 'b', ip: null }),
    );
    expect(late?.message).toMatch(/did not answer in time/);
    await new Promise((resolve) => setTimeout(resolve, 120));
  });

  it('refuses a timeoutMs that is not a positive number with CONFIG_INVALID', () => {
    const counter = new MemoryAttemptCounter();
    for (const timeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '100' as unknown as number]) {
      expect(() => createLoginThrottle({ counter, key, timeoutMs }), String(timeoutMs)).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID' }),
      );
    }
  });

  it('keeps memory bounded', async () => {
    const counter = new MemoryAttemptCounter({ maxKeys: 10 });
    for (let i = 0; i < 50; i++)
      await counter.attempt(`k${i}`, { freeAttempts: 5, baseDelayMs: 1, maxDelayMs: 1, windowMs: 1000 }, 0);
    expect(counter.size).toBe(10);
  });

  it('refuses bad configuration with CONFIG_INVALID', () => {
    const counter = new MemoryAttemptCounter();
    expect(() => createLoginThrottle({ counter, key: new Uint8Array(8) })).toThrow(/32 random bytes/);
    expect(() => createLoginThrottle({ counter, key, account: { freeAttempts: 0 } })).toThrow(SessionError);
    expect(() => createLoginThrottle({ counter, key, ip: { baseDelayMs: 10, maxDelayMs: 5 } })).toThrow(SessionError);
    expect(() => createLoginThrottle({ counter: {} as never, key })).toThrow(/AttemptCounter/);
    expect(() => new MemoryAttemptCounter({ maxKeys: 0 })).toThrow(SessionError);
  });
});

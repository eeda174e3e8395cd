import { isSessionError } from '@org/session-core';
import { describe, expect, it } from 'vitest';
import { hashingInFlight, hashPassword, MAX_HASHING, MAX_WAITING, verifyPassword } from '../src/passwords.js';

describe('the cap on concurrent password hashing', () => {
  it('runs at most MAX_HASHING at once, queues MAX_WAITING, and refuses the rest at once with 429', async () => {
    const stored = await hashPassword('correct horse battery');
    let peak = 0;
    const watcher = setInterval(() => {
      peak = Math.max(peak, hashingInFlight());
    }, 1);
    const started = performance.now();
    const outcomes = Array.from({ length: MAX_HASHING + MAX_WAITING + 10 }, () =>
      verifyPassword('correct horse battery', stored).then(
        (ok) => ({ ok, refusedAfterMs: null as number | null, code: null as string | null }),
        (error: unknown) => ({
          ok: false,
          refusedAfterMs: performance.now() - started,
          code: isSessionError(error) ? `${error.code}:${error.reason}:${error.retryAfterSeconds}` : String(error),
        }),
      ),
    );
    const results = await Promise.all(outcomes);
    clearInterval(watcher);
    const refused = results.filter((r) => r.code !== null);
    expect(refused).toHaveLength(10);
    expect(new Set(refused.map((r) => r.code))).toEqual(new Set(['RATE_LIMITED:hashing_busy:1']));
    // Refused without waiting for any scrypt to finish.
    for (const r of refused) expect(r.refusedAfterMs).toBeLessThan(200);
    expect(results.filter((r) => r.ok)).toHaveLength(MAX_HASHING + MAX_WAITING);
    expect(peak).toBeLessThanOrEqual(MAX_HASHING);
    expect(peak).toBeGreaterThan(0);
    expect(hashingInFlight()).toBe(0);
    // The slots are all back: a later check runs.
    await expect(verifyPassword('wrong', stored)).resolves.toBe(false);
  });
});

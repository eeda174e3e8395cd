/**
 * The store-call deadline: one coarse timer per manager watches every pending call (instead of a
 * timer per call). Fake timers make the timing exact here; security.test.ts (I2) checks the same
 * behaviour on real timers.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Deadlines } from '../src/deadlines.js';
import { isSessionError, MemoryStore, SessionError } from '../src/index.js';
import { runtimeOf, SessionManager } from '../src/manager.js';

const TIMEOUT = 800;
const TICK = TIMEOUT / 8;

function runtime(storeTimeoutMs = TIMEOUT) {
  return runtimeOf(new SessionManager({ store: new MemoryStore(), storeTimeoutMs }));
}

/** A store call that never answers, and when (in fake ms) it failed, with which error. */
function hang(rt: ReturnType<typeof runtime>, startedAt: number, timeoutMs?: number | null) {
  const outcome: { at: number | null; error: unknown } = { at: null, error: null };
  rt.call(() => new Promise<never>(() => {}), timeoutMs).catch((error: unknown) => {
    outcome.at = Date.now() - startedAt;
    outcome.error = error;
  });
  return outcome;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('store call deadlines', () => {
  it('one timer watches any number of pending calls; it stops once none is pending', async () => {
    vi.useFakeTimers();
    const rt = runtime();
    const start = Date.now();
    const calls = Array.from({ length: 50 }, () => hang(rt, start));
    const answered = await rt.call(async () => 'fine');
    expect(answered).toBe('fine');
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(TIMEOUT - 1);
    expect(calls.filter((call) => call.at !== null)).toEqual([]);
    await vi.advanceTimersByTimeAsync(TICK + 1);
    for (const call of calls) {
      expect(call.at).toBeGreaterThanOrEqual(TIMEOUT);
      expect(call.at).toBeLessThanOrEqual(TIMEOUT + TICK);
      expect(isSessionError(call.error, 'STORE_UNAVAILABLE')).toBe(true);
      expect((call.error as { reason?: string }).reason).toBe('timeout');
    }
    await vi.advanceTimersByTimeAsync(2 * TICK);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a call fails no earlier than its timeout and at most one tick (an eighth of it) later', async () => {
    vi.useFakeTimers();
    const rt = runtime();
    const start = Date.now();
    const outcomes: { offset: number; timeoutMs: number; call: ReturnType<typeof hang> }[] = [];
    for (const offset of [0, 1, 37, TICK - 1, TICK, 3 * TICK + 50]) {
      await vi.advanceTimersByTimeAsync(offset - (Date.now() - start));
      for (const timeoutMs of [TIMEOUT, 2 * TIMEOUT, 30]) {
        outcomes.push({ offset, timeoutMs, call: hang(rt, Date.now(), timeoutMs) });
      }
    }
    await vi.advanceTimersByTimeAsync(4 * TIMEOUT);
    for (const { timeoutMs, call } of outcomes) {
      expect(call.at).toBeGreaterThanOrEqual(timeoutMs);
      expect(call.at).toBeLessThanOrEqual(Math.ceil(timeoutMs / TICK) * TICK + TICK);
    }
  });

  it('calls that answer in time are not cut off; unbounded calls (null) never time out', async () => {
    vi.useFakeTimers();
    const rt = runtime();
    let release = (_value: string) => {};
    const slow = rt.call(() => new Promise<string>((resolve) => (release = resolve)));
    const unbounded = hang(rt, Date.now(), null);
    await vi.advanceTimersByTimeAsync(TIMEOUT - 1);
    release('late but in time');
    expect(await slow).toBe('late but in time');
    await vi.advanceTimersByTimeAsync(100 * TIMEOUT);
    expect(unbounded.at).toBeNull();
  });

  it('a store error is STORE_UNAVAILABLE at once; a coded error passes through', async () => {
    const rt = runtime();
    const failed = await rt.call(() => Promise.reject(new Error('connection reset'))).catch((e: unknown) => e);
    expect(isSessionError(failed, 'STORE_UNAVAILABLE')).toBe(true);
    const thrown = await rt
      .call(() => {
        throw new Error('sync');
      })
      .catch((e: unknown) => e);
    expect(isSessionError(thrown, 'STORE_UNAVAILABLE')).toBe(true);
    const coded = await rt
      .call(() => Promise.reject(new SessionError('STORE_CONFLICT', 'kept changing')))
      .catch((e: unknown) => e);
    expect(isSessionError(coded, 'STORE_CONFLICT')).toBe(true);
    expect((coded as Error).message).toBe('kept changing');
  });

  it('a long chain of calls between two ticks neither loses a pending call nor cuts one short', async () => {
    vi.useFakeTimers();
    const rt = runtime();
    const start = Date.now();
    const hanging: ReturnType<typeof hang>[] = [];
    let answered = 0;
    for (let i = 0; i < 5000; i++) {
      if (i % 1000 === 500) hanging.push(hang(rt, start));
      answered += await rt.call(async () => 1);
    }
    expect(answered).toBe(5000);
    await vi.advanceTimersByTimeAsync(TIMEOUT - 1);
    expect(hanging.filter((call) => call.at !== null)).toEqual([]);
    await vi.advanceTimersByTimeAsync(TICK + 1);
    expect(hanging.map((call) => isSessionError(call.error, 'STORE_UNAVAILABLE'))).toEqual(Array(5).fill(true));
  });

  it('still times out after fake timers were removed while its timer was armed', async () => {
    const rt = runtime(40);
    vi.useFakeTimers();
    expect(await rt.call(async () => 1)).toBe(1);
    expect(vi.getTimerCount()).toBe(1);
    vi.useRealTimers();
    const failed = await rt.call(() => new Promise<never>(() => {})).catch((e: unknown) => e);
    expect(isSessionError(failed, 'STORE_UNAVAILABLE')).toBe(true);
  });
});

describe('Deadlines.settle: one pending promise within the coarse timer', () => {
  it('passes an answer or a failure given in time, fails at the timeout otherwise, and ignores what comes later', async () => {
    vi.useFakeTimers();
    const deadlines = new Deadlines(TIMEOUT, () => new Error('too late'));
    await expect(deadlines.settle(Promise.resolve(7))).resolves.toBe(7);
    await expect(deadlines.settle(Promise.reject(new Error('refused')))).rejects.toThrow('refused');

    let answer: (value: number) => void = () => {};
    const outcome = deadlines.settle(new Promise<number>((resolve) => (answer = resolve))).then(
      (value) => `answered ${value}`,
      (error: Error) => `failed: ${error.message} at ${Date.now() - started}`,
    );
    const started = Date.now();
    await vi.advanceTimersByTimeAsync(TIMEOUT + TICK);
    answer(1);
    const settled = await outcome;
    expect(settled).toMatch(/^failed: too late at \d+$/);
    const at = Number(settled.split(' at ')[1]);
    expect(at).toBeGreaterThanOrEqual(TIMEOUT);
    expect(at).toBeLessThanOrEqual(TIMEOUT + TICK);
  });
});

import { afterEach, describe, expect, it, vi } from 'vitest';
import { EXPIRED_RETENTION_MS, type ExpiredSweep, MemoryStore, type Sweeper, startSweeper } from '../src/index.js';
import { refreshFamilyFixture, sessionRecordFixture } from '../src/testing/index.js';

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 60 * 60_000;

describe('startSweeper', () => {
  const running: Sweeper[] = [];
  afterEach(() => {
    // Stopped before the real timers return: a sweep still waiting on a fake timer is let go.
    for (const sweeper of running.splice(0)) void sweeper.stop();
    vi.useRealTimers();
  });

  it('deletes sessions and refresh families past their deadline plus the retention, and keeps the rest', async () => {
    const store = new MemoryStore();
    const expiredLongAgo = sessionRecordFixture(T0, { idleExpiresAt: T0 + 1000, absoluteExpiresAt: T0 + 2000 });
    const expiredRecently = sessionRecordFixture(T0 + EXPIRED_RETENTION_MS, { idleExpiresAt: null });
    const live = sessionRecordFixture(T0 + 2 * HOUR);
    for (const record of [expiredLongAgo, expiredRecently, live]) await store.create(record, T0);
    await store.createRefreshFamily(refreshFamilyFixture(T0, { idleExpiresAt: null, absoluteExpiresAt: T0 + 1 }), T0);
    const now = T0 + 1000 + EXPIRED_RETENTION_MS + 1;
    const clock = { now: () => now };
    const sweeps: ExpiredSweep[] = [];
    const sweeper = startSweeper(store, { intervalMs: 60_000, clock, onSweep: (r) => sweeps.push(r) });
    running.push(sweeper);

    const result = await sweeper.sweepNow();
    expect(result).toEqual({ sessions: 1, refreshFamilies: 1, done: true, skipped: false });
    expect(sweeps).toEqual([result]);
    expect(await store.get(expiredLongAgo.id, 0)).toBeNull();
    expect(await store.get(live.id, now)).not.toBeNull();
    // Expired a moment ago: still readable at now - retention, so the manager can say "expired".
    expect(await store.get(expiredRecently.id, now - EXPIRED_RETENTION_MS)).not.toBeNull();
  });

  it('sweeps on a jittered timer, one sweep at a time, and stops', async () => {
    vi.useFakeTimers();
    let active = 0;
    let overlapped = false;
    let calls = 0;
    const store = {
      async deleteExpired(): Promise<ExpiredSweep> {
        calls++;
        active++;
        if (active > 1) overlapped = true;
        await new Promise((r) => setTimeout(r, 5_000));
        active--;
        return { sessions: 0, refreshFamilies: 0, done: true, skipped: false };
      },
    };
    const sweeper = startSweeper(store, { intervalMs: 10_000, jitter: 0.5 });
    running.push(sweeper);
    // A sweep asked for while one runs shares it.
    await vi.advanceTimersByTimeAsync(10_000);
    const shared = [sweeper.sweepNow(), sweeper.sweepNow()];
    await vi.advanceTimersByTimeAsync(200_000);
    await Promise.all(shared);
    expect(overlapped).toBe(false);
    // 210 s of 7.5-12.5 s waits plus 5 s sweeps: between 10 and 17 sweeps.
    expect(calls).toBeGreaterThanOrEqual(10);
    expect(calls).toBeLessThanOrEqual(17);
    // A sweep may be in flight at this point (it depends on the jitter drawn): stop() waits for it,
    // so its fake 5 s timer must be advanced while stop() is pending.
    const stopped = sweeper.stop();
    await vi.advanceTimersByTimeAsync(5_000);
    await stopped;
    const after = calls;
    await vi.advanceTimersByTimeAsync(100_000);
    expect(calls).toBe(after);
    expect(sweeper.running).toBe(false);
    await expect(sweeper.sweepNow()).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('reports a failed sweep to onError and sweeps again at the next interval', async () => {
    vi.useFakeTimers();
    let calls = 0;
    const errors: unknown[] = [];
    const store = {
      async deleteExpired(): Promise<ExpiredSweep> {
        calls++;
        if (calls === 1) throw new Error('outage');
        return { sessions: 2, refreshFamilies: 0, done: true, skipped: false };
      },
    };
    const sweeps: ExpiredSweep[] = [];
    const sweeper = startSweeper(store, {
      intervalMs: 1_000,
      jitter: 0,
      onError: (e) => errors.push(e),
      onSweep: (r) => sweeps.push(r),
    });
    running.push(sweeper);
    await vi.advanceTimersByTimeAsync(2_100);
    expect(errors).toHaveLength(1);
    expect(sweeps[0]?.sessions).toBe(2);
  });

  it('continues soon when a sweep stopped at its batch limit', async () => {
    vi.useFakeTimers();
    let calls = 0;
    const store = {
      async deleteExpired(): Promise<ExpiredSweep> {
        calls++;
        return { sessions: 500, refreshFamilies: 0, done: calls >= 3, skipped: false };
      },
    };
    running.push(startSweeper(store, { intervalMs: 600_000, jitter: 0 }));
    await vi.advanceTimersByTimeAsync(600_000 + 2_100);
    expect(calls).toBe(3);
  });

  it('refuses a store without deleteExpired and bad options with CONFIG_INVALID', () => {
    expect(() => startSweeper({}, { intervalMs: 60_000 })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    const store = new MemoryStore();
    for (const options of [{ intervalMs: 999 }, { intervalMs: 1500.5 }, { intervalMs: 60_000, jitter: 2 }]) {
      expect(() => startSweeper(store, options)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    }
  });
});

import { createServer, type Server, type Socket } from 'node:net';
import { isSessionError, type SessionError } from '@org/session-core';
import { Deadlines } from '@org/session-core/adapter';
import { randomString, sessionRecordFixture } from '@org/session-core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisStore } from '../src/index.js';

describe('Deadlines (one coarse timer for every pending operation)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fails an operation no earlier than its timeout, at most a tick later, and never one that settled', () => {
    vi.useFakeTimers();
    const deadlines = new Deadlines(800, () => new Error('timeout'));
    const failed: string[] = [];
    const first = deadlines.add(() => failed.push('first'));
    vi.advanceTimersByTime(300);
    // Added while the timer runs: due one tick later than its timeout would say from the last tick.
    deadlines.add(() => failed.push('second'));
    const settled = deadlines.add(() => failed.push('settled'));
    settled.reject = null;

    vi.advanceTimersByTime(499);
    expect(failed).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(failed).toEqual(['first']);
    expect(first.reject).toBeNull();
    // The second's 800 ms are up at 1100 ms: it fails at the tick after, 1200 ms.
    vi.advanceTimersByTime(399);
    expect(failed).toEqual(['first']);
    vi.advanceTimersByTime(1);
    expect(failed).toEqual(['first', 'second']);
  });

  it('keeps a short list when thousands of operations settle between two ticks', () => {
    vi.useFakeTimers();
    const deadlines = new Deadlines(1000, () => new Error('timeout'));
    const pending = deadlines.add(() => {});
    for (let i = 0; i < 10_000; i++) deadlines.add(() => {}).reject = null;
    expect(deadlines.size).toBeLessThanOrEqual(128);
    expect(pending.reject).not.toBeNull();
    vi.advanceTimersByTime(1000);
    expect(pending.reject).toBeNull();
  });

  it('runs its timer only while operations are pending', () => {
    vi.useFakeTimers();
    const deadlines = new Deadlines(400, () => new Error('timeout'));
    expect(vi.getTimerCount()).toBe(0);
    const calls = Array.from({ length: 100 }, () => deadlines.add(() => {}));
    // One timer for all of them.
    expect(vi.getTimerCount()).toBe(1);
    for (const call of calls) call.reject = null;
    vi.advanceTimersByTime(50);
    expect(vi.getTimerCount()).toBe(0);
    deadlines.add(() => {});
    expect(vi.getTimerCount()).toBe(1);
  });
});

describe('a server that accepts connections and never answers', () => {
  let server: Server;
  let port: number;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.resume();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('fails every concurrent call with STORE_UNAVAILABLE (timeout), none before commandTimeoutMs', async () => {
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, commandTimeoutMs: 250 });
    try {
      const started = performance.now();
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, () =>
          store.get(randomString(16), Date.now()).then(
            () => ({ error: null as unknown, ms: performance.now() - started }),
            (error: unknown) => ({ error, ms: performance.now() - started }),
          ),
        ),
      );
      for (const { error, ms } of outcomes) {
        expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
        expect((error as SessionError).reason).toBe('timeout');
        // A timer never fires early: a lower bound only.
        expect(ms).toBeGreaterThanOrEqual(249);
      }
    } finally {
      await store.close();
    }
  });

  it('fails scripts the same way while the first connection never becomes ready: every one with the timeout, none early', async () => {
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, commandTimeoutMs: 250 });
    try {
      const now = Date.now();
      const record = sessionRecordFixture(now);
      const family = {
        id: randomString(16),
        sessionId: record.id,
        userId: record.userId,
        generation: 2,
        currentHash: 'a'.repeat(64),
        previousHash: null,
        rotatedAt: null,
        createdAt: now,
        lastUsedAt: now,
        idleExpiresAt: null,
        absoluteExpiresAt: now + 60_000,
        revokedAt: null,
      };
      const calls: [string, () => Promise<unknown>][] = [
        ['create', () => store.create(record, now)],
        ['update', () => store.update({ ...record, version: 2 }, 1, now)],
        ['touch', () => store.touch({ ...record, version: 2 }, 1, now)],
        ['delete', () => store.delete(record.id)],
        ['deleteByUser', () => store.deleteByUser(record.userId)],
        ['setUserEpoch', () => store.setUserEpoch(record.userId, { validAfter: now, keep: null }, now + 1000, now)],
        ['createRefreshFamily', () => store.createRefreshFamily(family, now)],
        ['updateRefreshFamily', () => store.updateRefreshFamily(family, 1, now)],
      ];
      const started = performance.now();
      const outcomes = await Promise.all(
        calls.map(([name, call]) =>
          call().then(
            () => ({ name, error: null as unknown, ms: performance.now() - started }),
            (error: unknown) => ({ name, error, ms: performance.now() - started }),
          ),
        ),
      );
      for (const { name, error, ms } of outcomes) {
        expect(isSessionError(error, 'STORE_UNAVAILABLE'), name).toBe(true);
        expect((error as SessionError).reason, name).toBe('timeout');
        expect(ms, name).toBeGreaterThanOrEqual(249);
      }
    } finally {
      await store.close();
    }
  });
});

/**
 * Session writes (writes.ts) beyond the store conformance suite, which runs them through
 * `instrumentStore` and so always on a store without a synchronous read. Here the in-process path
 * too: a MemoryStore keeping its `getSync`, whose calls are counted by a subclass (the records go
 * through the real store).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isSessionError, MemoryStore, type SessionData, SessionError, type SessionRecord } from '../src/index.js';
import { SessionManager } from '../src/manager.js';
import { createTestClock, instrumentStore } from '../src/testing/index.js';

type Data = Record<string, unknown>;

/** A MemoryStore that counts its session reads and writes, `getSync` kept. */
class CountingStore<D extends SessionData = Data> extends MemoryStore<D> {
  calls = { get: 0, getSync: 0, update: 0 };
  /** Runs once at the start of the next `update` (a competing writer, an outage). */
  beforeUpdate: ((record: SessionRecord<D>) => void) | null = null;

  override async get(id: string, now: number): Promise<SessionRecord<D> | null> {
    this.calls.get++;
    return super.get(id, now);
  }

  override getSync(id: string, now: number): SessionRecord<D> | null {
    this.calls.getSync++;
    return super.getSync(id, now);
  }

  override update(record: SessionRecord<D>, expectedVersion: number, now: number): Promise<boolean> {
    this.calls.update++;
    const before = this.beforeUpdate;
    this.beforeUpdate = null;
    before?.(record);
    return super.update(record, expectedVersion, now);
  }

  reset(): void {
    this.calls = { get: 0, getSync: 0, update: 0 };
  }
}

function inProcess(storeTimeoutMs?: number) {
  const clock = createTestClock();
  const store = new CountingStore();
  const sessions = new SessionManager<Data>({ store, clock, storeTimeoutMs });
  return { clock, store, sessions };
}

async function validated(sessions: SessionManager<Data>, token: string) {
  const result = await sessions.validateToken(token);
  if (result.status !== 'valid') throw new Error(`expected a valid session, got ${result.status}`);
  return result.session;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('a write after a validation, store that reads synchronously', () => {
  it('is one store round trip (the compare-and-set), with no asynchronous read and no timer', async () => {
    vi.useFakeTimers();
    const { store, sessions } = inProcess();
    const { token } = await sessions.create({ userId: 'u1', data: { n: 0 } });
    // The create's deadline timer runs out once nothing is pending.
    await vi.advanceTimersByTimeAsync(5_000);
    expect(vi.getTimerCount()).toBe(0);
    const writes = [
      (s: Awaited<ReturnType<typeof validated>>) => sessions.update(s, (data) => ({ ...data, n: 1 })),
      (s: Awaited<ReturnType<typeof validated>>) => sessions.patch(s, { m: 2 }),
      (s: Awaited<ReturnType<typeof validated>>) => sessions.update(s, { n: 3, m: 2 }),
      (s: Awaited<ReturnType<typeof validated>>) => sessions.extend(s),
    ];
    for (const write of writes) {
      const session = await validated(sessions, token);
      store.reset();
      const written = await write(session);
      expect(store.calls).toEqual({ get: 0, getSync: 1, update: 1 });
      expect(written.version).toBe(session.version + 1);
      expect(vi.getTimerCount()).toBe(0);
    }
    expect((await validated(sessions, token)).data).toEqual({ n: 3, m: 2 });
  });

  it('10 concurrent merges of one session: none fails, every one is kept, in two compare-and-sets', async () => {
    const { store, sessions } = inProcess();
    const { token } = await sessions.create({ userId: 'u1', data: { role: 'member' } });
    const reads = await Promise.all(Array.from({ length: 10 }, () => validated(sessions, token)));
    store.reset();
    const writes = await Promise.allSettled(
      reads.map((session, i) =>
        i % 2 === 0
          ? sessions.patch(session, { [`k${i}`]: i })
          : sessions.update(session, (d) => ({ ...d, [`k${i}`]: i })),
      ),
    );
    expect(writes.filter((w) => w.status === 'rejected')).toEqual([]);
    // The first goes out alone; the nine queued behind it go out together.
    expect(store.calls.update).toBe(2);
    expect(store.calls.get).toBe(0);
    const expected = { role: 'member', ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, i])) };
    expect((await validated(sessions, token)).data).toEqual(expected);
    // Every writer gets the record its own change is part of.
    for (const w of writes)
      if (w.status === 'fulfilled') expect(w.value.version).toBeGreaterThan(reads[0]?.version ?? 0);
  });

  it('a change that throws fails alone, in a batch and alone, with its own error', async () => {
    const { sessions } = inProcess();
    const { token } = await sessions.create({ userId: 'u1', data: { a: 0 } });
    const session = await validated(sessions, token);
    const mine = new Error('bad input of this request');
    const [first, broken, last] = await Promise.allSettled([
      sessions.patch(session, { a: 1 }),
      sessions.update(session, () => {
        throw mine;
      }),
      sessions.patch(session, { b: 2 }),
    ]);
    expect(first.status).toBe('fulfilled');
    expect(broken).toEqual({ status: 'rejected', reason: mine });
    expect(last.status).toBe('fulfilled');
    expect(
      await sessions
        .update(session, () => {
          throw mine;
        })
        .catch((e: unknown) => e),
    ).toBe(mine);
    expect((await validated(sessions, token)).data).toEqual({ a: 1, b: 2 });
    // The queue is empty again: the next write goes out alone.
    expect((await sessions.patch(session, { c: 3 })).data).toEqual({ a: 1, b: 2, c: 3 });
  });

  it('a compare-and-set lost to another writer is retried on the record as it now stands', async () => {
    const { store, sessions, clock } = inProcess();
    const other = new SessionManager<Data>({ store, clock });
    const { token } = await sessions.create({ userId: 'u1', data: { role: 'member' } });
    const session = await validated(sessions, token);
    // Another process writes between this write's read and its compare-and-set.
    store.beforeUpdate = () => {
      void other.patch(session, { theirs: true });
    };
    store.reset();
    const written = await sessions.patch(session, { ours: true });
    expect(written.data).toEqual({ role: 'member', theirs: true, ours: true });
    // Ours (refused), theirs, ours again.
    expect(store.calls.update).toBe(3);
    expect(store.calls.get).toBe(0);
    expect((await validated(sessions, token)).data).toEqual({ role: 'member', theirs: true, ours: true });
  });

  it('a replacement keeps strict compare-and-set', async () => {
    const { sessions } = inProcess();
    const { token } = await sessions.create({ userId: 'u1', data: { n: 0 } });
    const session = await validated(sessions, token);
    const results = await Promise.allSettled([sessions.update(session, { n: 1 }), sessions.update(session, { n: 2 })]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect(isSessionError((results[1] as PromiseRejectedResult).reason, 'STORE_CONFLICT')).toBe(true);
    expect((await validated(sessions, token)).data).toEqual({ n: 1 });
  });

  it('a session revoked or expired before the write is SESSION_NOT_FOUND, and is not written back', async () => {
    const { store, sessions, clock } = inProcess();
    const revoked = await sessions.create({ userId: 'u1', data: { n: 0 } });
    const expired = await sessions.create({ userId: 'u2', data: { n: 0 } });
    const [a, b] = [await validated(sessions, revoked.token), await validated(sessions, expired.token)];
    await sessions.revoke(a.id);
    store.reset();
    for (const write of [() => sessions.patch(a, { n: 1 }), () => sessions.update(a, { n: 1 })]) {
      expect(isSessionError(await write().catch((e: unknown) => e), 'SESSION_NOT_FOUND')).toBe(true);
    }
    clock.advance(sessions.policy.absoluteTimeoutMs);
    expect(isSessionError(await sessions.patch(b, { n: 1 }).catch((e: unknown) => e), 'SESSION_NOT_FOUND')).toBe(true);
    expect(store.calls.update).toBe(0);
    expect(await store.get(a.id, clock.now())).toBeNull();
  });

  it('store failures during a write are STORE_UNAVAILABLE; coded errors pass through', async () => {
    const { store, sessions } = inProcess();
    const { token } = await sessions.create({ userId: 'u1', data: { n: 0 } });
    const session = await validated(sessions, token);
    const failures: [string, () => void, string][] = [
      ['read throws', () => vi.spyOn(store, 'getSync').mockImplementationOnce(boom), 'STORE_UNAVAILABLE'],
      ['write throws', () => (store.beforeUpdate = boom), 'STORE_UNAVAILABLE'],
      [
        'write rejects',
        () => vi.spyOn(MemoryStore.prototype, 'update').mockRejectedValueOnce(new Error('disk full')),
        'STORE_UNAVAILABLE',
      ],
      [
        'coded',
        () =>
          (store.beforeUpdate = () => {
            throw new SessionError('STORE_CONFLICT');
          }),
        'STORE_CONFLICT',
      ],
    ];
    for (const [label, inject, code] of failures) {
      for (const write of [() => sessions.patch(session, { n: 1 }), () => sessions.update(session, { n: 1 })]) {
        inject();
        const error = await write().catch((e: unknown) => e);
        expect({ label, code: (error as SessionError).code }).toEqual({ label, code });
        vi.restoreAllMocks();
      }
    }
    // Nothing was written; the session still takes writes.
    expect((await validated(sessions, token)).data).toEqual({ n: 0 });
    expect((await sessions.patch(session, { n: 1 })).data).toEqual({ n: 1 });
  });
});

describe('a write after a validation, store doing I/O', () => {
  it('reads nothing more and stays bounded by the store deadline when the compare-and-set hangs', async () => {
    const clock = createTestClock();
    const probe = instrumentStore(new MemoryStore<Data>());
    const sessions = new SessionManager<Data>({ store: probe.store, clock, storeTimeoutMs: 50 });
    const { token } = await sessions.create({ userId: 'u1', data: { n: 0 } });
    const session = await validated(sessions, token);
    probe.reset();
    expect((await sessions.patch(session, { n: 1 })).data).toEqual({ n: 1 });
    expect(probe.calls).toMatchObject({ get: 0, update: 1 });
    const next = await validated(sessions, token);
    probe.fail('hang');
    probe.reset();
    for (const write of [() => sessions.patch(next, { n: 2 }), () => sessions.update(next, { n: 2 })]) {
      const error = await write().catch((e: unknown) => e);
      expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
      expect((error as SessionError).reason).toBe('timeout');
    }
    // One compare-and-set each, no retry of a timed-out one.
    expect(probe.calls).toMatchObject({ get: 0, update: 2 });
    probe.fail(null);
    expect((await validated(sessions, token)).data).toEqual({ n: 1 });
  });
});

function boom(): never {
  throw new Error('connection reset');
}

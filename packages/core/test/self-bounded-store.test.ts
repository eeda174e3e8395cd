/**
 * A store that bounds its own per-key calls (`settlesWithinMs`) is not bounded twice: a manager
 * whose storeTimeoutMs is at least that sets no deadline of its own on them, still codes their
 * errors; a store that declares more than the manager allows keeps the manager's deadline. The
 * store here holds its records in memory and answers when a test lets it (slow I/O); the Redis
 * store's own bound is tested against a hung Redis in store-redis (self-bounded.test.ts).
 * (Checklist I2: a hanging store bounds every request-path call.)
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  isSessionError,
  MemoryStore,
  type SessionData,
  SessionError,
  type SessionRecord,
  type SessionStore,
  type UserEpoch,
} from '../src/index.js';
import { createSessionManager, runtimeOf } from '../src/manager.js';

const TIMEOUT = 800;
const TICK = TIMEOUT / 8;

/** Records in memory, read and written asynchronously, each answer held while `hold()` is in force. */
class HeldStore implements SessionStore {
  readonly memory = new MemoryStore();
  #held: Promise<void> | null = null;
  #release = () => {};

  constructor(readonly settlesWithinMs?: number) {}

  /** Holds every answer from now on until `release()`. */
  hold(): void {
    this.#held = new Promise((resolve) => {
      this.#release = resolve;
    });
  }

  release(): void {
    this.#held = null;
    this.#release();
  }

  async #after<T>(answer: () => Promise<T>): Promise<T> {
    if (this.#held) await this.#held;
    return answer();
  }

  create(record: SessionRecord, now: number) {
    return this.#after(() => this.memory.create(record, now));
  }
  get(id: string, now: number) {
    return this.#after(() => this.memory.get(id, now));
  }
  update(record: SessionRecord, expectedVersion: number, now: number) {
    return this.#after(() => this.memory.update(record, expectedVersion, now));
  }
  rotate(oldId: string, expectedVersion: number, successor: SessionRecord, now: number) {
    return this.#after(() => this.memory.rotate(oldId, expectedVersion, successor, now));
  }
  delete(id: string) {
    return this.#after(() => this.memory.delete(id));
  }
  listByUser(userId: string, now: number) {
    return this.#after(() => this.memory.listByUser(userId, now));
  }
  deleteByUser(userId: string, exceptId?: string) {
    return this.#after(() => this.memory.deleteByUser(userId, exceptId));
  }
  setUserEpoch(userId: string, epoch: UserEpoch, expiresAt: number, now: number) {
    return this.#after(() => this.memory.setUserEpoch(userId, epoch, expiresAt, now));
  }
  getUserEpoch(userId: string, now: number) {
    return this.#after(() => this.memory.getUserEpoch(userId, now));
  }
  deleteAll() {
    return this.#after(() => this.memory.deleteAll());
  }
}

async function setUp(settlesWithinMs: number | undefined, storeTimeoutMs = TIMEOUT) {
  const store = new HeldStore(settlesWithinMs);
  const manager = createSessionManager<SessionData>({ store, storeTimeoutMs });
  const issued = await manager.create({ userId: 'u1', data: { n: 1 } });
  return { store, manager, rt: runtimeOf(manager), issued };
}

/** When (fake ms after `startedAt`) `operation` settled, and how. */
function watch(operation: Promise<unknown>, startedAt: number) {
  const outcome: { at: number | null; value: unknown; error: unknown } = { at: null, value: null, error: null };
  operation.then(
    (value) => {
      outcome.at = Date.now() - startedAt;
      outcome.value = value;
    },
    (error: unknown) => {
      outcome.at = Date.now() - startedAt;
      outcome.error = error;
    },
  );
  return outcome;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('a store that declares settlesWithinMs', () => {
  it('above the manager bound: the manager keeps its own deadline, same code and reason', async () => {
    const { store, manager, rt, issued } = await setUp(5 * TIMEOUT);
    expect(rt.storeSettles).toBe(false);
    vi.useFakeTimers();
    store.hold();
    const start = Date.now();
    const read = watch(manager.validateToken(issued.token), start);
    const update = watch(manager.update(issued.session, { n: 2 }), start);
    await vi.advanceTimersByTimeAsync(TIMEOUT - 1);
    expect([read.at, update.at]).toEqual([null, null]);
    await vi.advanceTimersByTimeAsync(TICK + 1);
    const result = read.value as { status: string; error: unknown };
    expect(result.status).toBe('unavailable');
    for (const error of [result.error, update.error]) {
      expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
      expect((error as { reason?: string }).reason).toBe('timeout');
    }
    expect(read.at).toBeLessThanOrEqual(TIMEOUT + TICK);
    expect(update.at).toBeLessThanOrEqual(TIMEOUT + TICK);
    store.release();
  });

  it('without it, the same: the manager bounds every call', async () => {
    const { rt } = await setUp(undefined);
    expect(rt.storeSettles).toBe(false);
  });

  it('within the manager bound: no deadline of the manager, the call waits for the store', async () => {
    const { store, manager, rt, issued } = await setUp(TIMEOUT);
    expect(rt.storeSettles).toBe(true);
    vi.useFakeTimers();
    store.hold();
    const start = Date.now();
    const read = watch(manager.validateToken(issued.token), start);
    const update = watch(manager.update(issued.session, { n: 2 }), start);
    const rotated = watch(manager.rotate(issued.session), start);
    // No timer armed for them: the store promised to answer (or fail) in time by itself.
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(10 * TIMEOUT);
    expect([read.at, update.at, rotated.at]).toEqual([null, null, null]);
    store.release();
    await vi.advanceTimersByTimeAsync(0);
    expect((read.value as { status: string }).status).toBe('valid');
    expect(update.error).toBeNull();
    expect(rotated.error).toBeNull();
    // The batched listByUser on a login keeps the manager's deadline: the contract does not cover it.
    store.hold();
    const login = watch(manager.create({ userId: 'u1', data: { n: 3 } }), Date.now());
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(TIMEOUT + TICK);
    expect(isSessionError(login.error, 'STORE_UNAVAILABLE')).toBe(true);
    store.release();
  });

  it('within the manager bound: errors are still coded (fail closed), coded ones pass through', async () => {
    const { rt } = await setUp(TIMEOUT / 2);
    expect(rt.storeSettles).toBe(true);
    const rejected = await rt.callStore(() => Promise.reject(new Error('connection reset'))).catch((e: unknown) => e);
    expect(isSessionError(rejected, 'STORE_UNAVAILABLE')).toBe(true);
    expect((rejected as Error).cause).toBeInstanceOf(Error);
    const thrown = await rt
      .callStore(() => {
        throw new Error('sync');
      })
      .catch((e: unknown) => e);
    expect(isSessionError(thrown, 'STORE_UNAVAILABLE')).toBe(true);
    const coded = await rt
      .callStore(() => Promise.reject(new SessionError('STORE_CONFLICT', 'kept changing')))
      .catch((e: unknown) => e);
    expect(isSessionError(coded, 'STORE_CONFLICT')).toBe(true);
    // A store written in JavaScript may answer with a plain value.
    expect(await rt.callStore(() => 7 as unknown as Promise<number>)).toBe(7);
    // call() itself, for anything but the store's per-key methods, keeps its deadline.
    vi.useFakeTimers();
    const other = watch(
      rt.call(() => new Promise<never>(() => {})),
      Date.now(),
    );
    await vi.advanceTimersByTimeAsync(TIMEOUT + TICK);
    expect(isSessionError(other.error, 'STORE_UNAVAILABLE')).toBe(true);
  });

  it('is refused with CONFIG_INVALID unless a positive finite number', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -1, 0, '500', null]) {
      const store = new HeldStore();
      (store as { settlesWithinMs?: unknown }).settlesWithinMs = bad;
      let error: unknown = null;
      try {
        createSessionManager({ store });
      } catch (e) {
        error = e;
      }
      expect(isSessionError(error, 'CONFIG_INVALID'), String(bad)).toBe(true);
    }
    expect(runtimeOf(createSessionManager({ store: new HeldStore(0.5) })).storeSettles).toBe(true);
  });

  it('is seen through instrumentation, which wraps the store', () => {
    const instrumentation = { run: <T>(_operation: unknown, fn: () => T) => fn() };
    const manager = createSessionManager({ store: new HeldStore(TIMEOUT), storeTimeoutMs: TIMEOUT, instrumentation });
    expect(runtimeOf(manager).storeSettles).toBe(true);
  });
});

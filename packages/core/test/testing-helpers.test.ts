import { describe, expect, it } from 'vitest';
import { hashSecret } from '../src/hash.js';
import { isSessionError, MemoryStore, type SessionRecord } from '../src/index.js';
import { randomString } from '../src/random.js';
import { createTestClock, instrumentStore } from '../src/testing/index.js';

describe('createTestClock', () => {
  it('starts at 2026-01-01T00:00:00Z or the given time and only moves when told', () => {
    expect(createTestClock().now()).toBe(Date.UTC(2026, 0, 1));
    const clock = createTestClock(1000);
    expect(clock.now()).toBe(1000);
    expect(clock.advance(500)).toBe(1500);
    expect(clock.advance(-2000)).toBe(-500);
    expect(clock.set(42)).toBe(42);
    expect(clock.now()).toBe(42);
  });
});

describe('instrumentStore', () => {
  const record = (): SessionRecord => ({
    id: randomString(16),
    secretHash: hashSecret('s'),
    userId: 'u1',
    createdAt: 0,
    lastSeenAt: 0,
    idleExpiresAt: null,
    absoluteExpiresAt: 10_000,
    authenticatedAt: 0,
    persistent: false,
    data: {},
    metadata: {},
    version: 1,
  });

  it('passes every call to the real store and counts calls and writes', async () => {
    const memory = new MemoryStore();
    const probe = instrumentStore(memory);
    const r = record();
    await probe.store.create(r, 0);
    expect(await probe.store.get(r.id, 0)).toEqual(r);
    expect(await memory.get(r.id, 0)).toEqual(r);
    await probe.store.listByUser('u1', 0);
    await probe.store.delete(r.id);
    expect(probe.calls).toMatchObject({ create: 1, get: 1, listByUser: 1, delete: 1, update: 0 });
    expect(probe.writes()).toBe(2);
    expect(probe.total()).toBe(4);
    probe.reset();
    expect(probe.total()).toBe(0);
  });

  it("fail('error') rejects with STORE_UNAVAILABLE, fail('hang') never settles, fail(null) heals", async () => {
    const probe = instrumentStore(new MemoryStore());
    probe.fail('error');
    expect(isSessionError(await probe.store.get('x', 0).catch((e: unknown) => e), 'STORE_UNAVAILABLE')).toBe(true);
    probe.fail('hang');
    const hanging = probe.store.get('x', 0);
    const winner = await Promise.race([hanging.then(() => 'settled'), Promise.resolve().then(() => 'pending')]);
    expect(winner).toBe('pending');
    probe.fail(null);
    expect(await probe.store.get('x', 0)).toBeNull();
    expect(probe.calls.get).toBe(3);
  });

  it('forwards close to the real store', async () => {
    const memory = new MemoryStore();
    await memory.create(record(), 0);
    const probe = instrumentStore(memory);
    await probe.store.close?.();
    expect(memory.size).toBe(0);
  });
});

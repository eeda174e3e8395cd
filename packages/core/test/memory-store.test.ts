import { describe, expect, it } from 'vitest';
import {
  hashSecret,
  isSessionError,
  MemoryStore,
  randomString,
  recordExpiresAt,
  type SessionRecord,
} from '../src/index.js';
import { sessionRecordFixture } from '../src/testing/index.js';

const T0 = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;

const record = (overrides: Partial<SessionRecord> = {}) =>
  sessionRecordFixture(T0, {
    userId: 'u1',
    data: { nested: { list: [1, 2] } },
    metadata: { userAgent: null, ip: null, label: null },
    ...overrides,
  });

describe('MemoryStore', () => {
  it('refuses a non-positive or fractional bound with CONFIG_INVALID', () => {
    for (const options of [{ maxSessions: 0 }, { maxSessions: 1.5 }, { maxRefreshFamilies: -1 }]) {
      expect(() => new MemoryStore(options)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    }
    expect(new MemoryStore().maxSessions).toBe(10_000);
    expect(new MemoryStore({ maxSessions: 5 }).maxRefreshFamilies).toBe(5);
  });

  it('copies and freezes what it stores: callers cannot change a stored record', async () => {
    const store = new MemoryStore();
    const original = record();
    await store.create(original, T0);
    (original.data as { nested: { list: number[] } }).nested.list.push(3);
    const stored = (await store.get(original.id, T0)) as SessionRecord;
    expect(stored.data).toEqual({ nested: { list: [1, 2] } });
    expect(Object.isFrozen(stored)).toBe(true);
    expect(Object.isFrozen((stored.data as { nested: object }).nested)).toBe(true);
  });

  it('is bounded: at the limit it sweeps expired records first', async () => {
    const store = new MemoryStore({ maxSessions: 3 });
    const dying = record({ idleExpiresAt: T0 + MINUTE });
    await store.create(dying, T0);
    const live = [record(), record()];
    for (const r of live) await store.create(r, T0);
    await store.create(record(), T0 + MINUTE);
    expect(store.size).toBe(3);
    expect(await store.get(dying.id, T0)).toBeNull();
    for (const r of live) expect(await store.get(r.id, T0 + MINUTE)).not.toBeNull();
  });

  it('is bounded: with every record live it evicts the least recently written one', async () => {
    const store = new MemoryStore({ maxSessions: 3 });
    const [a, b, c] = [record(), record({ userId: 'u2' }), record()];
    for (const r of [a, b, c]) await store.create(r as SessionRecord, T0);
    // Touching a moves it to the back of the eviction order.
    expect(await store.update({ ...(a as SessionRecord), version: 2, lastSeenAt: T0 + 1 }, 1, T0 + 1)).toBe(true);
    await store.create(record(), T0 + 2);
    expect(store.size).toBe(3);
    expect(await store.get((b as SessionRecord).id, T0 + 2)).toBeNull();
    expect(await store.listByUser('u2', T0 + 2)).toEqual([]);
    expect(await store.get((a as SessionRecord).id, T0 + 2)).not.toBeNull();
  });

  it('stays within its bound under a flood of creates', async () => {
    const store = new MemoryStore({ maxSessions: 100 });
    for (let i = 0; i < 1000; i++) await store.create(record({ userId: `u${i % 7}` }), T0 + i);
    expect(store.size).toBe(100);
    let listed = 0;
    for (let u = 0; u < 7; u++) listed += (await store.listByUser(`u${u}`, T0 + 1000)).length;
    expect(listed).toBe(100);
  });

  it('sweep drops expired sessions and families and reports how many', async () => {
    const store = new MemoryStore();
    await store.create(record({ idleExpiresAt: T0 + MINUTE }), T0);
    await store.create(record(), T0);
    await store.createRefreshFamily(
      {
        id: randomString(16),
        sessionId: randomString(16),
        userId: 'u1',
        generation: 1,
        currentHash: hashSecret('x'),
        previousHash: null,
        rotatedAt: null,
        createdAt: T0,
        lastUsedAt: T0,
        idleExpiresAt: T0 + MINUTE,
        absoluteExpiresAt: T0 + 2 * MINUTE,
        revokedAt: null,
      },
      T0,
    );
    expect(store.sweep(T0 + MINUTE - 1)).toBe(0);
    expect(store.sweep(T0 + MINUTE)).toBe(2);
    expect(store.size).toBe(1);
  });

  it('refresh families are bounded too, oldest first after expired ones', async () => {
    const store = new MemoryStore({ maxSessions: 10, maxRefreshFamilies: 2 });
    const family = (id: string) => ({
      id,
      sessionId: randomString(16),
      userId: 'u1',
      generation: 1,
      currentHash: hashSecret(id),
      previousHash: null,
      rotatedAt: null,
      createdAt: T0,
      lastUsedAt: T0,
      idleExpiresAt: null,
      absoluteExpiresAt: T0 + MINUTE,
      revokedAt: null,
    });
    await store.createRefreshFamily(family('f1'), T0);
    await store.createRefreshFamily(family('f2'), T0);
    await store.createRefreshFamily(family('f3'), T0);
    expect(await store.getRefreshFamily('f1', T0)).toBeNull();
    expect(await store.getRefreshFamily('f3', T0)).not.toBeNull();
    expect(await store.getRefreshFamily('f3', T0 + MINUTE)).toBeNull();
  });

  it('moves a record between user indexes when an update changes its user', async () => {
    const store = new MemoryStore();
    const r = record();
    await store.create(r, T0);
    expect(await store.update({ ...r, userId: 'u9', version: 2 }, 1, T0)).toBe(true);
    expect(await store.listByUser('u1', T0)).toEqual([]);
    expect((await store.listByUser('u9', T0)).map((x) => x.id)).toEqual([r.id]);
    expect(await store.deleteByUser('u9')).toBe(1);
  });

  it('close empties it', async () => {
    const store = new MemoryStore();
    await store.create(record(), T0);
    await store.close();
    expect(store.size).toBe(0);
  });

  it('create of an existing id is STORE_CONFLICT', async () => {
    const store = new MemoryStore();
    const r = record();
    await store.create(r, T0);
    expect(isSessionError(await store.create(r, T0).catch((e: unknown) => e), 'STORE_CONFLICT')).toBe(true);
  });
});

describe('recordExpiresAt', () => {
  it('is the earlier of the two deadlines, or the absolute one without an idle deadline', () => {
    expect(recordExpiresAt({ idleExpiresAt: 5, absoluteExpiresAt: 9 })).toBe(5);
    expect(recordExpiresAt({ idleExpiresAt: 12, absoluteExpiresAt: 9 })).toBe(9);
    expect(recordExpiresAt({ idleExpiresAt: null, absoluteExpiresAt: 9 })).toBe(9);
  });
});

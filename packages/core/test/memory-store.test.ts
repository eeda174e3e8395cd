import { describe, expect, it } from 'vitest';
import { hashSecret } from '../src/hash.js';
import {
  EXPIRED_RETENTION_MS,
  isSessionError,
  MemoryStore,
  recordExpiresAt,
  type SessionRecord,
} from '../src/index.js';
import { dumpMemoryStore } from '../src/memory-store.js';
import { randomString } from '../src/random.js';
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

  it('a write copies what changed and keeps the frozen parts it did not change; no caller reaches the stored record', async () => {
    const store = new MemoryStore();
    const original = record({ data: { cart: [{ sku: 'a' }], profile: { name: 'Ann' } } });
    await store.create(original, T0);
    const first = (await store.get(original.id, T0)) as SessionRecord;
    const profile = { name: 'Bob' };
    const next = { ...first, data: { ...first.data, profile }, version: 2 };
    expect(await store.update(next, 1, T0)).toBe(true);
    const second = (await store.get(original.id, T0)) as SessionRecord;
    // Untouched parts: the same frozen objects; the changed part: a frozen copy of the caller's.
    expect(second.data.cart).toBe(first.data.cart);
    expect(second.metadata).toBe(first.metadata);
    expect(second.data.profile).not.toBe(profile);
    expect(Object.isFrozen(second.data.profile)).toBe(true);
    profile.name = 'Eve';
    (next.data as Record<string, unknown>).extra = true;
    expect(await store.get(original.id, T0)).toEqual({
      ...next,
      data: { cart: [{ sku: 'a' }], profile: { name: 'Bob' } },
    });
    expect(() => (second.data.cart as unknown[]).push(1)).toThrow(TypeError);
  });

  it('copies data structuredClone copies (dates, maps, cycles, a __proto__ key, null prototypes) as it did, frozen', async () => {
    const store = new MemoryStore();
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
    const data = {
      at: new Date(T0),
      tags: new Map([['k', 'v']]),
      cyclic,
      bare,
      parsed: JSON.parse('{"__proto__": {"admin": true}}') as Record<string, unknown>,
      deep: JSON.parse(`${'['.repeat(200)}1${']'.repeat(200)}`) as unknown[],
      list: [1, 'two', null, { three: 3 }],
    };
    const r = record({ data });
    await store.create(r, T0);
    const stored = (await store.get(r.id, T0)) as SessionRecord<typeof data>;
    expect(stored.data.at).toEqual(new Date(T0));
    expect(stored.data.tags.get('k')).toBe('v');
    expect(stored.data.cyclic.self).toBe(stored.data.cyclic);
    expect(stored.data.cyclic).not.toBe(cyclic);
    expect(Object.getPrototypeOf(stored.data.bare)).toBe(Object.prototype);
    expect(Object.hasOwn(stored.data.parsed, '__proto__')).toBe(true);
    expect((stored.data.parsed as { admin?: boolean }).admin).toBeUndefined();
    expect(stored.data.deep).toEqual(data.deep);
    expect(stored.data.list).toEqual([1, 'two', null, { three: 3 }]);
    for (const part of [stored.data, stored.data.cyclic, stored.data.list, stored.data.list[3], stored.data.deep]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    // A function cannot be copied: refused as before, and nothing is stored.
    const bad = record({ data: { fn: () => 1 } });
    await expect(store.create(bad, T0)).rejects.toThrow();
    expect(await store.get(bad.id, T0)).toBeNull();
  });

  it("keeps each user's sessions in creation order through one, two and back to one session", async () => {
    const store = new MemoryStore({ maxSessions: 3 });
    const [a, b, c] = [record(), record(), record()];
    await store.create(a, T0);
    expect(JSON.parse(dumpMemoryStore(store)).byUser).toEqual([['u1', [a.id]]]);
    await store.create(b, T0);
    expect((await store.listByUser('u1', T0)).map((x) => x.id)).toEqual([a.id, b.id]);
    expect(await store.delete(a.id)).toBe(true);
    expect(JSON.parse(dumpMemoryStore(store)).byUser).toEqual([['u1', [b.id]]]);
    await store.create(c, T0);
    await store.create(record({ userId: 'u2' }), T0);
    // Full: the user's oldest session (b, then c) makes room.
    await store.create(record(), T0);
    expect(await store.get(b.id, T0)).toBeNull();
    expect(await store.get(c.id, T0)).not.toBeNull();
    expect(await store.deleteByUser('u1', c.id)).toBe(1);
    expect((await store.listByUser('u1', T0)).map((x) => x.id)).toEqual([c.id]);
    expect(await store.deleteByUser('u1')).toBe(1);
    expect(await store.listByUser('u1', T0)).toEqual([]);
    expect(JSON.parse(dumpMemoryStore(store)).byUser).toEqual([['u2', [expect.any(String)]]]);
  });

  it('a write leaves the eviction order alone: the oldest created session makes room even just after its update', async () => {
    const store = new MemoryStore({ maxSessions: 2 });
    const [a, b] = [record(), record()];
    for (const r of [a, b]) await store.create(r, T0);
    for (let v = 1; v <= 5; v++)
      expect(await store.update({ ...a, version: a.version + v }, a.version + v - 1, T0)).toBe(true);
    expect((await store.get(a.id, T0))?.version).toBe(a.version + 5);
    await store.create(record(), T0 + 1);
    expect(await store.get(a.id, T0 + 1)).toBeNull();
    expect(await store.get(b.id, T0 + 1)).not.toBeNull();
    expect(store.size).toBe(2);
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

  it("item 5: at capacity a user's own oldest session makes room, never another user's", async () => {
    const store = new MemoryStore({ maxSessions: 3 });
    const [a, b, c] = [record(), record({ userId: 'u2' }), record()];
    for (const r of [a, b, c]) await store.create(r as SessionRecord, T0);
    // One account logging in again and again only ever replaces its own sessions.
    for (let i = 1; i <= 10; i++) await store.create(record(), T0 + i);
    expect(store.size).toBe(3);
    expect(await store.get((b as SessionRecord).id, T0 + 10)).not.toBeNull();
    expect(await store.listByUser('u2', T0 + 10)).toHaveLength(1);
    expect(await store.get((a as SessionRecord).id, T0 + 10)).toBeNull();
  });

  it('item 5: at capacity a user with no session of their own is refused (STORE_UNAVAILABLE), nobody is evicted', async () => {
    const store = new MemoryStore({ maxSessions: 2 });
    const [a, b] = [record(), record({ userId: 'u2' })];
    for (const r of [a, b]) await store.create(r as SessionRecord, T0);
    const refused = await store.create(record({ userId: 'u3' }), T0 + 1).catch((e: unknown) => e);
    expect(isSessionError(refused, 'STORE_UNAVAILABLE')).toBe(true);
    expect((refused as { reason?: string }).reason).toBe('full');
    expect(await store.get((a as SessionRecord).id, T0 + 1)).not.toBeNull();
    expect(await store.get((b as SessionRecord).id, T0 + 1)).not.toBeNull();
    // Expired records still make room for anyone.
    const expiring = new MemoryStore({ maxSessions: 1 });
    await expiring.create(record({ idleExpiresAt: T0 + MINUTE }), T0);
    await expiring.create(record({ userId: 'u3' }), T0 + MINUTE);
    expect(await expiring.listByUser('u3', T0 + MINUTE)).toHaveLength(1);
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
    // Item 16: records stay readable for the retention past their deadline, then go.
    expect(store.sweep(T0 + MINUTE - 1)).toBe(0);
    expect(store.sweep(T0 + MINUTE + EXPIRED_RETENTION_MS - 1)).toBe(0);
    expect(store.sweep(T0 + MINUTE + EXPIRED_RETENTION_MS)).toBe(2);
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

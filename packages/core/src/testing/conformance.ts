import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSessionError } from '../errors.js';
import { hashSecret } from '../hash.js';
import { SessionManager } from '../manager.js';
import { randomString } from '../random.js';
import type { SessionStore } from '../store.js';
import type { RefreshFamilyRecord, SessionRecord } from '../types.js';
import { createTestClock } from './clock.js';
import { instrumentStore } from './instrument.js';
import { runRefreshConformance } from './refresh-conformance.js';

export interface StoreConformanceOptions {
  /** Shown in the suite title, e.g. `RedisStore (cluster)`. */
  name: string;
  /** Opens the store under test (called once, before the suite). */
  createStore: () => SessionStore | Promise<SessionStore>;
  /** Closes it (and anything the test opened) after the suite; defaults to `store.close()`. */
  closeStore?: (store: SessionStore) => void | Promise<void>;
  /**
   * Start of the injected clock. Stores that expire records with the server's own TTL derive it
   * from `expiresAt - now`, so any start works; the default is the real time.
   */
  clockStart?: number;
}

type Data = { role: string; nested?: { list: number[]; text: string } };

const MINUTE = 60_000;

/**
 * Registers the store conformance suite as vitest tests. Every store (ours and third parties')
 * runs it against the real backing service with one call:
 *
 * @example
 * ```ts
 * import { runStoreConformance } from '@org/session-core/testing'
 * runStoreConformance({ name: 'MyStore', createStore: () => new MyStore(url) })
 * ```
 *
 * Test data uses fresh random ids, so the suite can share a database with other tests.
 */
export function runStoreConformance(options: StoreConformanceOptions): void {
  describe(`store conformance: ${options.name}`, () => {
    let store: SessionStore;
    const clock = createTestClock(options.clockStart ?? Date.now());

    beforeAll(async () => {
      store = await options.createStore();
    });
    afterAll(async () => {
      if (!store) return;
      if (options.closeStore) await options.closeStore(store);
      else await store.close?.();
    });

    const record = (overrides: Partial<SessionRecord<Data>> = {}): SessionRecord<Data> => {
      const now = clock.now();
      return {
        id: randomString(16),
        secretHash: hashSecret(randomString(32)),
        userId: `user-${randomString(9)}`,
        createdAt: now,
        lastSeenAt: now,
        idleExpiresAt: now + 30 * MINUTE,
        absoluteExpiresAt: now + 12 * 60 * MINUTE,
        authenticatedAt: now,
        persistent: false,
        data: { role: 'member' },
        metadata: { userAgent: 'conformance', ip: '127.0.0.1', label: null },
        version: 1,
        ...overrides,
      };
    };

    const family = (overrides: Partial<RefreshFamilyRecord> = {}): RefreshFamilyRecord => {
      const now = clock.now();
      return {
        id: randomString(16),
        sessionId: randomString(16),
        userId: `user-${randomString(9)}`,
        generation: 1,
        currentHash: hashSecret(randomString(32)),
        previousHash: null,
        rotatedAt: null,
        createdAt: now,
        lastUsedAt: now,
        idleExpiresAt: now + 30 * MINUTE,
        absoluteExpiresAt: now + 12 * 60 * MINUTE,
        revokedAt: null,
        ...overrides,
      };
    };

    describe('sessions', () => {
      it('returns what was created, field for field', async () => {
        const r = record({
          persistent: true,
          idleExpiresAt: null,
          data: { role: 'admin', nested: { list: [1, 2, 3], text: 'żółw 🐢 "quoted" \\ back' } },
          metadata: { userAgent: 'Mozilla/5.0 (X11)', ip: '::1', label: 'Work laptop' },
        });
        await store.create(r, clock.now());
        expect(await store.get(r.id, clock.now())).toEqual(r);
      });

      it('getSync, when the store offers it, answers exactly like get', async () => {
        if (typeof store.getSync !== 'function') {
          // Optional: only in-process stores offer a synchronous read.
          expect(store.getSync).toBeUndefined();
          return;
        }
        const r = record({ idleExpiresAt: clock.now() + MINUTE });
        await store.create(r, clock.now());
        for (const at of [clock.now(), clock.now() + MINUTE - 1]) {
          expect(store.getSync(r.id, at)).toEqual(await store.get(r.id, at));
        }
        expect(store.getSync(randomString(16), clock.now())).toBeNull();
        expect(store.getSync(r.id, clock.now() + MINUTE)).toBeNull();
      });

      it('returns null for an unknown id', async () => {
        expect(await store.get(randomString(16), clock.now())).toBeNull();
      });

      it('refuses a second record with the same id (STORE_CONFLICT) and keeps the first', async () => {
        const r = record();
        await store.create(r, clock.now());
        const clash = { ...r, userId: 'intruder', secretHash: hashSecret('x') };
        const error = await store.create(clash, clock.now()).then(
          () => null,
          (e: unknown) => e,
        );
        expect(isSessionError(error, 'STORE_CONFLICT')).toBe(true);
        expect(await store.get(r.id, clock.now())).toEqual(r);
      });

      it('does not return a record past its idle deadline', async () => {
        const r = record({ idleExpiresAt: clock.now() + MINUTE });
        await store.create(r, clock.now());
        expect(await store.get(r.id, clock.now() + MINUTE - 1)).not.toBeNull();
        expect(await store.get(r.id, clock.now() + MINUTE)).toBeNull();
      });

      it('does not return a record past its absolute deadline, idle or not', async () => {
        const r = record({ idleExpiresAt: null, absoluteExpiresAt: clock.now() + MINUTE });
        await store.create(r, clock.now());
        expect(await store.get(r.id, clock.now() + MINUTE)).toBeNull();
      });

      it('updates with compare-and-set on the version', async () => {
        const r = record();
        await store.create(r, clock.now());
        const next = { ...r, data: { role: 'admin' }, version: 2, lastSeenAt: r.lastSeenAt + 1 };
        expect(await store.update(next, 1, clock.now())).toBe(true);
        expect(await store.get(r.id, clock.now())).toEqual(next);
        const stale = { ...r, data: { role: 'stale' }, version: 2 };
        expect(await store.update(stale, 1, clock.now())).toBe(false);
        expect(await store.get(r.id, clock.now())).toEqual(next);
      });

      it('does not resurrect a deleted record through update', async () => {
        const r = record();
        await store.create(r, clock.now());
        await store.delete(r.id);
        expect(await store.update({ ...r, version: 2 }, 1, clock.now())).toBe(false);
        expect(await store.get(r.id, clock.now())).toBeNull();
      });

      it('I3: of 50 parallel updates from one version exactly one wins, none is lost', async () => {
        const r = record();
        await store.create(r, clock.now());
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            store.update({ ...r, data: { role: `writer-${i}` }, version: 2 }, 1, clock.now()),
          ),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results.indexOf(true);
        expect((await store.get(r.id, clock.now()))?.data).toEqual({ role: `writer-${winner}` });
      });

      it('updates extend the life of a record to its new deadline', async () => {
        const r = record({ idleExpiresAt: clock.now() + MINUTE });
        await store.create(r, clock.now());
        const later = clock.now() + 50_000;
        const touched = { ...r, lastSeenAt: later, idleExpiresAt: later + MINUTE, version: 2 };
        expect(await store.update(touched, 1, later)).toBe(true);
        expect(await store.get(r.id, clock.now() + 100_000)).toEqual(touched);
      });

      it('deletes once', async () => {
        const r = record();
        await store.create(r, clock.now());
        expect(await store.delete(r.id)).toBe(true);
        expect(await store.delete(r.id)).toBe(false);
        expect(await store.get(r.id, clock.now())).toBeNull();
      });

      it("lists a user's live sessions only", async () => {
        const userId = `user-${randomString(9)}`;
        const a = record({ userId });
        const b = record({ userId });
        const dying = record({ userId, idleExpiresAt: clock.now() + MINUTE });
        const other = record();
        for (const r of [a, b, dying, other]) await store.create(r, clock.now());
        const ids = (await store.listByUser(userId, clock.now())).map((r) => r.id).sort();
        expect(ids).toEqual([a.id, b.id, dying.id].sort());
        const later = (await store.listByUser(userId, clock.now() + MINUTE)).map((r) => r.id).sort();
        expect(later).toEqual([a.id, b.id].sort());
        expect(await store.listByUser(`user-${randomString(9)}`, clock.now())).toEqual([]);
      });

      it("E4: deletes all of a user's sessions but one, and no one else's", async () => {
        const userId = `user-${randomString(9)}`;
        const keep = record({ userId });
        const drop1 = record({ userId });
        const drop2 = record({ userId });
        const bystander = record();
        for (const r of [keep, drop1, drop2, bystander]) await store.create(r, clock.now());
        expect(await store.deleteByUser(userId, keep.id)).toBe(2);
        expect((await store.listByUser(userId, clock.now())).map((r) => r.id)).toEqual([keep.id]);
        expect(await store.get(drop1.id, clock.now())).toBeNull();
        expect(await store.get(bystander.id, clock.now())).not.toBeNull();
      });

      it("E3: deletes all of a user's sessions", async () => {
        const userId = `user-${randomString(9)}`;
        for (let i = 0; i < 3; i++) await store.create(record({ userId }), clock.now());
        expect(await store.deleteByUser(userId)).toBe(3);
        expect(await store.listByUser(userId, clock.now())).toEqual([]);
        expect(await store.deleteByUser(userId)).toBe(0);
      });

      it('of two parallel creates with one id exactly one succeeds', async () => {
        const r = record();
        const results = await Promise.allSettled([
          store.create(r, clock.now()),
          store.create({ ...r, userId: 'other' }, clock.now()),
        ]);
        expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
        const rejected = results.find((x) => x.status === 'rejected') as PromiseRejectedResult;
        expect(isSessionError(rejected.reason, 'STORE_CONFLICT')).toBe(true);
      });
    });

    describe('refresh families', () => {
      it('returns what was created and refuses a duplicate id', async () => {
        const f = family();
        await store.createRefreshFamily(f, clock.now());
        expect(await store.getRefreshFamily(f.id, clock.now())).toEqual(f);
        const error = await store.createRefreshFamily(f, clock.now()).then(
          () => null,
          (e: unknown) => e,
        );
        expect(isSessionError(error, 'STORE_CONFLICT')).toBe(true);
      });

      it('returns null for unknown and expired families', async () => {
        const f = family({ idleExpiresAt: clock.now() + MINUTE });
        await store.createRefreshFamily(f, clock.now());
        expect(await store.getRefreshFamily(randomString(16), clock.now())).toBeNull();
        expect(await store.getRefreshFamily(f.id, clock.now() + MINUTE)).toBeNull();
      });

      it('G1/I3: rotates with compare-and-set on the generation; 20 parallel rotations have one winner', async () => {
        const f = family();
        await store.createRefreshFamily(f, clock.now());
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            store.updateRefreshFamily(
              {
                ...f,
                generation: 2,
                previousHash: f.currentHash,
                currentHash: hashSecret(`next-${i}`),
                rotatedAt: clock.now(),
              },
              1,
              clock.now(),
            ),
          ),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results.indexOf(true);
        const stored = await store.getRefreshFamily(f.id, clock.now());
        expect(stored?.generation).toBe(2);
        expect(stored?.currentHash).toBe(hashSecret(`next-${winner}`));
        expect(await store.updateRefreshFamily({ ...f, generation: 2 }, 1, clock.now())).toBe(false);
      });

      it('keeps a revoked family readable so replays are recognised', async () => {
        const f = family();
        await store.createRefreshFamily(f, clock.now());
        const revoked = { ...f, generation: 2, revokedAt: clock.now() };
        expect(await store.updateRefreshFamily(revoked, 1, clock.now())).toBe(true);
        expect(await store.getRefreshFamily(f.id, clock.now())).toEqual(revoked);
      });
    });

    describe('through the session manager', () => {
      const manager = (s: SessionStore, extra: Partial<ConstructorParameters<typeof SessionManager>[0]> = {}) =>
        new SessionManager({ store: s, clock, ...extra });

      it('A5: the store holds the SHA-256 of the secret, never the secret', async () => {
        const sessions = manager(store);
        const { session, token } = await sessions.create({ userId: `user-${randomString(9)}` });
        const secret = token.split('.')[1] as string;
        const raw = await store.get(session.id, clock.now());
        expect(raw?.secretHash).toBe(hashSecret(secret));
        expect(JSON.stringify(raw)).not.toContain(secret);
      });

      it('C4: 100 plain reads within a touch interval write nothing; the next interval writes once', async () => {
        const probe = instrumentStore(store);
        const sessions = manager(probe.store);
        const { token } = await sessions.create({ userId: `user-${randomString(9)}` });
        probe.reset();
        for (let i = 0; i < 100; i++) {
          expect((await sessions.validateToken(token)).status).toBe('valid');
        }
        expect(probe.writes()).toBe(0);
        expect(probe.calls.get).toBe(100);
        clock.advance(sessions.policy.touchIntervalMs);
        await sessions.validateToken(token);
        await sessions.validateToken(token);
        expect(probe.writes()).toBe(1);
        clock.advance(-sessions.policy.touchIntervalMs);
      });

      it('D1: rotation kills the old token at once and keeps the data', async () => {
        const sessions = manager(store);
        const issued = await sessions.create({ userId: `user-${randomString(9)}`, data: { role: 'member' } });
        const rotated = await sessions.rotate(issued.session, { data: { role: 'admin' } });
        expect((await sessions.validateToken(issued.token)).session).toBeNull();
        const after = await sessions.validateToken(rotated.token);
        expect(after.session?.userId).toBe(issued.session.userId);
        expect(after.session?.data).toEqual({ role: 'admin' });
      });

      it('concurrent rotations of one session have exactly one winner', async () => {
        const sessions = manager(store);
        const issued = await sessions.create({ userId: `user-${randomString(9)}` });
        const results = await Promise.allSettled(Array.from({ length: 10 }, () => sessions.rotate(issued.session)));
        const winners = results.filter((r) => r.status === 'fulfilled');
        expect(winners).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect(isSessionError(r.reason, 'SESSION_NOT_FOUND')).toBe(true);
        }
        expect(await sessions.list(issued.session.userId)).toHaveLength(1);
      });

      it('expired sessions disappear and the user index shrinks', async () => {
        const sessions = manager(store, { policy: { idleTimeoutMs: 10 * MINUTE, absoluteTimeoutMs: 60 * MINUTE } });
        const userId = `user-${randomString(9)}`;
        const first = await sessions.create({ userId });
        await sessions.create({ userId });
        expect(await sessions.list(userId)).toHaveLength(2);
        clock.advance(10 * MINUTE);
        try {
          expect(await sessions.list(userId)).toHaveLength(0);
          expect(await store.listByUser(userId, clock.now())).toHaveLength(0);
          expect((await sessions.validateToken(first.token)).status).toMatch(/expired|invalid/);
        } finally {
          clock.advance(-10 * MINUTE);
        }
      });
    });

    runRefreshConformance(() => store, clock);
  });
}

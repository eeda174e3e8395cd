import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { base64urlDecode, base64urlEncode, fromHex, toHex } from '../encoding.js';
import { isSessionError } from '../errors.js';
import type { SessionEvent } from '../events.js';
import { hashSecret } from '../hash.js';
import { JwtKeySet } from '../jwt/key-set.js';
import { generateSigningKey } from '../jwt/keys.js';
import { SessionJwt } from '../jwt/session-jwt.js';
import { SessionManager } from '../manager.js';
import { randomBytes, randomString } from '../random.js';
import { RefreshTokens } from '../refresh.js';
import { EXPIRED_RETENTION_MS, isRefreshFamilyStore, type RefreshFamilyStore, type SessionStore } from '../store.js';
import type { RefreshFamilyRecord, SessionRecord } from '../types.js';
import { createTestClock } from './clock.js';
import { refreshFamilyFixture, sessionRecordFixture } from './fixtures.js';
import { instrumentStore } from './instrument.js';
import { NOT_REFRESH_STORE, runRefreshConformance } from './refresh-conformance.js';

export interface StoreConformanceOptions {
  /** Shown in the suite title, e.g. `RedisStore (cluster)`. */
  name: string;
  /**
   * Opens a store under test. Called twice: once for the suite, and once more for the `deleteAll`
   * tests, which empty their store. Give each call its own key prefix, schema, tables or file, so
   * that emptying one never wipes records that other tests (or other test files sharing the
   * server) rely on.
   */
  createStore: () => SessionStore | Promise<SessionStore>;
  /**
   * Optional: everything the backing service holds for `store`, as text (every key under its
   * prefix with its value, every row of its tables, its database file), read around the store,
   * not through it. The secret-at-rest case (A5) searches it for token and refresh secrets in any
   * form and for the hashes that must be there instead; without this option that case is skipped.
   */
  dumpRaw?: (store: SessionStore) => string | Promise<string>;
  /**
   * Optional: opens a second, empty store on the same backing service as `store` whose data
   * `store` must never touch (another key prefix, schema or table names). The suite checks that
   * `deleteAll` leaves it alone; without this option that one check is skipped.
   */
  createIsolatedStore?: (store: SessionStore) => SessionStore | Promise<SessionStore>;
  /**
   * Whether the store keeps refresh families, that is implements `RefreshFamilyStore` (default
   * true). A store of sessions only passes `false`: the refresh cases are then replaced by one
   * case proving that it is no `RefreshFamilyStore` and that refresh tokens refuse it
   * (`CONFIG_INVALID`). Left true, a store without the family methods fails those cases.
   */
  refreshFamilies?: boolean;
  /**
   * Closes one store the suite opened (and anything the test opened for it); called for each,
   * isolated stores first. Defaults to `store.close()`.
   */
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

    const close = async (opened: SessionStore | undefined) => {
      if (!opened) return;
      if (options.closeStore) await options.closeStore(opened);
      else await opened.close?.();
    };

    beforeAll(async () => {
      store = await options.createStore();
    });
    afterAll(() => close(store));

    const record = (overrides: Partial<SessionRecord<Data>> = {}): SessionRecord<Data> =>
      sessionRecordFixture<Data>(clock.now(), {
        data: { role: 'member' },
        metadata: { userAgent: 'conformance', ip: '127.0.0.1', label: null },
        ...overrides,
      });
    const family = (overrides: Partial<RefreshFamilyRecord> = {}) => refreshFamilyFixture(clock.now(), overrides);
    /** `s` as a RefreshFamilyStore, or null when it implements sessions only. */
    const familiesOf = (s: SessionStore): (SessionStore & RefreshFamilyStore) | null =>
      isRefreshFamilyStore(s) ? s : null;

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

      it('settlesWithinMs, when declared, is a positive finite number (a manager refuses anything else)', () => {
        const bound: unknown = store.settlesWithinMs;
        const valid = typeof bound === 'number' && Number.isFinite(bound) && bound > 0;
        expect(bound === undefined || valid, `settlesWithinMs: ${String(bound)}`).toBe(true);
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

    if (options.refreshFamilies === false) {
      it('keeps no refresh families (refreshFamilies: false): no RefreshFamilyStore, and refresh tokens refuse it', async () => {
        expect(familiesOf(store)).toBeNull();
        const manager = new SessionManager({ store, clock });
        const keys = new JwtKeySet({ active: await generateSigningKey('HS256') });
        const jwt = new SessionJwt({ manager, keys, issuer: 'https://conformance.test', audience: 'api' });
        let refused: unknown = null;
        try {
          new RefreshTokens({ jwt, secret: randomBytes(32) });
        } catch (error) {
          refused = error;
        }
        expect(isSessionError(refused, 'CONFIG_INVALID')).toBe(true);
      });
    }

    if (options.refreshFamilies !== false) {
      describe('refresh families', () => {
        let families: SessionStore & RefreshFamilyStore;
        beforeEach(() => {
          const found = familiesOf(store);
          if (!found) throw new Error(NOT_REFRESH_STORE);
          families = found;
        });

        it('returns what was created and refuses a duplicate id', async () => {
          const f = family();
          await families.createRefreshFamily(f, clock.now());
          expect(await families.getRefreshFamily(f.id, clock.now())).toEqual(f);
          const error = await families.createRefreshFamily(f, clock.now()).then(
            () => null,
            (e: unknown) => e,
          );
          expect(isSessionError(error, 'STORE_CONFLICT')).toBe(true);
        });

        it('returns null for unknown and expired families', async () => {
          const f = family({ idleExpiresAt: clock.now() + MINUTE });
          await families.createRefreshFamily(f, clock.now());
          expect(await families.getRefreshFamily(randomString(16), clock.now())).toBeNull();
          expect(await families.getRefreshFamily(f.id, clock.now() + MINUTE)).toBeNull();
        });

        it('G1/I3: rotates with compare-and-set on the generation; 20 parallel rotations have one winner', async () => {
          const f = family();
          await families.createRefreshFamily(f, clock.now());
          const results = await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              families.updateRefreshFamily(
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
          const stored = await families.getRefreshFamily(f.id, clock.now());
          expect(stored?.generation).toBe(2);
          expect(stored?.currentHash).toBe(hashSecret(`next-${winner}`));
          expect(await families.updateRefreshFamily({ ...f, generation: 2 }, 1, clock.now())).toBe(false);
        });

        it('keeps a revoked family readable so replays are recognised', async () => {
          const f = family();
          await families.createRefreshFamily(f, clock.now());
          const revoked = { ...f, generation: 2, revokedAt: clock.now() };
          expect(await families.updateRefreshFamily(revoked, 1, clock.now())).toBe(true);
          expect(await families.getRefreshFamily(f.id, clock.now())).toEqual(revoked);
        });
      });
    }

    describe('through the session manager', () => {
      const manager = (s: SessionStore, extra: Partial<ConstructorParameters<typeof SessionManager>[0]> = {}) =>
        new SessionManager({ store: s, clock, ...extra });

      const a5 = 'A5: what the backing service holds has the SHA-256 of each secret, never a secret, token or JWT';
      it.skipIf(!options.dumpRaw)(options.dumpRaw ? a5 : `${a5} (skipped: no dumpRaw option was given)`, async () => {
        const dumpRaw = options.dumpRaw as NonNullable<typeof options.dumpRaw>;
        const sessions = manager(store);
        const userId = `user-${randomString(9)}`;
        const issued = await Promise.all(
          [0, 1, 2].map((i) =>
            sessions.create({ userId, data: { role: 'member' }, metadata: { label: `device ${i}` } }),
          ),
        );
        const first = issued[0] as (typeof issued)[number];
        // A rotation leaves whatever the store keeps of the old session (a tombstone, a mark, a free page).
        const rotated = await sessions.rotate(first.session);
        const live = [rotated, ...issued.slice(1)];
        const tokens = [...issued, rotated].map((i) => i.token);
        const secrets = tokens.map((token) => token.split('.')[1] as string);
        const hashes = live.map((i) => hashSecret(i.token.split('.')[1] as string));
        // API mode, where the store can hold families: a refresh pair rotated once, so the family
        // holds a current and a previous hash.
        if (familiesOf(store)) {
          const keys = new JwtKeySet({ active: await generateSigningKey('HS256') });
          const jwt = new SessionJwt({ manager: sessions, keys, issuer: 'https://conformance.test', audience: 'api' });
          const refresh = new RefreshTokens({ jwt, secret: randomBytes(32) });
          const pair = await refresh.issue(rotated.session);
          const next = await refresh.refresh(pair.refreshToken);
          const refreshSecrets = [pair, next].map((p) => p.refreshToken.split('.')[1] as string);
          tokens.push(pair.refreshToken, next.refreshToken, pair.accessToken, next.accessToken);
          secrets.push(...refreshSecrets);
          hashes.push(...refreshSecrets.map(hashSecret));
        }

        const dump = await dumpRaw(store);
        // What must be there: proof that the dump is the real thing, not an empty or filtered view.
        for (const hash of hashes) expect(dump).toContain(hash);
        const lower = dump.toLowerCase();
        for (const token of tokens) expect(dump).not.toContain(token);
        for (const secret of secrets) {
          // No piece of a secret (8 characters and up), and not its bytes in hex either.
          for (let start = 0; start + 8 <= secret.length; start++) {
            expect(dump).not.toContain(secret.slice(start, start + 8));
          }
          expect(lower).not.toContain(toHex(base64urlDecode(secret) as Uint8Array));
        }
        // What the dump does hold, the id with its stored hash (raw or in the token alphabet), is no token.
        for (const { session, token } of live) {
          const hash = hashSecret(token.split('.')[1] as string);
          for (const forged of [
            `${session.id}.${hash}`,
            `${session.id}.${base64urlEncode(fromHex(hash) as Uint8Array)}`,
          ]) {
            expect((await sessions.validateToken(forged)).session).toBeNull();
            expect((await sessions.validateCookie(`${sessions.cookie.name}=${forged}`)).session).toBeNull();
          }
        }
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

      it('a touch moves the idle deadline and keeps the data; writes after it build on it', async () => {
        const probe = instrumentStore(store);
        const sessions = manager(probe.store);
        const { token } = await sessions.create({ userId: `user-${randomString(9)}`, data: { role: 'member' } });
        const first = await sessions.validateToken(token);
        clock.advance(sessions.policy.touchIntervalMs);
        probe.reset();
        const touched = await sessions.validateToken(token);
        if (first.status !== 'valid' || touched.status !== 'valid') throw new Error('expected valid sessions');
        // One write: through the store's touch when it has one, else update.
        expect(probe.writes()).toBe(1);
        expect(touched.session.version).toBe(first.session.version + 1);
        expect(touched.session.lastSeenAt).toBe(clock.now());
        expect(touched.session.idleExpiresAt).toBeGreaterThan(first.session.idleExpiresAt as number);
        const read = await store.get(touched.session.id, clock.now());
        expect(read).toMatchObject({
          version: touched.session.version,
          lastSeenAt: touched.session.lastSeenAt,
          idleExpiresAt: touched.session.idleExpiresAt,
          data: { role: 'member' },
        });
        // A replacement on the touched version lands, and keeps the touched deadline.
        const updated = await sessions.update(touched.session, { role: 'admin' });
        const after = await store.get(updated.id, clock.now());
        expect(after).toMatchObject({
          version: touched.session.version + 1,
          idleExpiresAt: touched.session.idleExpiresAt,
          data: { role: 'admin' },
        });
        clock.advance(-sessions.policy.touchIntervalMs);
      });

      it('a write after the validation that read the session is one round trip', async () => {
        const probe = instrumentStore(store);
        const sessions = manager(probe.store);
        const { token } = await sessions.create({ userId: `user-${randomString(9)}`, data: { role: 'member' } });
        const result = await sessions.validateToken(token);
        if (result.status !== 'valid') throw new Error(`expected a valid session, got ${result.status}`);
        probe.reset();
        const updated = await sessions.update(result.session, { role: 'admin' });
        expect(probe.total()).toBe(1);
        expect(probe.calls.update).toBe(1);
        expect(updated.data).toEqual({ role: 'admin' });
        // The replacement is still a compare-and-set: the version read before is gone now.
        await expect(sessions.update(result.session, { role: 'root' })).rejects.toMatchObject({
          code: 'STORE_CONFLICT',
        });
        probe.reset();
        const patched = await sessions.patch(updated, { plan: 'pro' } as Partial<Data>);
        expect(probe.total()).toBe(1);
        expect(patched.data).toEqual({ role: 'admin', plan: 'pro' });
        const read = await sessions.validateToken(token);
        expect(read.session?.data).toEqual({ role: 'admin', plan: 'pro' });
      });

      it('10 concurrent writers of one session: none fails, every write is kept, at most 1.5 round trips each', async () => {
        const probe = instrumentStore(store);
        const sessions = manager(probe.store);
        const { token } = await sessions.create({ userId: `user-${randomString(9)}`, data: { role: 'member' } });
        // Ten parallel requests of one browser: each validates, then writes its own key.
        const reads = await Promise.all(Array.from({ length: 10 }, () => sessions.validateToken(token)));
        probe.reset();
        const writes = await Promise.allSettled(
          reads.map((result, i) => {
            if (result.status !== 'valid') throw new Error(`expected a valid session, got ${result.status}`);
            return i % 2 === 0
              ? sessions.patch(result.session, { [`k${i}`]: i } as Partial<Data>)
              : sessions.update(result.session, (data) => ({ ...data, [`k${i}`]: i }));
          }),
        );
        expect(writes.filter((w) => w.status === 'rejected')).toEqual([]);
        expect(probe.total() / 10).toBeLessThanOrEqual(1.5);
        const expected = { role: 'member', ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, i])) };
        expect((await sessions.validateToken(token)).session?.data).toEqual(expected);
      });

      it('concurrent writers in two processes (two managers): none fails, every write is kept', async () => {
        const probe = instrumentStore(store);
        const [one, two] = [manager(probe.store), manager(probe.store)];
        const { token } = await one.create({ userId: `user-${randomString(9)}`, data: { role: 'member' } });
        const reads = await Promise.all(
          Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? one : two).validateToken(token)),
        );
        probe.reset();
        const writes = await Promise.allSettled(
          reads.map((result, i) => {
            if (result.status !== 'valid') throw new Error(`expected a valid session, got ${result.status}`);
            return (i % 2 === 0 ? one : two).patch(result.session, { [`k${i}`]: i } as Partial<Data>);
          }),
        );
        expect(writes.filter((w) => w.status === 'rejected')).toEqual([]);
        // Each process combines its writers; the loser of the first race reads once and retries.
        expect(probe.total()).toBeLessThanOrEqual(15);
        const expected = { role: 'member', ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, i])) };
        expect((await one.validateToken(token)).session?.data).toEqual(expected);
      });

      it('a merging write of a revoked session is SESSION_NOT_FOUND and writes nothing back', async () => {
        const sessions = manager(store);
        const issued = await sessions.create({ userId: `user-${randomString(9)}`, data: { role: 'member' } });
        expect(await sessions.revoke(issued.session.id)).toBe(true);
        await expect(sessions.patch(issued.session, { role: 'admin' })).rejects.toMatchObject({
          code: 'SESSION_NOT_FOUND',
        });
        await expect(sessions.update(issued.session, { role: 'admin' })).rejects.toMatchObject({
          code: 'SESSION_NOT_FOUND',
        });
        expect(await store.get(issued.session.id, clock.now())).toBeNull();
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
          // Item 16: the same outcome on every store, whatever its TTL mechanism.
          expect((await sessions.validateToken(first.token)).status).toBe('expired');
        } finally {
          clock.advance(-10 * MINUTE);
        }
      });
    });

    describe('rotation and user epochs (hardening items 1, 3, 4, 16)', () => {
      const manager = (s: SessionStore, extra: Partial<ConstructorParameters<typeof SessionManager>[0]> = {}) =>
        new SessionManager({ store: s, clock, ...extra });
      const successorOf = (old: SessionRecord<Data>) =>
        record({ userId: old.userId, createdAt: old.createdAt, data: old.data });

      it('item 3: rotate replaces the old record with the successor in one step', async () => {
        const old = record({ userId: `user-${randomString(9)}` });
        await store.create(old, clock.now());
        const next = successorOf(old);
        expect(await store.rotate(old.id, old.version, next, clock.now())).toBe(true);
        expect(await store.get(old.id, clock.now())).toBeNull();
        expect(await store.get(next.id, clock.now())).toEqual(next);
        expect((await store.listByUser(old.userId, clock.now())).map((r) => r.id)).toEqual([next.id]);
        expect(await store.delete(old.id)).toBe(false);
      });

      it('item 3: rotate refuses a stale version, an unknown or an expired record, and changes nothing', async () => {
        const old = record({ userId: `user-${randomString(9)}`, idleExpiresAt: clock.now() + MINUTE });
        await store.create(old, clock.now());
        const stale = successorOf(old);
        expect(await store.rotate(old.id, old.version + 1, stale, clock.now())).toBe(false);
        const unknown = successorOf(old);
        expect(await store.rotate(randomString(16), 1, unknown, clock.now())).toBe(false);
        const late = successorOf(old);
        expect(await store.rotate(old.id, old.version, late, clock.now() + MINUTE)).toBe(false);
        for (const refused of [stale, unknown, late]) expect(await store.get(refused.id, clock.now())).toBeNull();
        expect(await store.get(old.id, clock.now())).toEqual(old);
        expect((await store.listByUser(old.userId, clock.now())).map((r) => r.id)).toEqual([old.id]);
      });

      it('item 3: rotate onto an existing id is STORE_CONFLICT and keeps both records as they were', async () => {
        const userId = `user-${randomString(9)}`;
        const [old, other] = [record({ userId }), record({ userId })];
        for (const r of [old, other]) await store.create(r, clock.now());
        const clash = { ...successorOf(old), id: other.id };
        const error = await store.rotate(old.id, old.version, clash, clock.now()).catch((e: unknown) => e);
        expect(isSessionError(error, 'STORE_CONFLICT')).toBe(true);
        expect(await store.get(old.id, clock.now())).toEqual(old);
        expect(await store.get(other.id, clock.now())).toEqual(other);
      });

      it('item 3: of 20 parallel rotations of one record exactly one wins, and only its successor exists', async () => {
        const old = record({ userId: `user-${randomString(9)}` });
        await store.create(old, clock.now());
        const successors = Array.from({ length: 20 }, () => successorOf(old));
        const won = await Promise.all(successors.map((next) => store.rotate(old.id, old.version, next, clock.now())));
        expect(won.filter(Boolean)).toHaveLength(1);
        const winner = successors[won.indexOf(true)] as SessionRecord<Data>;
        for (const next of successors) {
          expect(await store.get(next.id, clock.now())).toEqual(next === winner ? winner : null);
        }
        expect((await store.listByUser(old.userId, clock.now())).map((r) => r.id)).toEqual([winner.id]);
      });

      it('user epochs: only move forward, an equal one replaces, and end at their expiry', async () => {
        const userId = `user-${randomString(9)}`;
        const now = clock.now();
        expect(await store.getUserEpoch(userId, now)).toBeNull();
        await store.setUserEpoch(userId, { validAfter: now, keep: null }, now + MINUTE, now);
        expect(await store.getUserEpoch(userId, now)).toEqual({ validAfter: now, keep: null });
        await store.setUserEpoch(userId, { validAfter: now - 1, keep: 'older' }, now + MINUTE, now);
        expect(await store.getUserEpoch(userId, now)).toEqual({ validAfter: now, keep: null });
        await store.setUserEpoch(userId, { validAfter: now, keep: 'kept' }, now + MINUTE, now);
        expect(await store.getUserEpoch(userId, now)).toEqual({ validAfter: now, keep: 'kept' });
        await store.setUserEpoch(userId, { validAfter: now + 1, keep: null }, now + 2 * MINUTE, now);
        expect(await store.getUserEpoch(userId, now)).toEqual({ validAfter: now + 1, keep: null });
        expect(await store.getUserEpoch(userId, now + 2 * MINUTE)).toBeNull();
        expect(await store.getUserEpoch(`user-${randomString(9)}`, now)).toBeNull();
      });

      it("E3: get and listByUser hide the sessions a user's epoch revokes, except the one it keeps", async () => {
        const userId = `user-${randomString(9)}`;
        const now = clock.now();
        const before = record({ userId, createdAt: now - 2 });
        const kept = record({ userId, createdAt: now - 1 });
        const after = record({ userId, createdAt: now });
        const neighbour = record({ userId: `user-${randomString(9)}`, createdAt: now - 2 });
        for (const r of [before, kept, after, neighbour]) await store.create(r, now);
        await store.setUserEpoch(userId, { validAfter: now, keep: kept.id }, now + MINUTE, now);
        expect(await store.get(before.id, now)).toBeNull();
        expect(await store.get(kept.id, now)).toEqual(kept);
        expect(await store.get(after.id, now)).toEqual(after);
        expect(await store.get(neighbour.id, now)).toEqual(neighbour);
        if (typeof store.getSync === 'function') {
          expect(store.getSync(before.id, now)).toBeNull();
          expect(store.getSync(kept.id, now)).toEqual(kept);
        }
        const listed = (await store.listByUser(userId, now)).map((r) => r.id).sort();
        expect(listed).toEqual([kept.id, after.id].sort());
        // A later epoch without exemption ends the kept one too.
        await store.setUserEpoch(userId, { validAfter: now + 1, keep: null }, now + MINUTE, now);
        expect(await store.get(kept.id, now)).toBeNull();
        expect((await store.listByUser(userId, now)).map((r) => r.id)).toEqual([]);
      });

      it('item 16: a record stays readable for EXPIRED_RETENTION_MS past its deadline (expired, not unknown)', async () => {
        const r = record({ userId: `user-${randomString(9)}`, idleExpiresAt: clock.now() + MINUTE });
        await store.create(r, clock.now());
        const later = clock.now() + 31 * MINUTE;
        expect(await store.get(r.id, later - EXPIRED_RETENTION_MS)).toEqual(r);
        expect(await store.get(r.id, later)).toBeNull();
        expect(await store.listByUser(r.userId, later)).toEqual([]);
      });

      it('item 1: a record whose data nests 1100 levels deep is listed, and deleteByUser ends it', async () => {
        type Nested = { next?: Nested; leaf?: string };
        const deep: Nested = { leaf: 'bottom' };
        let top: Nested = deep;
        for (let i = 0; i < 1100; i++) top = { next: top };
        const r = record({ userId: `user-${randomString(9)}`, data: { role: 'member', deep: top } as Data });
        await store.create(r, clock.now());
        expect((await store.listByUser(r.userId, clock.now())).map((x) => x.id)).toEqual([r.id]);
        expect(await store.deleteByUser(r.userId)).toBe(1);
        expect(await store.get(r.id, clock.now())).toBeNull();
        expect(await store.listByUser(r.userId, clock.now())).toEqual([]);
      });

      it('item 16: an expired session is `expired`, SESSION_EXPIRED, with a session.expired event, on every store', async () => {
        const events: SessionEvent[] = [];
        const sessions = manager(store, {
          policy: { idleTimeoutMs: 10 * MINUTE, absoluteTimeoutMs: 60 * MINUTE },
          onEvent: (e) => events.push(e),
        });
        const { token } = await sessions.create({ userId: `user-${randomString(9)}` });
        clock.advance(11 * MINUTE);
        try {
          const result = await sessions.validateToken(token);
          expect(result.status).toBe('expired');
          expect(result.error?.code).toBe('SESSION_EXPIRED');
          expect(events.map((e) => e.type)).toContain('session.expired');
          expect(events.map((e) => e.type)).not.toContain('session.invalid_token');
        } finally {
          clock.advance(-11 * MINUTE);
        }
      });

      it('item 3: rotations racing "log out everywhere" leave no live successor', async () => {
        const sessions = manager(store);
        for (let round = 0; round < 3; round++) {
          const userId = `user-${randomString(9)}`;
          const issued = await Promise.all(Array.from({ length: 40 }, () => sessions.create({ userId })));
          const rotations = issued.map((i) => sessions.rotate(i.session).then((r) => r.token));
          const revoked = sessions.revokeAll(userId);
          const settled = await Promise.allSettled([...rotations, revoked]);
          for (const outcome of settled) {
            if (outcome.status === 'rejected') {
              expect(isSessionError(outcome.reason, 'SESSION_NOT_FOUND', 'SESSION_REVOKED')).toBe(true);
            }
          }
          const tokens = [
            ...issued.map((i) => i.token),
            ...settled.slice(0, -1).flatMap((o) => (o.status === 'fulfilled' ? [o.value as string] : [])),
          ];
          for (const token of tokens) expect((await sessions.validateToken(token)).session).toBeNull();
          expect(await sessions.list(userId)).toEqual([]);
        }
      });

      it('E4: "log out everywhere else" spares the current session through its later rotations, until the next revokeAll', async () => {
        const sessions = manager(store);
        const userId = `user-${randomString(9)}`;
        const current = await sessions.create({ userId });
        const other = await sessions.create({ userId });
        expect(await sessions.revokeAll(userId, { except: current.session.id })).toBe(1);
        expect((await sessions.validateToken(other.token)).session).toBeNull();
        const rotated = await sessions.rotate(current.session, { reauthenticated: true });
        expect((await sessions.validateToken(rotated.token)).session?.userId).toBe(userId);
        const again = await sessions.rotate(rotated.session);
        expect((await sessions.validateToken(again.token)).session?.userId).toBe(userId);
        // A login right after "log out everywhere" is not ended by it.
        const fresh = await sessions.create({ userId });
        expect((await sessions.validateToken(fresh.token)).status).toBe('valid');
        clock.advance(1);
        try {
          await sessions.revokeAll(userId);
          expect((await sessions.validateToken(again.token)).session).toBeNull();
          expect((await sessions.validateToken(fresh.token)).session).toBeNull();
          expect(await sessions.list(userId)).toEqual([]);
        } finally {
          clock.advance(-1);
        }
      });

      it('item 2: values no store can hold are refused with INPUT_INVALID before any store call; rotate keeps the session', async () => {
        const probe = instrumentStore(store);
        const sessions = manager(probe.store);
        const userId = `user-${randomString(9)}`;
        const issued = await sessions.create({ userId, data: { role: 'member' } });
        probe.reset();
        const attempts: Array<() => Promise<unknown>> = [
          () => sessions.create({ userId: 'lone\ud800' }),
          () => sessions.create({ userId: 'nul\u0000' }),
          () => sessions.create({ userId, metadata: { label: '\ud800' } }),
          () => sessions.create({ userId, data: { role: 'member', nested: { list: [], text: 'a\u0000b' } } }),
          () => sessions.create({ userId, data: { 'key\udc00': 1 } as unknown as Data }),
          () => sessions.update(issued.session, { role: 'x\udfff' }),
          () => sessions.rotate(issued.session, { data: { role: '\u0000' } }),
          () => sessions.rotate(issued.session, { metadata: { userAgent: 'agent\ud83d' } }),
        ];
        for (const attempt of attempts) {
          const error = await attempt().catch((e: unknown) => e);
          expect(isSessionError(error, 'INPUT_INVALID')).toBe(true);
        }
        expect(probe.total()).toBe(0);
        expect((await sessions.validateToken(issued.token)).session?.data).toEqual({ role: 'member' });
        // A well-formed surrogate pair (an emoji) is fine everywhere.
        const emoji = await sessions.create({ userId, metadata: { label: 'Phone \ud83d\udcf1' } });
        expect((await sessions.validateToken(emoji.token)).session?.metadata.label).toBe('Phone 📱');
      });

      it('item 4: list and revokeAll handle a user with 1200 sessions', async () => {
        const sessions = manager(store);
        const userId = `user-${randomString(9)}`;
        const records = Array.from({ length: 1200 }, () => record({ userId }));
        for (let i = 0; i < records.length; i += 100) {
          await Promise.all(records.slice(i, i + 100).map((r) => store.create(r, clock.now())));
        }
        expect(await sessions.list(userId)).toHaveLength(1200);
        expect(await sessions.revokeAll(userId)).toBe(1200);
        expect(await sessions.list(userId)).toEqual([]);
        expect(await store.get((records[0] as SessionRecord<Data>).id, clock.now())).toBeNull();
      });
    });

    describe('E3: deleteAll ends every session of every user', () => {
      // A store of its own: emptying the suite's store could wipe records another test relies on.
      let target: SessionStore;
      let neighbour: SessionStore | undefined;
      let keys: JwtKeySet;

      beforeAll(async () => {
        target = await options.createStore();
        keys = new JwtKeySet({ active: await generateSigningKey('HS256') });
      });
      afterAll(async () => {
        await close(neighbour);
        await close(target);
      });
      // Each test starts from an empty store, whatever the one before it left.
      beforeEach(async () => {
        await target.deleteAll();
      });

      /** Sessions with refresh families for several users, issued the way an API login does. */
      const populate = async (users: number, perUser: number) => {
        const manager = new SessionManager({ store: target, clock });
        const jwt = new SessionJwt({ manager, keys, issuer: 'https://conformance.test', audience: 'api' });
        // Refresh families only where the store can hold them.
        const refresh = familiesOf(target) ? new RefreshTokens({ jwt, secret: randomBytes(32) }) : null;
        const userIds = Array.from({ length: users }, () => `user-${randomString(9)}`);
        const issued = [];
        for (const userId of userIds) {
          for (let i = 0; i < perUser; i++) {
            const { session, token } = await manager.create({ userId });
            const refreshToken = refresh ? (await refresh.issue(session)).refreshToken : null;
            issued.push({ session, token, refreshToken, familyId: refreshToken?.split('.')[0] ?? null });
          }
        }
        return { manager, refresh, userIds, issued };
      };

      it('deletes the sessions (and refresh families) of several users; tokens issued before are dead', async () => {
        const { manager, refresh, userIds, issued } = await populate(3, 2);
        const families = familiesOf(target);
        const revokedFamily = family({ revokedAt: clock.now() });
        await families?.createRefreshFamily(revokedFamily, clock.now());

        expect(await target.deleteAll()).toBe(issued.length);
        for (const { session, familyId, token, refreshToken } of issued) {
          expect(await target.get(session.id, clock.now())).toBeNull();
          expect((await manager.validateToken(token)).status).toBe('invalid');
          if (!families || !refresh || familyId === null) continue;
          expect(await families.getRefreshFamily(familyId, clock.now())).toBeNull();
          const refreshed = await refresh.refresh(refreshToken as string).catch((e: unknown) => e);
          expect(isSessionError(refreshed, 'REFRESH_INVALID')).toBe(true);
        }
        if (families) expect(await families.getRefreshFamily(revokedFamily.id, clock.now())).toBeNull();
        for (const userId of userIds) expect(await target.listByUser(userId, clock.now())).toEqual([]);
        expect(await target.deleteAll()).toBe(0);
      });

      it('works normally afterwards: create, get, update, list, validate (and refresh)', async () => {
        const { manager, refresh, issued } = await populate(2, 1);
        expect(await manager.revokeEveryone()).toBe(issued.length);

        const userId = `user-${randomString(9)}`;
        const fresh = await manager.create({ userId, data: { role: 'member' } });
        expect(await target.get(fresh.session.id, clock.now())).toMatchObject({ id: fresh.session.id, userId });
        expect((await manager.validateToken(fresh.token)).status).toBe('valid');
        expect((await manager.update(fresh.session, { role: 'admin' })).data).toEqual({ role: 'admin' });
        expect((await target.listByUser(userId, clock.now())).map((r) => r.id)).toEqual([fresh.session.id]);
        if (refresh) {
          const pair = await refresh.issue(fresh.session);
          expect((await refresh.refresh(pair.refreshToken)).session.id).toBe(fresh.session.id);
        }
        for (const { token } of issued) expect((await manager.validateToken(token)).status).toBe('invalid');
      });

      const isolation = 'touches only its own data: a store with another prefix, schema or tables keeps all of its';
      it.skipIf(!options.createIsolatedStore)(
        options.createIsolatedStore ? isolation : `${isolation} (skipped: no createIsolatedStore option was given)`,
        async () => {
          neighbour = await (options.createIsolatedStore as NonNullable<typeof options.createIsolatedStore>)(target);
          // The same ids and user on both sides: a store that ignored its namespace would delete both.
          const userId = `user-${randomString(9)}`;
          const shared = [record({ userId }), record({ userId })];
          const families = [family({ userId }), family({ userId, revokedAt: clock.now() })];
          const [targetFamilies, neighbourFamilies] = [familiesOf(target), familiesOf(neighbour)];
          // An epoch older than every record: it revokes nothing, and must survive on the other side.
          const epoch = { validAfter: clock.now() - MINUTE, keep: null };
          for (const s of [target, neighbour]) {
            for (const r of shared) await s.create(r, clock.now());
            for (const f of families) await familiesOf(s)?.createRefreshFamily(f, clock.now());
            await s.setUserEpoch(userId, epoch, clock.now() + MINUTE, clock.now());
          }
          await target.create(record(), clock.now());

          expect(await target.deleteAll()).toBe(shared.length + 1);
          for (const r of shared) {
            expect(await target.get(r.id, clock.now())).toBeNull();
            expect(await neighbour.get(r.id, clock.now())).toEqual(r);
          }
          for (const f of families) {
            if (targetFamilies) expect(await targetFamilies.getRefreshFamily(f.id, clock.now())).toBeNull();
            if (neighbourFamilies) expect(await neighbourFamilies.getRefreshFamily(f.id, clock.now())).toEqual(f);
          }
          const listed = (await neighbour.listByUser(userId, clock.now())).map((r) => r.id).sort();
          expect(listed).toEqual(shared.map((r) => r.id).sort());
          expect(await neighbour.getUserEpoch(userId, clock.now())).toEqual(epoch);

          // And the other way round: the neighbour's deleteAll leaves the target's new records.
          const later = record({ userId });
          await target.create(later, clock.now());
          expect(await neighbour.deleteAll()).toBe(shared.length);
          expect(await neighbour.get(shared[0]?.id as string, clock.now())).toBeNull();
          expect(await target.get(later.id, clock.now())).toEqual(later);
        },
      );
    });

    if (options.refreshFamilies !== false) runRefreshConformance(() => store, clock);
  });
}

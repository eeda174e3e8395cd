import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  createSessionManager,
  EXPIRED_RETENTION_MS,
  isSessionError,
  type RefreshFamilyRecord,
  recordExpiresAt,
  type SessionRecord,
} from '@org/session-core';
import { createTestClock, randomString, refreshFamilyFixture, sessionRecordFixture } from '@org/session-core/testing';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { renderMigrations, SqliteStore } from '../src/index.js';
import { startInstance, tempDir } from './helpers.js';

const MINUTE = 60_000;
const temp = tempDir('store');
let fileCounter = 0;
const freshPath = () => join(temp.dir, `db-${++fileCounter}`, 'sessions.db');

const sessionRecord = (now: number, overrides: Partial<SessionRecord> = {}) => sessionRecordFixture(now, overrides);

const family = (now: number, overrides: Partial<RefreshFamilyRecord> = {}) =>
  refreshFamilyFixture(now, { userId: 'family-user', ...overrides });

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => null,
    (error: unknown) => error,
  );
}

afterAll(() => temp.remove());

describe('SqliteStore', () => {
  const clock = createTestClock();

  describe('opening and migration', () => {
    it('creates the parent directory, uses WAL mode and the busy timeout, and migrates only when asked', async () => {
      const path = freshPath();
      const store = new SqliteStore({ path });
      try {
        expect(existsSync(path)).toBe(true);
        expect(store.database.pragma('journal_mode', { simple: true })).toBe('wal');
        expect(store.database.pragma('busy_timeout', { simple: true })).toBe(1000);
        expect(store.database.pragma('synchronous', { simple: true })).toBe(2); // FULL
        const tables = () =>
          store.database.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
        expect(tables()).toEqual([]);
        const error = await errorOf(store.get(randomString(16), clock.now()));
        expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
        expect((error as { reason?: string }).reason).toBe('schema');
        expect(await store.migrate()).toEqual(['001_init', '002_user_epochs', '003_once_keys']);
        expect(await store.migrate()).toEqual([]);
        expect(tables()).toEqual([
          'session_store_migrations',
          'session_store_once_keys',
          'session_store_refresh_families',
          'session_store_sessions',
          'session_store_user_epochs',
        ]);
        expect(await store.get(randomString(16), clock.now())).toBeNull();
      } finally {
        await store.close();
      }
    });

    it('zero-config: with no path it keeps its sessions in .data/sessions.db under the working directory', async () => {
      const cwd = process.cwd();
      process.chdir(temp.dir);
      try {
        const store = new SqliteStore({ migrate: true });
        const r = sessionRecord(clock.now());
        await store.create(r, clock.now());
        await store.close();
        expect(existsSync(join(temp.dir, '.data', 'sessions.db'))).toBe(true);
        const again = new SqliteStore();
        expect(await again.get(r.id, clock.now())).toEqual(r);
        await again.close();
      } finally {
        process.chdir(cwd);
      }
    });

    it('creates the user and expiry indexes and uses them for per-user reads and sweeps', async () => {
      const store = new SqliteStore({ path: freshPath(), migrate: true });
      try {
        const indexes = store.database
          .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
          .pluck()
          .all();
        expect(indexes).toEqual([
          'session_store_once_keys_expiry_idx',
          'session_store_refresh_families_expiry_idx',
          'session_store_refresh_families_session_idx',
          'session_store_sessions_expiry_idx',
          'session_store_sessions_user_id_idx',
          'session_store_sessions_user_idx',
          'session_store_user_epochs_expiry_idx',
        ]);
        const plan = (sql: string) =>
          (store.database.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[])
            .map((r) => r.detail)
            .join('; ');
        expect(plan('SELECT id FROM session_store_sessions WHERE user_id = 1 AND expires_at > 2')).toContain(
          'session_store_sessions_user_idx',
        );
        expect(plan('SELECT rowid FROM session_store_sessions WHERE expires_at <= 2 LIMIT 5')).toContain(
          'session_store_sessions_expiry_idx',
        );
        expect(plan('SELECT id FROM session_store_sessions WHERE id = 1')).toMatch(/PRIMARY KEY|autoindex/);
      } finally {
        await store.close();
      }
    });

    it('uses custom table names and refuses unsafe ones', async () => {
      const store = new SqliteStore({
        path: freshPath(),
        migrate: true,
        tables: {
          sessions: 'web_sessions',
          refreshFamilies: 'web_refresh',
          migrations: 'web_migrations',
          userEpochs: 'web_epochs',
        },
      });
      try {
        const r = sessionRecord(clock.now());
        await store.create(r, clock.now());
        expect(store.database.prepare('SELECT count(*) FROM web_sessions').pluck().get()).toBe(1);
        await store.setUserEpoch(
          r.userId,
          { validAfter: r.createdAt + 1, keep: null },
          clock.now() + MINUTE,
          clock.now(),
        );
        expect(store.database.prepare('SELECT count(*) FROM web_epochs').pluck().get()).toBe(1);
        expect(await store.get(r.id, clock.now())).toBeNull();
      } finally {
        await store.close();
      }
      expect(() => new SqliteStore({ path: ':memory:', tables: { userEpochs: 'session_store_sessions' } })).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID' }),
      );
      for (const bad of ['Sessions', 'a"b', 'x; DROP TABLE users', '1abc', '', 'sqlite_master', 'a'.repeat(41)]) {
        expect(() => new SqliteStore({ path: ':memory:', tables: { sessions: bad } })).toThrow(
          expect.objectContaining({ code: 'CONFIG_INVALID' }),
        );
        expect(() => new SqliteStore({ path: ':memory:', tables: { userEpochs: bad } })).toThrow(
          expect.objectContaining({ code: 'CONFIG_INVALID' }),
        );
      }
      const rendered = renderMigrations({ tables: { sessions: 'web_sessions', userEpochs: 'web_epochs' } });
      const [migration, epochs] = rendered;
      expect(migration?.sql).toContain('CREATE TABLE IF NOT EXISTS "web_sessions"');
      expect(epochs?.name).toBe('002_user_epochs');
      expect(epochs?.sql).toContain('CREATE TABLE IF NOT EXISTS "web_epochs"');
      expect(epochs?.sql).toContain('ON "web_sessions" (user_id, id)');
      for (const { sql } of rendered) expect(sql).not.toMatch(/\{\{/);
    });

    it('migration 002 applies to a file that has 001 only, keeping its sessions; by migrate() or by your own tool', async () => {
      const [init, epochs] = renderMigrations();
      /** A file as the release before 002 left it: 001 applied and recorded, one session in it. */
      const fileWith001 = (r: SessionRecord) => {
        const path = join(temp.dir, `only-001-${++fileCounter}.db`);
        const db = new Database(path);
        db.pragma('journal_mode = WAL');
        db.exec(
          'CREATE TABLE session_store_migrations (name TEXT NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT',
        );
        db.exec(init?.sql as string);
        db.prepare("INSERT INTO session_store_migrations VALUES ('001_init', 1)").run();
        db.prepare(
          `INSERT INTO session_store_sessions (id, secret_hash, user_id, created_at, last_seen_at, idle_expires_at,
             absolute_expires_at, expires_at, authenticated_at, persistent, data, metadata, version)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          r.id,
          r.secretHash,
          r.userId,
          r.createdAt,
          r.lastSeenAt,
          r.idleExpiresAt,
          r.absoluteExpiresAt,
          recordExpiresAt(r),
          r.authenticatedAt,
          r.persistent ? 1 : 0,
          JSON.stringify(r.data),
          JSON.stringify(r.metadata),
          r.version,
        );
        db.close();
        return path;
      };
      const now = clock.now();

      const kept = sessionRecord(now, { data: { role: 'member' } });
      const store = new SqliteStore({ path: fileWith001(kept) });
      try {
        // Until 002 has run, every call fails closed and says why.
        const error = await errorOf(store.get(kept.id, now));
        expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
        expect((error as { reason?: string }).reason).toBe('schema');
        expect(await store.migrate()).toEqual(['002_user_epochs', '003_once_keys']);
        expect(await store.migrate()).toEqual([]);
        expect(await store.get(kept.id, now)).toEqual(kept);
        expect(await store.listByUser(kept.userId, now)).toEqual([kept]);
        await store.setUserEpoch(kept.userId, { validAfter: now + 1, keep: null }, now + MINUTE, now);
        expect(await store.get(kept.id, now)).toBeNull();
      } finally {
        await store.close();
      }

      // Your own migration tool runs the rendered SQL (twice here: every statement is idempotent).
      const other = sessionRecord(now);
      const database = new Database(fileWith001(other));
      try {
        database.exec(epochs?.sql as string);
        database.exec(epochs?.sql as string);
        const borrowed = new SqliteStore({ database });
        expect(await borrowed.get(other.id, now)).toEqual(other);
        const successor = sessionRecord(now, { userId: other.userId, createdAt: other.createdAt });
        expect(await borrowed.rotate(other.id, other.version, successor, now)).toBe(true);
        expect(await borrowed.listByUser(other.userId, now)).toEqual([successor]);
      } finally {
        database.close();
      }
    });

    it('refuses to adopt an existing table of another shape, and rolls the migration back', async () => {
      const database = new Database(':memory:');
      database.exec('CREATE TABLE sessions (sid TEXT PRIMARY KEY, sess TEXT)');
      const error = await errorOf(new SqliteStore({ database, tables: { sessions: 'sessions' } }).migrate());
      expect(isSessionError(error, 'CONFIG_INVALID')).toBe(true);
      expect(database.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all()).toEqual([
        'sessions',
      ]);
      database.close();
    });

    it('migrate: true in the constructor fails loudly on a database it cannot migrate', () => {
      const database = new Database(':memory:');
      database.exec('CREATE TABLE session_store_sessions (id TEXT)');
      expect(() => new SqliteStore({ database, migrate: true })).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID' }),
      );
      expect(database.open).toBe(true);
      database.close();
    });
  });

  describe('connection ownership', () => {
    it("close() never closes the application's database", async () => {
      const database = new Database(freshPath().replace('/sessions.db', '.db'));
      const store = new SqliteStore({ database, migrate: true });
      expect(store.ownsDatabase).toBe(false);
      await store.close();
      expect(database.open).toBe(true);
      expect(await store.get(randomString(16), clock.now())).toBeNull();
      database.close();
    });

    it('after close() of its own database every call is STORE_UNAVAILABLE (closed), not a driver error', async () => {
      const store = new SqliteStore({ path: freshPath(), migrate: true });
      await store.close();
      await store.close();
      for (const call of [
        () => store.get(randomString(16), clock.now()),
        () => store.create(sessionRecord(clock.now()), clock.now()),
        () => store.sweep(),
      ]) {
        const error = await errorOf(call());
        expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
        expect((error as { reason?: string }).reason).toBe('closed');
      }
    });
  });

  describe('restart', () => {
    it('keeps every session and refresh family across close and a new store on the same file', async () => {
      const path = freshPath();
      const first = new SqliteStore({ path, migrate: true });
      const sessions = createSessionManager({ store: first, clock });
      const issued = await Promise.all(
        Array.from({ length: 5 }, (_, i) => sessions.create({ userId: 'restart-user', data: { i } })),
      );
      const f = family(clock.now());
      await first.createRefreshFamily(f, clock.now());
      await first.close();

      const reopened = new SqliteStore({ path, migrate: true });
      try {
        const after = createSessionManager({ store: reopened, clock });
        for (const { token, session } of issued) {
          const result = await after.validateToken(token);
          expect(result.status).toBe('valid');
          expect(result.session).toEqual(session);
        }
        expect(await reopened.getRefreshFamily(f.id, clock.now())).toEqual(f);
      } finally {
        await reopened.close();
      }
    });

    it('keeps every session when the process that wrote them is killed (SIGKILL, no close)', async () => {
      const path = freshPath();
      const instance = startInstance(['create', path, String(clock.now()), '5']);
      const { tokens } = (await instance.next()) as { tokens: string[] };
      expect(await instance.exited).toBeNull(); // killed by a signal, not a clean exit
      expect(tokens).toHaveLength(5);
      const store = new SqliteStore({ path });
      try {
        const sessions = createSessionManager({ store, clock });
        for (const token of tokens) expect((await sessions.validateToken(token)).status).toBe('valid');
        expect(await store.listByUser('crash-user', clock.now())).toHaveLength(5);
      } finally {
        await store.close();
      }
    }, 60_000); // a second Node process compiling TypeScript on start
  });

  // A5 (no secret at rest, id + hash is no token) is a conformance case, on the file bytes and rows.
  describe('security rows', () => {
    it('C4: 100 validated reads within the touch interval change no row (total_changes); the next interval one', async () => {
      const store = new SqliteStore({ path: freshPath(), migrate: true });
      const sessions = createSessionManager({ store, clock });
      const start = clock.now();
      const changes = () => store.database.prepare('SELECT total_changes()').pluck().get() as number;
      try {
        const { token } = await sessions.create({ userId: `user-${randomString(9)}` });
        const afterCreate = changes();
        for (let i = 0; i < 100; i++) expect((await sessions.validateToken(token)).status).toBe('valid');
        expect(changes()).toBe(afterCreate);
        clock.advance(sessions.policy.touchIntervalMs);
        expect((await sessions.validateToken(token)).status).toBe('valid');
        expect((await sessions.validateToken(token)).status).toBe('valid');
        expect(changes()).toBe(afterCreate + 1);
      } finally {
        clock.set(start);
        await store.close();
      }
    });
  });

  describe('expiry and sweeping', () => {
    it('expired rows vanish from reads at once and sweep() deletes them in batches', async () => {
      const store = new SqliteStore({ path: freshPath(), migrate: true });
      try {
        const now = clock.now();
        const userId = 'sweep-user';
        const live = [1, 2].map(() => sessionRecord(now, { userId, idleExpiresAt: null }));
        const dying = Array.from({ length: 7 }, () => sessionRecord(now, { userId, idleExpiresAt: now + MINUTE }));
        for (const r of [...live, ...dying]) await store.create(r, now);
        const f = family(now, { idleExpiresAt: now + MINUTE });
        await store.createRefreshFamily(f, now);

        const later = now + MINUTE;
        expect((await store.listByUser(userId, later)).map((r) => r.id).sort()).toEqual(live.map((r) => r.id).sort());
        expect(await store.get(dying[0]?.id as string, later)).toBeNull();
        expect(await store.getRefreshFamily(f.id, later)).toBeNull();
        const count = (table: string) => store.database.prepare(`SELECT count(*) FROM ${table}`).pluck().get();
        expect(count('session_store_sessions')).toBe(9);

        // Expired rows stay for the retention past their deadline.
        const early = await store.sweep({ now: later + EXPIRED_RETENTION_MS - 1, batchSize: 3 });
        expect(early).toEqual({ sessions: 0, refreshFamilies: 0, userEpochs: 0, onceKeys: 0, batches: 4, done: true });
        expect(count('session_store_sessions')).toBe(9);
        expect(count('session_store_refresh_families')).toBe(1);

        const past = later + EXPIRED_RETENTION_MS;
        const partial = await store.sweep({ now: past, batchSize: 3, maxBatches: 1 });
        expect(partial).toEqual({
          sessions: 3,
          refreshFamilies: 1,
          userEpochs: 0,
          onceKeys: 0,
          batches: 4,
          done: false,
        });
        expect(count('session_store_sessions')).toBe(6);

        const rest = await store.sweep({ now: past, batchSize: 3 });
        expect(rest).toEqual({ sessions: 4, refreshFamilies: 0, userEpochs: 0, onceKeys: 0, batches: 5, done: true });
        expect(count('session_store_sessions')).toBe(2);
        expect(count('session_store_refresh_families')).toBe(0);
        expect(await store.sweep({ now: past })).toEqual({
          sessions: 0,
          refreshFamilies: 0,
          userEpochs: 0,
          onceKeys: 0,
          batches: 4,
          done: true,
        });
      } finally {
        await store.close();
      }
    });

    it('item 16: sweep() leaves a just-expired session for the retention (the manager reports it expired), then deletes it', async () => {
      const store = new SqliteStore({ path: freshPath(), migrate: true });
      const sessions = createSessionManager({
        store,
        clock,
        policy: { idleTimeoutMs: 10 * MINUTE, absoluteTimeoutMs: 60 * MINUTE },
      });
      const start = clock.now();
      const count = () => store.database.prepare('SELECT count(*) FROM session_store_sessions').pluck().get();
      try {
        const first = await sessions.create({ userId: `user-${randomString(9)}` });
        const second = await sessions.create({ userId: first.session.userId });
        const deadline = recordExpiresAt(second.session);
        clock.set(deadline + MINUTE);
        expect((await store.sweep({ now: clock.now() })).sessions).toBe(0);
        expect(count()).toBe(2);
        const result = await sessions.validateToken(first.token);
        expect(result.status).toBe('expired');
        expect(result.error?.code).toBe('SESSION_EXPIRED');

        // The last moment of the retention: still in the file.
        clock.set(deadline + EXPIRED_RETENTION_MS - 1);
        expect((await store.sweep({ now: clock.now() })).sessions).toBe(0);
        expect(await store.get(second.session.id, clock.now() - EXPIRED_RETENTION_MS)).not.toBeNull();
        clock.set(deadline + EXPIRED_RETENTION_MS);
        expect((await store.sweep({ now: clock.now() })).sessions).toBe(1);
        expect(count()).toBe(0);
        expect((await sessions.validateToken(second.token)).status).toBe('invalid');
      } finally {
        clock.set(start);
        await store.close();
      }
    });

    it('deleteAll() empties its three tables in batches, expired rows included, and no other table in the file', async () => {
      const path = freshPath();
      const store = new SqliteStore({ path, migrate: true });
      const neighbour = new SqliteStore({
        path,
        migrate: true,
        tables: {
          sessions: 'other_sessions',
          refreshFamilies: 'other_families',
          migrations: 'other_migrations',
          userEpochs: 'other_epochs',
        },
      });
      try {
        const now = clock.now();
        const live = Array.from({ length: 8 }, () => sessionRecord(now));
        const expired = [1, 2].map(() => sessionRecord(now - 2 * MINUTE, { idleExpiresAt: now - MINUTE }));
        for (const r of [...live, ...expired]) await store.create(r, now);
        for (let i = 0; i < 7; i++) await store.createRefreshFamily(family(now), now);
        for (let i = 0; i < 4; i++) {
          await store.setUserEpoch(`user-${i}`, { validAfter: now - 1, keep: null }, now + MINUTE, now);
        }
        const bystander = sessionRecord(now);
        await neighbour.create(bystander, now);
        const neighbourEpoch = { validAfter: now - 1, keep: null };
        await neighbour.setUserEpoch('user-0', neighbourEpoch, now + MINUTE, now);
        // A table of the application's own in the same file.
        store.database.exec("CREATE TABLE app_users (id TEXT PRIMARY KEY); INSERT INTO app_users VALUES ('alice')");
        const count = (table: string) => store.database.prepare(`SELECT count(*) FROM ${table}`).pluck().get();

        expect(await store.deleteAll({ batchSize: 3 })).toBe(10);
        expect(count('session_store_sessions')).toBe(0);
        expect(count('session_store_refresh_families')).toBe(0);
        expect(count('session_store_user_epochs')).toBe(0);
        expect(count('app_users')).toBe(1);
        expect(await neighbour.get(bystander.id, now)).toEqual(bystander);
        expect(await neighbour.getUserEpoch('user-0', now)).toEqual(neighbourEpoch);
        // Exactly a multiple of the batch size: the walk ends on the empty batch after it.
        for (const r of live.slice(0, 6)) await store.create(r, now);
        expect(await store.deleteAll({ batchSize: 3 })).toBe(6);
        expect(await store.deleteAll()).toBe(0);
        const error = await store.deleteAll({ batchSize: 0 }).catch((e: unknown) => e);
        expect(isSessionError(error, 'CONFIG_INVALID')).toBe(true);
      } finally {
        await neighbour.close();
        await store.close();
      }
    });

    it('serves requests between deleteAll batches (it yields to the event loop)', async () => {
      const store = new SqliteStore({ path: freshPath(), migrate: true });
      try {
        const now = clock.now();
        for (let i = 0; i < 50; i++) await store.create(sessionRecord(now), now);
        const order: string[] = [];
        const deleting = store.deleteAll({ batchSize: 10 }).then((n) => {
          order.push('deleteAll done');
          return n;
        });
        const read = store.get(randomString(16), now).then(() => order.push('read'));
        const [deleted] = await Promise.all([deleting, read]);
        expect(deleted).toBe(50);
        expect(order).toEqual(['read', 'deleteAll done']);
      } finally {
        await store.close();
      }
    });

    it('serves requests between sweep batches (it yields to the event loop)', async () => {
      const store = new SqliteStore({ path: freshPath(), migrate: true });
      try {
        const now = clock.now();
        const keep = sessionRecord(now, { idleExpiresAt: null });
        await store.create(keep, now);
        for (let i = 0; i < 50; i++) await store.create(sessionRecord(now, { idleExpiresAt: now + 1 }), now);
        const order: string[] = [];
        const sweeping = store.sweep({ now: now + 1 + EXPIRED_RETENTION_MS, batchSize: 10 }).then((r) => {
          order.push('sweep done');
          return r;
        });
        const read = store.get(keep.id, now + 1 + EXPIRED_RETENTION_MS).then((r) => {
          order.push('read');
          return r;
        });
        const [result, found] = await Promise.all([sweeping, read]);
        expect(found?.id).toBe(keep.id);
        expect(result.sessions).toBe(50);
        expect(order).toEqual(['read', 'sweep done']);
      } finally {
        await store.close();
      }
    });
  });
});

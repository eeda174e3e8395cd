import { createSessionManager, EXPIRED_RETENTION_MS, isSessionError, type SessionRecord } from '@org/session-core';
import {
  createTestClock,
  hashSecret,
  randomString,
  refreshFamilyFixture,
  sessionRecordFixture,
} from '@org/session-core/testing';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore, renderMigrations } from '../src/index.js';
import { adminPool, dropSchema, freshSchema, PG_URL, postgresAvailable } from './helpers.js';

const available = await postgresAvailable();
const schema = freshSchema('store');
const MINUTE = 60_000;

const sessionsTable = `"${schema}".session_store_sessions`;

const sessionRecord = (now: number, overrides: Partial<SessionRecord> = {}) => sessionRecordFixture(now, overrides);

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => null,
    (error: unknown) => error,
  );
}

describe.skipIf(!available)('PostgresStore', () => {
  const admin = adminPool();
  const clock = createTestClock();
  let store: PostgresStore;

  beforeAll(async () => {
    store = new PostgresStore({ connectionString: PG_URL, schema });
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
    await dropSchema(admin, schema);
    await admin.end();
  });

  describe('configuration and migration', () => {
    it('never touches the database on construction: tables appear only on migrate()', async () => {
      const other = freshSchema('lazy');
      const lazy = new PostgresStore({ connectionString: PG_URL, schema: other });
      try {
        const exists = async () =>
          (await admin.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [other])).rowCount;
        expect(await exists()).toBe(0);
        const error = await errorOf(lazy.get(randomString(16), clock.now()));
        expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
        expect((error as { reason?: string }).reason).toBe('schema');
        expect(await exists()).toBe(0);
        expect(await lazy.migrate()).toEqual(['001_init', '002_user_epochs', '003_once_keys']);
        expect(await lazy.get(randomString(16), clock.now())).toBeNull();
      } finally {
        await lazy.close();
        await dropSchema(admin, other);
      }
    });

    it('migrates idempotently, also when instances start together, and records what it applied', async () => {
      const other = freshSchema('migrate');
      const stores = Array.from({ length: 3 }, () => new PostgresStore({ connectionString: PG_URL, schema: other }));
      try {
        const applied = await Promise.all(stores.map((s) => s.migrate()));
        expect(applied.flat()).toEqual(['001_init', '002_user_epochs', '003_once_keys']);
        expect(await stores[0]?.migrate()).toEqual([]);
        const { rows } = await admin.query(`SELECT name FROM "${other}".session_store_migrations`);
        expect(rows.map((r) => r.name).sort()).toEqual(['001_init', '002_user_epochs', '003_once_keys']);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
        await dropSchema(admin, other);
      }
    });

    it('creates the primary keys and the user and expiry indexes, and the epochs table', async () => {
      const { rows } = await admin.query<{ indexdef: string }>(
        'SELECT indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname',
        [schema],
      );
      const defs = rows.map((r) => r.indexdef.replace(`"${schema}".`, '').replace(`${schema}.`, ''));
      expect(defs).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/UNIQUE INDEX session_store_sessions_pkey .* \(id\)/),
          expect.stringMatching(/INDEX session_store_sessions_user_idx .* \(user_id, expires_at\)/),
          expect.stringMatching(/INDEX session_store_sessions_expiry_idx .* \(expires_at\)/),
          expect.stringMatching(/UNIQUE INDEX session_store_refresh_families_pkey .* \(id\)/),
          expect.stringMatching(/INDEX session_store_refresh_families_session_idx .* \(session_id\)/),
          expect.stringMatching(/INDEX session_store_refresh_families_expiry_idx .* \(expires_at\)/),
          expect.stringMatching(/INDEX session_store_sessions_user_id_idx .* \(user_id, id\)/),
          expect.stringMatching(/UNIQUE INDEX session_store_user_epochs_pkey .* \(user_id\)/),
          expect.stringMatching(/INDEX session_store_user_epochs_expiry_idx .* \(expires_at\)/),
          expect.stringMatching(/UNIQUE INDEX session_store_once_keys_pkey .* \(id\)/),
          expect.stringMatching(/INDEX session_store_once_keys_expiry_idx .* \(expires_at\)/),
        ]),
      );
    });

    it('uses custom schema and table names, quoted', async () => {
      const other = freshSchema('names');
      const custom = new PostgresStore({
        connectionString: PG_URL,
        schema: other,
        tables: {
          sessions: 'web_sessions',
          refreshFamilies: 'web_refresh',
          userEpochs: 'web_epochs',
          migrations: 'web_migrations',
          onceKeys: 'web_once',
        },
      });
      try {
        await custom.migrate();
        const { rows } = await admin.query<{ table_name: string }>(
          'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
          [other],
        );
        expect(rows.map((r) => r.table_name)).toEqual([
          'web_epochs',
          'web_migrations',
          'web_once',
          'web_refresh',
          'web_sessions',
        ]);
        expect(await custom.markOnce('k', 60_000, clock.now())).toBe(true);
        expect((await admin.query(`SELECT id FROM "${other}".web_once`)).rows).toEqual([{ id: 'k' }]);
        const r = sessionRecord(clock.now());
        await custom.create(r, clock.now());
        expect(await custom.get(r.id, clock.now())).toEqual(r);
      } finally {
        await custom.close();
        await dropSchema(admin, other);
      }
    });

    it('refuses identifiers that are not plain lower-case names (no SQL through configuration)', () => {
      for (const bad of ['Sessions', 'a"b', 'x; DROP TABLE users', '1abc', '', 'a'.repeat(41), 'sp ace']) {
        expect(() => new PostgresStore({ connectionString: PG_URL, schema: bad })).toThrow(
          expect.objectContaining({ code: 'CONFIG_INVALID' }),
        );
        expect(() => new PostgresStore({ connectionString: PG_URL, tables: { sessions: bad } })).toThrow(
          expect.objectContaining({ code: 'CONFIG_INVALID' }),
        );
      }
      expect(() => new PostgresStore({} as never)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
      expect(() => new PostgresStore({ pool: admin, connectionString: PG_URL })).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID' }),
      );
      expect(() => new PostgresStore({ connectionString: PG_URL, statementTimeoutMs: 0 })).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID' }),
      );
    });

    it('refuses to adopt an existing table of another shape', async () => {
      const other = freshSchema('clash');
      await admin.query(`CREATE SCHEMA "${other}"; CREATE TABLE "${other}".sessions (sid text PRIMARY KEY, sess json)`);
      const clash = new PostgresStore({ connectionString: PG_URL, schema: other, tables: { sessions: 'sessions' } });
      try {
        const error = await errorOf(clash.migrate());
        expect(isSessionError(error, 'CONFIG_INVALID')).toBe(true);
        // The failed migration rolled back entirely.
        const { rowCount } = await admin.query(
          'SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name <> $2',
          [other, 'sessions'],
        );
        expect(rowCount).toBe(0);
      } finally {
        await clash.close();
        await dropSchema(admin, other);
      }
    });

    it('ships the migrations as SQL the user can apply with their own tool', async () => {
      const [first, second, third, ...more] = await renderMigrations({
        schema: 'auth',
        tables: { sessions: 'web_sessions', userEpochs: 'web_epochs', onceKeys: 'web_once' },
      });
      expect(more).toEqual([]);
      expect(third?.name).toBe('003_once_keys');
      expect(third?.sql).toContain('CREATE TABLE IF NOT EXISTS "auth"."web_once"');
      expect(third?.sql).toContain(
        'CREATE INDEX IF NOT EXISTS "web_once_expiry_idx" ON "auth"."web_once" (expires_at)',
      );
      expect(first?.name).toBe('001_init');
      expect(first?.sql).toContain('CREATE TABLE IF NOT EXISTS "auth"."web_sessions"');
      expect(first?.sql).toContain('CREATE INDEX IF NOT EXISTS "web_sessions_user_idx"');
      expect(second?.name).toBe('002_user_epochs');
      expect(second?.sql).toContain('CREATE TABLE IF NOT EXISTS "auth"."web_epochs"');
      expect(second?.sql).toContain('CREATE INDEX IF NOT EXISTS "web_sessions_user_id_idx" ON "auth"."web_sessions"');
      for (const migration of [first, second]) expect(migration?.sql).not.toMatch(/\{\{/);
    });

    it('gives the pool it opens a 1000 ms statement timeout', async () => {
      const { rows } = await (store.pool as pg.Pool).query('SHOW statement_timeout');
      expect(rows[0]).toEqual({ statement_timeout: '1s' });
    });
  });

  describe('connection ownership', () => {
    it('close() never ends a pool the application passed in', async () => {
      const own = adminPool();
      const borrowed = new PostgresStore({ pool: own, schema });
      expect(borrowed.ownsPool).toBe(false);
      await borrowed.close();
      expect((await own.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await own.end();
    });

    it('close() ends the pool the store opened; later calls are STORE_UNAVAILABLE, not driver errors', async () => {
      const owned = new PostgresStore({ connectionString: PG_URL, schema });
      expect(owned.ownsPool).toBe(true);
      await owned.get(randomString(16), clock.now());
      await owned.close();
      await owned.close();
      expect((owned.pool as pg.Pool).ended).toBe(true);
      const error = await errorOf(owned.get(randomString(16), clock.now()));
      expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
      expect((error as { reason?: string }).reason).toBe('closed');
    });
  });

  describe('restart', () => {
    it('keeps every session and refresh family across a store close and a new pool', async () => {
      const sessions = createSessionManager({ store, clock });
      const userId = `user-${randomString(9)}`;
      const issued = await Promise.all(Array.from({ length: 5 }, () => sessions.create({ userId, data: { n: 1 } })));
      const family = refreshFamilyFixture(clock.now(), { sessionId: issued[0]?.session.id as string, userId });
      await store.createRefreshFamily(family, clock.now());
      const before = await store.listByUser(userId, clock.now());

      const first = new PostgresStore({ connectionString: PG_URL, schema });
      await first.get(randomString(16), clock.now());
      await first.close();
      const reopened = new PostgresStore({ connectionString: PG_URL, schema });
      try {
        const after = createSessionManager({ store: reopened, clock });
        for (const { token, session } of issued) {
          const result = await after.validateToken(token);
          expect(result.status).toBe('valid');
          expect(result.session?.id).toBe(session.id);
        }
        const sortById = (list: SessionRecord[]) => [...list].sort((a, b) => a.id.localeCompare(b.id));
        expect(sortById(await reopened.listByUser(userId, clock.now()))).toEqual(sortById(before));
        expect(await reopened.getRefreshFamily(family.id, clock.now())).toEqual(family);
      } finally {
        await reopened.close();
      }
    });
  });

  // A5 (no secret at rest, id + hash is no token) is a conformance case, on a dump of every row.
  describe('security rows', () => {
    it('C4: 100 validated reads within the touch interval cause no write statement; the next interval one', async () => {
      // Statement-level triggers count every INSERT, UPDATE and DELETE the server runs on the table.
      await admin.query(`
        CREATE TABLE "${schema}".write_log (op text NOT NULL);
        CREATE FUNCTION "${schema}".log_write() RETURNS trigger LANGUAGE plpgsql AS
          $$ BEGIN INSERT INTO "${schema}".write_log VALUES (TG_OP); RETURN NULL; END $$;
        CREATE TRIGGER log_writes AFTER INSERT OR UPDATE OR DELETE ON ${sessionsTable}
          FOR EACH STATEMENT EXECUTE FUNCTION "${schema}".log_write();`);
      const writes = async () =>
        Number((await admin.query(`SELECT count(*) AS n FROM "${schema}".write_log`)).rows[0].n);
      const sessions = createSessionManager({ store, clock });
      const start = clock.now();
      try {
        const { token } = await sessions.create({ userId: `user-${randomString(9)}` });
        const afterCreate = await writes();
        for (let i = 0; i < 100; i++) expect((await sessions.validateToken(token)).status).toBe('valid');
        expect(await writes()).toBe(afterCreate);
        clock.advance(sessions.policy.touchIntervalMs);
        expect((await sessions.validateToken(token)).status).toBe('valid');
        expect((await sessions.validateToken(token)).status).toBe('valid');
        expect(await writes()).toBe(afterCreate + 1);
      } finally {
        clock.set(start);
        await admin.query(`DROP TRIGGER log_writes ON ${sessionsTable}; DROP TABLE "${schema}".write_log`);
      }
    });
  });

  describe('concurrency across instances (two pools)', () => {
    it('parallel rotations of one session from two app instances have exactly one winner', async () => {
      const second = new PostgresStore({ connectionString: PG_URL, schema });
      try {
        const a = createSessionManager({ store, clock });
        const b = createSessionManager({ store: second, clock });
        const issued = await a.create({ userId: `user-${randomString(9)}` });
        const results = await Promise.allSettled(
          Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).rotate(issued.session)),
        );
        const winners = results.filter((r) => r.status === 'fulfilled');
        expect(winners).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect(isSessionError(r.reason, 'SESSION_NOT_FOUND')).toBe(true);
        }
        expect(await a.list(issued.session.userId)).toHaveLength(1);
      } finally {
        await second.close();
      }
    });

    it('parallel refresh rotations of one family from two instances have exactly one winner', async () => {
      const second = new PostgresStore({ connectionString: PG_URL, schema });
      try {
        const now = clock.now();
        const family = refreshFamilyFixture(now, {
          userId: 'race',
          currentHash: hashSecret('r0'),
          idleExpiresAt: now + MINUTE,
          absoluteExpiresAt: now + 10 * MINUTE,
        });
        await store.createRefreshFamily(family, now);
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            (i % 2 ? store : second).updateRefreshFamily(
              {
                ...family,
                generation: 2,
                previousHash: family.currentHash,
                currentHash: hashSecret(`r1-${i}`),
                rotatedAt: now,
              },
              1,
              now,
            ),
          ),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        const stored = await second.getRefreshFamily(family.id, now);
        expect(stored?.currentHash).toBe(hashSecret(`r1-${results.indexOf(true)}`));
      } finally {
        await second.close();
      }
    });
  });

  describe('expiry and sweeping', () => {
    it('expired rows vanish from reads at once and sweep() deletes them in batches', async () => {
      const other = freshSchema('sweep');
      const sweeper = new PostgresStore({ connectionString: PG_URL, schema: other });
      try {
        await sweeper.migrate();
        const now = clock.now();
        const userId = 'sweep-user';
        const live = [1, 2].map(() => sessionRecord(now, { userId }));
        const dying = Array.from({ length: 7 }, () => sessionRecord(now, { userId, idleExpiresAt: now + MINUTE }));
        for (const r of [...live, ...dying]) await sweeper.create(r, now);
        const family = refreshFamilyFixture(now, {
          userId,
          currentHash: hashSecret('f'),
          idleExpiresAt: now + MINUTE,
          absoluteExpiresAt: now + 10 * MINUTE,
        });
        await sweeper.createRefreshFamily(family, now);

        const expiry = now + MINUTE;
        expect((await sweeper.listByUser(userId, expiry)).map((r) => r.id).sort()).toEqual(
          live.map((r) => r.id).sort(),
        );
        expect(await sweeper.get(dying[0]?.id as string, expiry)).toBeNull();
        expect(await sweeper.getRefreshFamily(family.id, expiry)).toBeNull();
        // Swept only once the retention has passed as well.
        const later = expiry + EXPIRED_RETENTION_MS;
        const count = async (table: string) =>
          Number((await admin.query(`SELECT count(*) AS n FROM "${other}".${table}`)).rows[0].n);
        expect(await count('session_store_sessions')).toBe(9);

        const partial = await sweeper.sweep({ now: later, batchSize: 3, maxBatches: 1 });
        expect(partial).toEqual({
          sessions: 3,
          refreshFamilies: 1,
          userEpochs: 0,
          onceKeys: 0,
          batches: 4,
          done: false,
        });
        expect(await count('session_store_sessions')).toBe(6);

        const rest = await sweeper.sweep({ now: later, batchSize: 3 });
        // 4 expired sessions left: batches of 3 and 1; then one (empty) batch of families and of epochs.
        expect(rest).toEqual({ sessions: 4, refreshFamilies: 0, userEpochs: 0, onceKeys: 0, batches: 5, done: true });
        expect(await count('session_store_sessions')).toBe(2);
        expect(await count('session_store_refresh_families')).toBe(0);
        expect(await sweeper.sweep({ now: later })).toEqual({
          sessions: 0,
          refreshFamilies: 0,
          userEpochs: 0,
          onceKeys: 0,
          batches: 4,
          done: true,
        });
      } finally {
        await sweeper.close();
        await dropSchema(admin, other);
      }
    });

    it('deleteAll() empties both tables in keyset batches, expired rows included, and leaves other schemas alone', async () => {
      const other = freshSchema('delete_all');
      const wiped = new PostgresStore({ connectionString: PG_URL, schema: other });
      try {
        await wiped.migrate();
        const now = clock.now();
        const live = Array.from({ length: 8 }, () => sessionRecord(now));
        const expired = [1, 2].map(() => sessionRecord(now - 2 * MINUTE, { idleExpiresAt: now - MINUTE }));
        for (const r of [...live, ...expired]) await wiped.create(r, now);
        const bystander = sessionRecord(now);
        await store.create(bystander, now);
        const families = Array.from({ length: 7 }, () =>
          refreshFamilyFixture(now, {
            userId: 'family-user',
            idleExpiresAt: now + MINUTE,
            absoluteExpiresAt: now + 10 * MINUTE,
          }),
        );
        for (const f of families) await wiped.createRefreshFamily(f, now);
        const count = async (table: string) =>
          Number((await admin.query(`SELECT count(*) AS n FROM "${other}".${table}`)).rows[0].n);

        // Ten sessions and seven families in batches of three: a short last batch ends each walk.
        expect(await wiped.deleteAll({ batchSize: 3 })).toBe(10);
        expect(await count('session_store_sessions')).toBe(0);
        expect(await count('session_store_refresh_families')).toBe(0);
        expect(await store.get(bystander.id, now)).toEqual(bystander);
        // Exactly a multiple of the batch size: the walk ends on the empty batch after it.
        for (const r of live.slice(0, 6)) await wiped.create(r, now);
        expect(await wiped.deleteAll({ batchSize: 3 })).toBe(6);
        expect(await wiped.deleteAll()).toBe(0);
        const error = await errorOf(wiped.deleteAll({ batchSize: 0 }));
        expect(isSessionError(error, 'CONFIG_INVALID')).toBe(true);
      } finally {
        await wiped.close();
        await dropSchema(admin, other);
      }
    });

    it('deleteAll() waits for a row another transaction holds instead of skipping it', async () => {
      const other = freshSchema('delete_all_lock');
      const wiped = new PostgresStore({ connectionString: PG_URL, schema: other, statementTimeoutMs: 10_000 });
      const holder = await admin.connect();
      try {
        await wiped.migrate();
        const now = clock.now();
        const held = sessionRecord(now);
        await wiped.create(held, now);
        await wiped.create(sessionRecord(now), now);
        await holder.query('BEGIN');
        await holder.query(`SELECT id FROM "${other}".session_store_sessions WHERE id = $1 FOR UPDATE`, [held.id]);
        const deleting = wiped.deleteAll();
        // Bounded poll until the delete is seen waiting on the row lock; then let it through.
        let waiting = false;
        for (let i = 0; i < 500 && !waiting; i++) {
          const { rows } = await admin.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1",
            [`%"${other}"%DELETE%`],
          );
          waiting = rows[0].n > 0;
        }
        expect(waiting).toBe(true);
        await holder.query('COMMIT');
        expect(await deleting).toBe(2);
        expect(await wiped.get(held.id, now)).toBeNull();
      } finally {
        await holder.query('ROLLBACK').catch(() => {});
        holder.release();
        await wiped.close();
        await dropSchema(admin, other);
      }
    });

    it('sweep() skips rows another transaction holds instead of waiting for them', async () => {
      const other = freshSchema('skip');
      const sweeper = new PostgresStore({ connectionString: PG_URL, schema: other });
      const holder = await admin.connect();
      try {
        await sweeper.migrate();
        const now = clock.now();
        const held = sessionRecord(now, { idleExpiresAt: now + 1 });
        const free = sessionRecord(now, { idleExpiresAt: now + 1 });
        await sweeper.create(held, now);
        await sweeper.create(free, now);
        await holder.query('BEGIN');
        await holder.query(`SELECT id FROM "${other}".session_store_sessions WHERE id = $1 FOR UPDATE`, [held.id]);
        // With the default 1000 ms statement timeout, waiting for the lock would fail the sweep.
        expect(await sweeper.sweep({ now: now + 1 + EXPIRED_RETENTION_MS })).toMatchObject({ sessions: 1, done: true });
        await holder.query('COMMIT');
        expect(await sweeper.sweep({ now: now + 1 + EXPIRED_RETENTION_MS })).toMatchObject({ sessions: 1, done: true });
      } finally {
        holder.release();
        await sweeper.close();
        await dropSchema(admin, other);
      }
    });
  });
});

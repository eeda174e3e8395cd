/**
 * D1Store's own behaviour beyond the conformance suite: migrations (the same schema as the SQLite
 * store, idempotent, refusing a foreign table), configuration errors, a missing schema failing
 * closed, sweeps and batched walks. The store runs here in Node on miniflare's proxy of the D1
 * binding; the database is workerd's local D1 all the same.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSessionManager, EXPIRED_RETENTION_MS, isSessionError } from '@org/session-core';
import { generateSessionToken, randomString, sessionRecordFixture } from '@org/session-core/testing';
import { DEFAULT_TABLE_NAMES, migrationNames, renderTemplate } from '@org/session-sql-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type D1DatabaseLike, D1Store, MIGRATIONS, renderMigrations } from '../src/index.js';
import { splitStatements } from '../src/schema.js';
import { type D1Worker, startD1Worker, workerdMissing } from './support.js';

const here = dirname(fileURLToPath(import.meta.url));
const onCi = process.env.CI === 'true';
const missing = workerdMissing();
let tables = 0;
const uniqueTables = () => {
  const label = `t${++tables}_${randomString(6)
    .toLowerCase()
    .replace(/[^a-z0-9]/g, 'x')}`;
  return {
    sessions: `${label}_sessions`,
    refreshFamilies: `${label}_families`,
    userEpochs: `${label}_epochs`,
    migrations: `${label}_migrations`,
  };
};
const expectCode = async (promise: Promise<unknown> | (() => unknown), code: string, reason?: string) => {
  let caught: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    caught = error;
  }
  expect(isSessionError(caught), String(caught)).toBe(true);
  expect((caught as { code: string }).code).toBe(code);
  if (reason) expect((caught as { reason: string }).reason).toBe(reason);
  return caught as Error;
};

describe('migrations as text', () => {
  it('are the statements of the SQLite store, for every migration', () => {
    const sqliteDir = join(here, '..', '..', 'store-sqlite', 'sql');
    const rendered = renderMigrations();
    expect(rendered.map((m) => m.name)).toEqual([...MIGRATIONS]);
    for (const { name, sql } of rendered) {
      const sqlite = readFileSync(join(sqliteDir, `${name}.sql`), 'utf8');
      const expected = splitStatements(renderTemplate(sqlite, migrationNames(DEFAULT_TABLE_NAMES)));
      expect(splitStatements(sql)).toEqual(expected);
    }
  });

  it('refuse table names D1 or SQLite reserve, or that are no identifiers', () => {
    for (const bad of ['_cf_sessions', 'sqlite_sessions', 'Sessions', 'a-b', 'x"y', '']) {
      expect(() => renderMigrations({ tables: { sessions: bad } }), bad).toThrow(/tables\.sessions/);
    }
  });
});

if (missing && !onCi) {
  describe.skip(`D1Store on local D1: skipped, ${missing}`, () => {
    it('not run', () => {});
  });
} else {
  // Each call is a round trip through miniflare's proxy: slow on a busy machine.
  describe('D1Store on local D1', { timeout: 60_000 }, () => {
    let worker: D1Worker;
    let db: D1DatabaseLike;
    beforeAll(async () => {
      if (missing) throw new Error(`${missing} (CI)`);
      worker = await startD1Worker('export default { fetch() { return new Response("") } }');
      db = (await worker.mf.getD1Database('DB')) as unknown as D1DatabaseLike;
    });
    afterAll(() => worker?.dispose());

    it('migrate() applies each migration once and records it', async () => {
      const store = new D1Store({ database: db, tables: uniqueTables() });
      expect(await store.migrate()).toEqual([...MIGRATIONS]);
      expect(await store.migrate()).toEqual([]);
      const r = sessionRecordFixture(Date.now());
      await store.create(r, Date.now());
      // A third run after writes changes nothing.
      expect(await store.migrate()).toEqual([]);
      expect(await store.get(r.id, Date.now())).toEqual(r);
    });

    it('bad options are CONFIG_INVALID, before any statement', () => {
      const bad: unknown[] = [
        undefined,
        {},
        { database: {} },
        { database: db, tables: { sessions: '_cf_x' } },
        { database: db, tables: { sessions: 'same', userEpochs: 'same' } },
        { database: db, userBatchSize: 0 },
        { database: db, userBatchSize: 1.5 },
      ];
      for (const [index, options] of bad.entries()) {
        let caught: unknown;
        try {
          new D1Store(options as never);
        } catch (error) {
          caught = error;
        }
        expect((caught as { code?: string })?.code, `options #${index}`).toBe('CONFIG_INVALID');
      }
    });

    it('without the tables, every call is STORE_UNAVAILABLE (schema) and the store tells how to fix it', async () => {
      const store = new D1Store({ database: db, tables: uniqueTables() });
      const error = await expectCode(store.get('x'.repeat(22), Date.now()), 'STORE_UNAVAILABLE', 'schema');
      expect(error.message).toMatch(/migrate\(\)/);
      await expectCode(store.create(sessionRecordFixture(Date.now()), Date.now()), 'STORE_UNAVAILABLE', 'schema');
      // The manager fails closed: no session, never one it could not check.
      const manager = createSessionManager({ store });
      const result = await manager.validateToken(generateSessionToken().token);
      expect(result.status).toBe('unavailable');
      expect(result.session).toBeNull();
      await expectCode(manager.create({ userId: 'u' }), 'STORE_UNAVAILABLE');
    });

    it('a table of another shape under one of its names is CONFIG_INVALID, and is left as it was', async () => {
      const names = uniqueTables();
      await db.prepare(`CREATE TABLE "${names.sessions}" (id TEXT PRIMARY KEY, other TEXT)`).run();
      await db.prepare(`INSERT INTO "${names.sessions}" (id, other) VALUES ('kept', 'row')`).run();
      const store = new D1Store({ database: db, tables: names });
      const error = await expectCode(store.migrate(), 'CONFIG_INVALID');
      expect(error.message).toContain(names.sessions);
      const rows = await db.prepare(`SELECT * FROM "${names.sessions}"`).all();
      expect(rows.results).toEqual([{ id: 'kept', other: 'row' }]);
    });

    it('a duplicate id is STORE_CONFLICT; a failed rotation leaves the old record', async () => {
      const store = new D1Store({ database: db, tables: uniqueTables() });
      await store.migrate();
      const now = Date.now();
      const a = sessionRecordFixture(now, { userId: 'u' });
      const b = sessionRecordFixture(now, { userId: 'u' });
      await store.create(a, now);
      await store.create(b, now);
      await expectCode(store.create(a, now), 'STORE_CONFLICT');
      await expectCode(store.rotate(a.id, a.version, { ...b, version: 1 }, now), 'STORE_CONFLICT');
      expect(await store.get(a.id, now)).toEqual(a);
      expect(await store.get(b.id, now)).toEqual(b);
    });

    it('listByUser and deleteByUser walk a user in batches, sparing exceptId', async () => {
      const store = new D1Store({ database: db, tables: uniqueTables(), userBatchSize: 3 });
      await store.migrate();
      const now = Date.now();
      const records = Array.from({ length: 10 }, () => sessionRecordFixture(now, { userId: 'many' }));
      for (const r of records) await store.create(r, now);
      const other = sessionRecordFixture(now, { userId: 'other' });
      await store.create(other, now);
      const listed = await store.listByUser('many', now);
      expect(listed.map((r) => r.id).sort()).toEqual(records.map((r) => r.id).sort());
      const keep = records[4]?.id as string;
      expect(await store.deleteByUser('many', keep)).toBe(9);
      expect((await store.listByUser('many', now)).map((r) => r.id)).toEqual([keep]);
      expect(await store.get(other.id, now)).toEqual(other);
    });

    it('sweep deletes rows an hour past their deadline, in batches, and keeps the rest', async () => {
      const store = new D1Store({ database: db, tables: uniqueTables() });
      await store.migrate();
      const now = Date.now();
      const old = Array.from({ length: 5 }, () =>
        sessionRecordFixture(now - 2 * EXPIRED_RETENTION_MS, { idleExpiresAt: now - EXPIRED_RETENTION_MS - 1 }),
      );
      const recent = sessionRecordFixture(now - 60_000, { idleExpiresAt: now - 1 });
      const live = sessionRecordFixture(now);
      for (const r of [...old, recent, live]) await store.create(r, r.createdAt);
      const result = await store.sweep({ now, batchSize: 2 });
      expect(result).toMatchObject({ sessions: 5, done: true });
      // Expired a moment ago: still readable for the manager's look back.
      expect(await store.get(recent.id, now - EXPIRED_RETENTION_MS)).toEqual(recent);
      expect(await store.get(live.id, now)).toEqual(live);
      await expectCode(store.sweep({ batchSize: 0 }), 'CONFIG_INVALID');
    });
  });
}

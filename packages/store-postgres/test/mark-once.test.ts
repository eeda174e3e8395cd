import { createDpopVerifier } from '@org/session-core/dpop';
import { runMarkOnceConformance } from '@org/session-core/testing/vitest';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../src/index.js';
import { adminPool, dropSchema, freshSchema, PG_URL, postgresAvailable } from './helpers.js';

const available = await postgresAvailable();

describe.skipIf(!available)('PostgresStore.markOnce', () => {
  const admin = adminPool();
  const schemas: string[] = [];
  const clients: postgres.Sql[] = [];
  afterAll(async () => {
    for (const schema of schemas) await dropSchema(admin, schema);
    await Promise.all(clients.map((sql) => sql.end({ timeout: 5 })));
    await admin.end();
  });

  const open = async () => {
    const schema = freshSchema('once');
    schemas.push(schema);
    const store = new PostgresStore({ connectionString: PG_URL, schema });
    await store.migrate();
    return store;
  };
  const holds = async (store: unknown, key: string) => {
    const { qualified } = (store as PostgresStore).schema;
    return (await admin.query(`SELECT 1 FROM ${qualified.onceKeys} WHERE id = $1`, [key])).rowCount === 1;
  };
  const sweep = (store: unknown, now: number) => (store as PostgresStore).deleteExpired(now);

  // Two stores, each with a pool of its own, on one schema: two app instances.
  runMarkOnceConformance({
    name: 'PostgresStore (two pg pools on one schema)',
    createStore: open,
    createPeer: (store) =>
      new PostgresStore({ connectionString: PG_URL, schema: (store as PostgresStore).schema.schema }),
    sweep,
    holds,
  });

  // One instance on a pg pool, the other on a postgres (porsager) client.
  runMarkOnceConformance({
    name: 'PostgresStore (a pg pool and a postgres client on one schema)',
    createStore: open,
    createPeer: (store) => {
      const sql = postgres(PG_URL, { max: 4, onnotice: () => {} });
      clients.push(sql);
      return new PostgresStore({ pool: sql, schema: (store as PostgresStore).schema.schema });
    },
    sweep,
    holds,
  });

  it('a DPoP proof id marked by one instance is refused by the other (the verifier accepts the store)', async () => {
    const store = await open();
    const other = new PostgresStore({ connectionString: PG_URL, schema: store.schema.schema });
    try {
      expect(() => createDpopVerifier({ replay: store })).not.toThrow();
      const now = Date.now();
      expect(await store.markOnce('dpop:abc', 65_000, now)).toBe(true);
      expect(await other.markOnce('dpop:abc', 65_000, now + 10)).toBe(false);
      // deleteAll ends sessions; the replay cache stays, or a proof seen a minute ago could be replayed.
      await store.deleteAll();
      expect(await other.markOnce('dpop:abc', 65_000, now + 20)).toBe(false);
      const { rows } = await admin.query(`SELECT id, expires_at FROM ${store.schema.qualified.onceKeys}`);
      expect(rows).toEqual([{ id: 'dpop:abc', expires_at: String(now + 65_000) }]);
    } finally {
      await other.close();
      await store.close();
    }
  });
});

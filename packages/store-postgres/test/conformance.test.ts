import type { SessionStore } from '@org/session-core';
import { runStoreConformance } from '@org/session-core/testing/vitest';
import postgres from 'postgres';
import { afterAll, describe } from 'vitest';
import { PostgresStore, type PostgresStoreOptions } from '../src/index.js';
import { adminPool, dropSchema, freshSchema, PG_URL, postgresAvailable } from './helpers.js';

const available = await postgresAvailable();

/** Table names of the isolated neighbour: the same schema as the store under test, other tables. */
const NEIGHBOUR_TABLES = {
  sessions: 'neighbour_sessions',
  refreshFamilies: 'neighbour_refresh_families',
  userEpochs: 'neighbour_user_epochs',
  migrations: 'neighbour_migrations',
  onceKeys: 'neighbour_once_keys',
};

describe.skipIf(!available)('PostgresStore conformance', () => {
  const admin = adminPool();
  // A pool the application owns, shared by every store of the second run below.
  const userPool = adminPool();
  // A postgres (porsager) client the application owns, for the third run.
  const sql = postgres(PG_URL, { max: 4, onnotice: () => {} });
  afterAll(async () => {
    await sql.end({ timeout: 5 });
    await userPool.end();
    await admin.end();
  });

  /**
   * The factories of one run. Every store gets a schema of its own (dropped when the suite closes
   * it), so the deleteAll tests empty only their own tables; the neighbour shares the schema of
   * the store under test and differs in table names only.
   */
  const factories = (options: Omit<PostgresStoreOptions, 'schema' | 'tables'>) => {
    const open = async (schema: string, tables?: PostgresStoreOptions['tables']) => {
      const store = new PostgresStore({ ...options, schema, tables });
      await store.migrate();
      return store;
    };
    return {
      createStore: () => open(freshSchema('conformance')),
      createIsolatedStore: (store: SessionStore) => open((store as PostgresStore).schema.schema, NEIGHBOUR_TABLES),
      closeStore: async (store: SessionStore) => {
        await store.close?.();
        await dropSchema(admin, (store as PostgresStore).schema.schema);
      },
      // Every row of the store's four tables, as PostgreSQL prints it, read past the store.
      dumpRaw: async (store: SessionStore) => {
        const rows: string[] = [];
        for (const table of Object.values((store as PostgresStore).schema.qualified)) {
          const result = await admin.query<{ row: string }>(`SELECT t::text AS row FROM ${table} t`);
          rows.push(`${table}`, ...result.rows.map((r) => r.row));
        }
        return rows.join('\n');
      },
    };
  };

  // The pool the store opens itself, with named prepared statements (the defaults).
  runStoreConformance({
    name: 'PostgresStore (own pool, prepared statements)',
    ...factories({ connectionString: PG_URL }),
  });

  // A pool the application owns, with unnamed statements (the PgBouncer-friendly mode).
  runStoreConformance({
    name: 'PostgresStore (user pool, unnamed statements)',
    ...factories({ pool: userPool, preparedStatements: false }),
  });

  // The same suite through a postgres (porsager) client: the store's one SQL path over the other driver.
  runStoreConformance({
    name: 'PostgresStore (postgres client, prepared statements)',
    ...factories({ pool: sql }),
  });
});

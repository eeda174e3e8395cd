import { runStoreConformance } from '@org/session-core/testing';
import { afterAll, beforeAll, describe } from 'vitest';
import { PostgresStore } from '../src/index.js';
import { adminPool, dropSchema, freshSchema, PG_URL, postgresAvailable } from './helpers.js';

const available = await postgresAvailable();
const schema = freshSchema('conformance');

describe.skipIf(!available)('PostgresStore conformance', () => {
  const admin = available ? adminPool() : null;

  beforeAll(async () => {
    await new PostgresStore({ pool: admin as NonNullable<typeof admin>, schema }).migrate();
  });
  afterAll(async () => {
    if (!admin) return;
    await dropSchema(admin, schema);
    await admin.end();
  });

  // The pool the store opens itself, with named prepared statements (the defaults).
  runStoreConformance({
    name: 'PostgresStore (own pool, prepared statements)',
    createStore: () => new PostgresStore({ connectionString: PG_URL, schema }),
  });

  // A pool the application owns, with unnamed statements (the PgBouncer-friendly mode).
  const userPool = adminPool();
  runStoreConformance({
    name: 'PostgresStore (user pool, unnamed statements)',
    createStore: () => new PostgresStore({ pool: userPool, schema, preparedStatements: false }),
    closeStore: async (store) => {
      await store.close?.();
      await userPool.end();
    },
  });
});

import { runAttemptCounterConformance } from '@org/session-core/testing/vitest';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresAttemptCounter } from '../src/index.js';
import { adminPool, dropSchema, freshSchema, PG_URL, postgresAvailable } from './helpers.js';

const available = await postgresAvailable();
const schema = freshSchema('attempts');

describe.skipIf(!available)('PostgresAttemptCounter on a real PostgreSQL', () => {
  const admin = adminPool();
  // Two pools, as two instances of an app would hold.
  const pools = [new pg.Pool({ connectionString: PG_URL, max: 8 }), new pg.Pool({ connectionString: PG_URL, max: 8 })];
  let turn = 0;

  beforeAll(async () => {
    await admin.query(`CREATE SCHEMA "${schema}"`);
    await new PostgresAttemptCounter({ pool: admin, schema }).migrate();
  });
  afterAll(async () => {
    await dropSchema(admin, schema);
    await Promise.all([admin.end(), ...pools.map((p) => p.end())]);
  });

  runAttemptCounterConformance('postgres', {
    counter: () => new PostgresAttemptCounter({ pool: pools[turn++ % 2] as pg.Pool, schema }),
    keyPrefix: 'c',
  });

  it('prunes expired rows as it writes, and refuses names that are not identifiers', async () => {
    const counter = new PostgresAttemptCounter({ pool: admin, schema });
    const rule = { freeAttempts: 5, baseDelayMs: 1, maxDelayMs: 1, windowMs: 10 };
    for (let i = 0; i < 5; i++) await counter.attempt(`old-${i}`, rule, 100);
    await counter.attempt('fresh', rule, 1_000_000);
    const { rows } = await admin.query(`SELECT key FROM "${schema}".session_attempts WHERE key LIKE 'old-%'`);
    expect(rows).toEqual([]);
    expect(() => new PostgresAttemptCounter({ pool: admin, table: 'a"; DROP TABLE b' })).toThrow(TypeError);
  });
});

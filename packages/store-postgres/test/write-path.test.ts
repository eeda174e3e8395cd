/**
 * The write path on a real PostgreSQL, counted at the driver: every statement the store sends is
 * recorded by a wrapped pg Pool or postgres client (nothing is faked), and a trigger on the data
 * column tells whether a statement wrote it.
 */
import { createSessionManager } from '@org/session-core';
import { createTestClock, randomString } from '@org/session-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../src/index.js';
import {
  adminPool,
  dropSchema,
  freshSchema,
  type ObservedStatement,
  observedPool,
  observedPostgresJs,
  PG_URL,
  postgresAvailable,
} from './helpers.js';

const available = await postgresAvailable();
const MINUTE = 60_000;

describe.skipIf(!available)('PostgresStore write path (statements counted at the driver)', () => {
  const schema = freshSchema('writes');
  const admin = adminPool();
  const observed = observedPool({ connectionString: PG_URL, max: 10 });
  const porsager = observedPostgresJs(PG_URL);
  const clients = [
    { label: 'pg Pool', store: new PostgresStore({ pool: observed.pool, schema }), statements: observed.statements },
    {
      label: 'postgres client',
      store: new PostgresStore({ pool: porsager.sql, schema }),
      statements: porsager.statements,
    },
  ];

  beforeAll(async () => {
    await clients[0]?.store.migrate();
    const sessions = `"${schema}".session_store_sessions`;
    // Counts every statement that names the data column in its SET list (UPDATE OF data).
    await admin.query(`CREATE TABLE "${schema}".data_writes (id text, at timestamptz DEFAULT clock_timestamp())`);
    await admin.query(
      `CREATE FUNCTION "${schema}".log_data_write() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN INSERT INTO "${schema}".data_writes (id) VALUES (NEW.id); RETURN NEW; END $$`,
    );
    await admin.query(
      `CREATE TRIGGER data_written AFTER UPDATE OF data ON ${sessions} FOR EACH ROW EXECUTE FUNCTION "${schema}".log_data_write()`,
    );
  });
  afterAll(async () => {
    for (const { store } of clients) await store.close();
    await observed.pool.end();
    await porsager.sql.end({ timeout: 5 });
    await dropSchema(admin, schema);
    await admin.end();
  });

  const dataWrites = async (id: string) =>
    Number(
      (await admin.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".data_writes WHERE id = $1`, [id]))
        .rows[0]?.n,
    );
  const dataText = async (id: string) =>
    (
      await admin.query<{ data: string }>(
        `SELECT data::text AS data FROM "${schema}".session_store_sessions WHERE id = $1`,
        [id],
      )
    ).rows[0]?.data;

  for (const client of clients) {
    describe(client.label, () => {
      const since = (mark: number): ObservedStatement[] => client.statements.slice(mark);

      it('a touch is one UPDATE of the deadline and version columns: the data is neither sent nor rewritten', async () => {
        const clock = createTestClock(Date.now());
        const sessions = createSessionManager({
          store: client.store,
          clock,
          policy: { idleTimeoutMs: 30 * MINUTE, touchIntervalMs: MINUTE },
        });
        const data = { role: 'member', cart: Array.from({ length: 50 }, (_, i) => ({ sku: `item-${i}`, qty: i })) };
        const { token, session } = await sessions.create({ userId: `user-${randomString(9)}`, data });
        const before = await dataText(session.id);

        clock.advance(MINUTE);
        const mark = client.statements.length;
        const result = await sessions.validateToken(token);
        expect(result.status).toBe('valid');
        const sent = since(mark);
        // One read, then one write: the UPDATE names no data column and carries no data value.
        expect(sent.map((s) => s.text.split(' ')[0])).toEqual(['SELECT', 'UPDATE']);
        const update = sent[1] as ObservedStatement;
        expect(update.text).toMatch(
          /SET last_seen_at = \$2, idle_expires_at = \$3, expires_at = \$4, version = \$5 WHERE/,
        );
        expect(update.text).not.toMatch(/\bdata\b|\bmetadata\b/);
        expect(update.values).toHaveLength(7);
        expect(update.values.some((v) => typeof v === 'string' && v.includes('item-49'))).toBe(false);
        expect(await dataText(session.id)).toBe(before);
        expect(await dataWrites(session.id)).toBe(0);

        // The touched record is live for its new deadline, and a data write still writes the data.
        const touched = await client.store.get(session.id, clock.now());
        expect(touched).toMatchObject({
          version: 2,
          lastSeenAt: clock.now(),
          idleExpiresAt: clock.now() + 30 * MINUTE,
        });
        expect(touched?.data).toEqual(data);
        await sessions.patch({ id: session.id, version: 2 }, { role: 'admin' } as never);
        expect(await dataWrites(session.id)).toBe(1);
      });

      it('10 concurrent writers of one session: none fails, every write lands, at most 1.5 statements per write', async () => {
        const sessions = createSessionManager({ store: client.store });
        const { token } = await sessions.create({ userId: `user-${randomString(9)}`, data: { role: 'member' } });
        const reads = await Promise.all(Array.from({ length: 10 }, () => sessions.validateToken(token)));
        const mark = client.statements.length;
        const writes = await Promise.allSettled(
          reads.map((result, i) => {
            if (result.status !== 'valid') throw new Error(`expected a valid session, got ${result.status}`);
            return i % 2 === 0
              ? sessions.patch(result.session, { [`k${i}`]: i } as never)
              : sessions.update(result.session, (current) => ({ ...current, [`k${i}`]: i }));
          }),
        );
        const sent = since(mark).length;
        expect(writes.filter((w) => w.status === 'rejected')).toEqual([]);
        expect(sent / 10).toBeLessThanOrEqual(1.5);
        const expected = { role: 'member', ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, i])) };
        expect((await sessions.validateToken(token)).session?.data).toEqual(expected);
        console.info(`[store-postgres] ${client.label}: 10 concurrent writes sent ${sent} statements`);
      });
    });
  }
});

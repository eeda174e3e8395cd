/**
 * The write path on a real SQLite file, counted at the driver: every statement the store runs is
 * recorded by wrapping the better-sqlite3 statements it prepares (nothing is faked), and a trigger
 * on the data column tells whether a statement wrote it.
 */
import { join } from 'node:path';
import { createSessionManager } from '@org/session-core';
import { createTestClock, randomString } from '@org/session-core/testing';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/index.js';
import { tempDir } from './helpers.js';

const temp = tempDir('writes');
const MINUTE = 60_000;

/** A real database whose prepared statements record each run: its SQL and its parameters. */
function observedDatabase(path: string): { database: Database.Database; runs: { sql: string; values: unknown }[] } {
  const database = new Database(path);
  database.pragma('journal_mode = WAL');
  const runs: { sql: string; values: unknown }[] = [];
  const prepare = database.prepare.bind(database);
  database.prepare = ((source: string) => {
    const statement = prepare(source);
    for (const method of ['run', 'get', 'all'] as const) {
      const original = statement[method].bind(statement) as (...args: unknown[]) => unknown;
      (statement as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
        runs.push({ sql: source, values: args[0] });
        return original(...args);
      };
    }
    return statement;
  }) as typeof database.prepare;
  return { database, runs };
}

describe('SqliteStore write path (statements counted at the driver)', () => {
  const { database, runs } = observedDatabase(join(temp.dir, 'writes.db'));
  const store = new SqliteStore({ database });

  beforeAll(async () => {
    await store.migrate();
    // Counts every statement that names the data column in its SET list (UPDATE OF data).
    database.exec(`CREATE TABLE data_writes (id TEXT NOT NULL);
      CREATE TRIGGER data_written AFTER UPDATE OF data ON session_store_sessions
      BEGIN INSERT INTO data_writes (id) VALUES (NEW.id); END;`);
  });
  afterAll(() => {
    database.close();
    temp.remove();
  });

  const dataWrites = (id: string) =>
    database.prepare('SELECT count(*) FROM data_writes WHERE id = ?').pluck().get(id) as number;
  const dataBytes = (id: string) =>
    database.prepare('SELECT CAST(data AS BLOB) FROM session_store_sessions WHERE id = ?').pluck().get(id) as Buffer;

  it('a touch is one UPDATE of the deadline and version columns: the data is neither bound nor rewritten', async () => {
    const clock = createTestClock(Date.now());
    const sessions = createSessionManager({
      store,
      clock,
      policy: { idleTimeoutMs: 30 * MINUTE, touchIntervalMs: MINUTE },
    });
    const data = { role: 'member', cart: Array.from({ length: 50 }, (_, i) => ({ sku: `item-${i}`, qty: i })) };
    const { token, session } = await sessions.create({ userId: `user-${randomString(9)}`, data });
    const before = Buffer.from(dataBytes(session.id));

    clock.advance(MINUTE);
    const mark = runs.length;
    expect((await sessions.validateToken(token)).status).toBe('valid');
    const sent = runs.slice(mark);
    expect(sent.map((r) => r.sql.trimStart().split(' ')[0])).toEqual(['SELECT', 'UPDATE']);
    const update = sent[1] as { sql: string; values: Record<string, unknown> };
    expect(update.sql).toMatch(/SET last_seen_at = \$2, idle_expires_at = \$3, expires_at = \$4, version = \$5 WHERE/);
    expect(update.sql).not.toMatch(/\bdata\b|\bmetadata\b/);
    expect(Object.keys(update.values)).toHaveLength(7);
    expect(JSON.stringify(update.values)).not.toContain('item-49');
    expect(dataBytes(session.id).equals(before)).toBe(true);
    expect(dataWrites(session.id)).toBe(0);

    const touched = await store.get(session.id, clock.now());
    expect(touched).toMatchObject({ version: 2, lastSeenAt: clock.now(), idleExpiresAt: clock.now() + 30 * MINUTE });
    expect(touched?.data).toEqual(data);
    await sessions.patch({ id: session.id, version: 2 }, { role: 'admin' } as never);
    expect(dataWrites(session.id)).toBe(1);
  });

  it('10 concurrent writers of one session: none fails, every write lands, at most 1.5 statements per write', async () => {
    const sessions = createSessionManager({ store });
    const { token } = await sessions.create({ userId: `user-${randomString(9)}`, data: { role: 'member' } });
    const reads = await Promise.all(Array.from({ length: 10 }, () => sessions.validateToken(token)));
    const mark = runs.length;
    const writes = await Promise.allSettled(
      reads.map((result, i) => {
        if (result.status !== 'valid') throw new Error(`expected a valid session, got ${result.status}`);
        return i % 2 === 0
          ? sessions.patch(result.session, { [`k${i}`]: i } as never)
          : sessions.update(result.session, (current) => ({ ...current, [`k${i}`]: i }));
      }),
    );
    const sent = runs.length - mark;
    expect(writes.filter((w) => w.status === 'rejected')).toEqual([]);
    expect(sent / 10).toBeLessThanOrEqual(1.5);
    const expected = { role: 'member', ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, i])) };
    expect((await sessions.validateToken(token)).session?.data).toEqual(expected);
  });

  it('10 concurrent writers through two stores on one file (two processes): none fails, every write lands', async () => {
    const other = new SqliteStore({ path: database.name });
    try {
      const [one, two] = [createSessionManager({ store }), createSessionManager({ store: other })];
      const { token } = await one.create({ userId: `user-${randomString(9)}`, data: { role: 'member' } });
      const reads = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? one : two).validateToken(token)),
      );
      const writes = await Promise.allSettled(
        reads.map((result, i) => {
          if (result.status !== 'valid') throw new Error(`expected a valid session, got ${result.status}`);
          return (i % 2 === 0 ? one : two).patch(result.session, { [`k${i}`]: i } as never);
        }),
      );
      expect(writes.filter((w) => w.status === 'rejected')).toEqual([]);
      const expected = { role: 'member', ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, i])) };
      expect((await one.validateToken(token)).session?.data).toEqual(expected);
    } finally {
      await other.close();
    }
  });
});

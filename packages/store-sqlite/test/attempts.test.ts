import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAttemptCounterConformance } from '@org/session-core/testing/vitest';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteAttemptCounter } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'sqlite-attempts-'));
const file = join(dir, 'attempts.db');
// Two connections to one file, as two processes of an app would hold.
const connections: Database.Database[] = [];
function connection(): Database.Database {
  const db = new Database(file, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  connections.push(db);
  return db;
}
const counters = [
  new SqliteAttemptCounter({ database: connection() }),
  new SqliteAttemptCounter({ database: connection() }),
];
let turn = 0;

afterAll(() => {
  for (const db of connections) db.close();
  rmSync(dir, { recursive: true, force: true });
});

runAttemptCounterConformance('sqlite', {
  counter: () => counters[turn++ % 2] as SqliteAttemptCounter,
  keyPrefix: 'sqlite',
});

describe('SqliteAttemptCounter', () => {
  it('prunes expired rows as it writes, and refuses a table name that is not an identifier', async () => {
    const db = connection();
    const counter = new SqliteAttemptCounter({ database: db, table: 'prune_attempts' });
    const rule = { freeAttempts: 5, baseDelayMs: 1, maxDelayMs: 1, windowMs: 10 };
    for (let i = 0; i < 10; i++) await counter.attempt(`old${i}`, rule, 0);
    await counter.attempt('new', rule, 1000);
    const rows = db.prepare('SELECT key FROM prune_attempts').all() as Array<{ key: string }>;
    expect(rows.map((r) => r.key)).toEqual(['new']);
    expect(() => new SqliteAttemptCounter({ database: db, table: 'x; DROP TABLE y' })).toThrow(TypeError);
  });
});

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SessionStore } from '@org/session-core';
import { runStoreConformance } from '@org/session-core/testing/vitest';
import Database from 'better-sqlite3';
import { afterAll, describe } from 'vitest';
import { SqliteStore } from '../src/index.js';

/** Table names of the isolated neighbour: the same file as the store under test, other tables. */
const NEIGHBOUR_TABLES = {
  sessions: 'neighbour_sessions',
  refreshFamilies: 'neighbour_refresh_families',
  migrations: 'neighbour_migrations',
  userEpochs: 'neighbour_user_epochs',
  onceKeys: 'neighbour_once_keys',
};

/**
 * What the store's database holds: the bytes of its file and of its WAL (committed pages live
 * there until a checkpoint) as latin1, free pages and all, then every row of its tables.
 */
function dumpRaw(store: SessionStore): string {
  const { database, tables } = store as SqliteStore;
  const files = [database.name, `${database.name}-wal`].filter(existsSync).map((file) => readFileSync(file, 'latin1'));
  const rows = Object.values(tables.quoted).map((table) =>
    JSON.stringify(database.prepare(`SELECT * FROM ${table}`).all()),
  );
  return [...files, ...rows].join('\n');
}

describe('SqliteStore conformance (temp file)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'session-sqlite-conformance-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // Every store the suites open gets a file of its own, so the deleteAll tests empty only theirs.
  let files = 0;
  const nextFile = (label: string) => join(dir, `${label}-${++files}`, 'sessions.db');

  // The file the store opens itself, migrated by the constructor option. The neighbour is a
  // second connection to the same file, with other table names.
  runStoreConformance({
    name: 'SqliteStore (own file)',
    createStore: () => new SqliteStore({ path: nextFile('own'), migrate: true }),
    createIsolatedStore: (store) =>
      new SqliteStore({ path: (store as SqliteStore).database.name, tables: NEIGHBOUR_TABLES, migrate: true }),
    dumpRaw,
  });

  // A database the application opened, migrated on request; the neighbour borrows it too.
  const borrowing = async (database: Database.Database, tables?: typeof NEIGHBOUR_TABLES) => {
    const store = new SqliteStore({ database, tables });
    await store.migrate();
    return store;
  };
  runStoreConformance({
    name: 'SqliteStore (user database)',
    createStore: () => {
      const database = new Database(join(dir, `user-${++files}.db`));
      database.pragma('journal_mode = WAL');
      return borrowing(database);
    },
    createIsolatedStore: (store) => borrowing((store as SqliteStore).database, NEIGHBOUR_TABLES),
    closeStore: async (store: SessionStore) => {
      await store.close?.();
      const { database } = store as SqliteStore;
      if (database.open) database.close();
    },
    dumpRaw,
  });
});

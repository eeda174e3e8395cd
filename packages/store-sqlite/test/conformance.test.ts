import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStoreConformance } from '@org/session-core/testing';
import Database from 'better-sqlite3';
import { afterAll, describe } from 'vitest';
import { SqliteStore } from '../src/index.js';

describe('SqliteStore conformance (temp file)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'session-sqlite-conformance-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // The file the store opens itself, migrated by the constructor option.
  runStoreConformance({
    name: 'SqliteStore (own file)',
    createStore: () => new SqliteStore({ path: join(dir, 'own', 'sessions.db'), migrate: true }),
  });

  // A database the application opened, migrated on request.
  let database: Database.Database | undefined;
  runStoreConformance({
    name: 'SqliteStore (user database)',
    createStore: async () => {
      database = new Database(join(dir, 'user.db'));
      database.pragma('journal_mode = WAL');
      const store = new SqliteStore({ database });
      await store.migrate();
      return store;
    },
    closeStore: async (store) => {
      await store.close?.();
      database?.close();
    },
  });
});

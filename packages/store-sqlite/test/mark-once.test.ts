import { join } from 'node:path';
import { createDpopVerifier } from '@org/session-core/dpop';
import { runMarkOnceConformance } from '@org/session-core/testing/vitest';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/index.js';
import { tempDir } from './helpers.js';

const temp = tempDir('once');
afterAll(() => temp.remove());
let files = 0;

// Two stores, each with its own better-sqlite3 connection, on one file: two app instances.
runMarkOnceConformance({
  name: 'SqliteStore (two connections to one file)',
  createStore: () => new SqliteStore({ path: join(temp.dir, `once-${++files}.db`), migrate: true }),
  createPeer: (store) => new SqliteStore({ path: (store as SqliteStore).database.name }),
  sweep: (store, now) => (store as SqliteStore).deleteExpired(now),
  holds: (store, key) =>
    (store as SqliteStore).database.prepare('SELECT 1 FROM session_store_once_keys WHERE id = ?').get(key) !==
    undefined,
});

describe('SqliteStore.markOnce', () => {
  it('serves as the DPoP replay store: the verifier accepts it', async () => {
    const store = new SqliteStore({ path: join(temp.dir, 'dpop.db'), migrate: true });
    try {
      expect(() => createDpopVerifier({ replay: store })).not.toThrow();
    } finally {
      await store.close();
    }
  });

  it('keeps its keys in the once-keys table of its own name, and deleteAll leaves them', async () => {
    const store = new SqliteStore({
      path: join(temp.dir, 'named.db'),
      migrate: true,
      tables: { onceKeys: 'web_once' },
    });
    try {
      const now = Date.now();
      expect(await store.markOnce('k', 60_000, now)).toBe(true);
      expect(store.database.prepare('SELECT id, expires_at FROM web_once').all()).toEqual([
        { id: 'k', expires_at: now + 60_000 },
      ]);
      await store.deleteAll();
      expect(await store.markOnce('k', 60_000, now)).toBe(false);
    } finally {
      await store.close();
    }
  });
});

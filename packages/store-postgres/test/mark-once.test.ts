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

  it('a DPoP proof fails closed at replayTimeoutMs while the replay table is locked, and verifies once the lock is gone', async () => {
    const store = await open();
    const verifier = createDpopVerifier({ replay: store, replayTimeoutMs: 200 });
    const url = 'https://api.example.test/token';
    const locker = await admin.connect();
    try {
      await locker.query('BEGIN');
      // Another transaction holds the table: the store's INSERT waits for it, however long.
      await locker.query(`LOCK TABLE ${store.schema.qualified.onceKeys} IN ACCESS EXCLUSIVE MODE`);
      const refused = await verifier.verify(await signedProof('POST', url), { method: 'POST', url }).then(
        () => null,
        (error: unknown) => error,
      );
      expect(refused).toMatchObject({ code: 'STORE_UNAVAILABLE', status: 503, reason: 'dpop_replay_cache' });
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
    expect((await verifier.verify(await signedProof('POST', url), { method: 'POST', url })).htm).toBe('POST');
    await store.close();
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

/** A DPoP proof (RFC 9449) signed with a new ES256 key through Web Crypto. */
async function signedProof(htm: string, htu: string): Promise<string> {
  const { privateKey, publicKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ]);
  const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', publicKey);
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const header = part({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } });
  const claims = part({ jti: crypto.randomUUID(), htm, htu, iat: Math.floor(Date.now() / 1000) });
  const signature = await crypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-256' },
    privateKey,
    new TextEncoder().encode(`${header}.${claims}`),
  );
  return `${header}.${claims}.${Buffer.from(signature).toString('base64url')}`;
}

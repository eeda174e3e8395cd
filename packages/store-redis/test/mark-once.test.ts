import { createDpopVerifier, type MarkOnceStore } from '@org/session-core/dpop';
import { runMarkOnceConformance } from '@org/session-core/testing/vitest';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnyRedisClient, RedisStore } from '../src/index.js';
import {
  assertServices,
  type ClientKind,
  dropUnder,
  LOCAL_URL,
  localRedis,
  type OpenedClient,
  openClient,
  openClusterClient,
  redisCluster,
  skipWithout,
  uniquePrefix,
} from './support.js';

const local = await localRedis();
const cluster = redisCluster();

/**
 * Opens stores for the shared markOnce suite and lets go of them: the store's own connection, or
 * an app-owned client (which the store never closes) of the given library.
 */
function markOnceStores(connect: (kind: ClientKind) => Promise<OpenedClient>) {
  const clients = new Map<MarkOnceStore, OpenedClient>();
  const prefixes: string[] = [];
  return {
    prefixes,
    /** An instance on `prefix` (a fresh one when absent) over an app-owned client of `kind`. */
    async open(kind: ClientKind, prefix?: string): Promise<RedisStore<never, AnyRedisClient>> {
      const opened = await connect(kind);
      const store = new RedisStore<never, AnyRedisClient>({ client: opened.client, prefix: prefix ?? fresh() });
      clients.set(store, opened);
      return store;
    },
    fresh,
    async close(store: MarkOnceStore): Promise<void> {
      await (store as RedisStore).close();
      await clients.get(store)?.close();
      clients.delete(store);
    },
  };
  function fresh(): string {
    const prefix = uniquePrefix('once-conformance');
    prefixes.push(prefix);
    return prefix;
  }
}

describe.skipIf(skipWithout(local))('RedisStore.markOnce conformance on a single server', () => {
  const stores = markOnceStores((kind) => openClient(kind, LOCAL_URL));
  beforeAll(() => assertServices(local));
  afterAll(async () => {
    if (local.missing) return;
    const admin = new Redis(LOCAL_URL);
    for (const prefix of stores.prefixes) await dropUnder(admin, prefix);
    admin.disconnect();
  });

  // Two instances, each with the connection it opened from the URL: two app processes.
  runMarkOnceConformance({
    name: 'RedisStore (two ioredis 5 connections it opened, one server)',
    createStore: () => new RedisStore({ url: LOCAL_URL, prefix: stores.fresh() }),
    createPeer: (store) => new RedisStore({ url: LOCAL_URL, prefix: (store as RedisStore).prefix }),
    closeStore: (store) => stores.close(store),
    clock: 'server',
  });

  // One instance on ioredis 6, the other on node-redis 5: the same key layout through both.
  runMarkOnceConformance({
    name: 'RedisStore (an ioredis 6 and a node-redis 5 client, one server)',
    createStore: () => stores.open('ioredis 6'),
    createPeer: (store) => stores.open('node-redis 5', (store as RedisStore<never, AnyRedisClient>).prefix),
    closeStore: (store) => stores.close(store),
    clock: 'server',
  });
});

describe.skipIf(skipWithout(cluster))('RedisStore.markOnce conformance on the test Redis Cluster', () => {
  const stores = markOnceStores((kind) => openClusterClient(kind, cluster.nodes));
  beforeAll(() => assertServices(cluster));
  afterAll(async () => {
    if (cluster.missing) return;
    const admin = new Cluster(cluster.nodes);
    await new Promise((resolve) => admin.once('ready', resolve));
    for (const prefix of stores.prefixes) await dropUnder(admin, prefix);
    admin.disconnect();
  });

  // The store's own cluster connection on one side, node-redis 5's cluster client on the other:
  // racing callers reach the key's slot through different client libraries.
  runMarkOnceConformance({
    name: 'RedisStore (its own ioredis 5 cluster connection and a node-redis 5 cluster client)',
    createStore: () => new RedisStore({ cluster: { nodes: cluster.nodes }, prefix: stores.fresh() }),
    createPeer: (store) => stores.open('node-redis 5', (store as RedisStore).prefix),
    closeStore: (store) => stores.close(store),
    clock: 'server',
  });

  runMarkOnceConformance({
    name: 'RedisStore (two ioredis 6 cluster clients)',
    createStore: () => stores.open('ioredis 6'),
    createPeer: (store) => stores.open('ioredis 6', (store as RedisStore<never, AnyRedisClient>).prefix),
    closeStore: (store) => stores.close(store),
    clock: 'server',
  });
});

const b64 = (bytes: Uint8Array | string) =>
  Buffer.from(typeof bytes === 'string' ? Buffer.from(bytes) : bytes).toString('base64url');

/** A DPoP proof made with Web Crypto alone (ES256), as a client would send it. */
async function proofFor(method: string, url: string): Promise<string> {
  const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', pair.publicKey);
  const header = b64(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } }));
  const claims = { jti: crypto.randomUUID(), htm: method, htu: url, iat: Math.floor(Date.now() / 1000) };
  const input = `${header}.${b64(JSON.stringify(claims))}`;
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, pair.privateKey, Buffer.from(input));
  return `${input}.${b64(new Uint8Array(signature))}`;
}

describe.skipIf(skipWithout(local))('RedisStore.markOnce: the shared DPoP replay cache', () => {
  const prefix = uniquePrefix('once');
  let a: RedisStore;
  let b: RedisStore;

  beforeAll(() => {
    assertServices(local);
    a = new RedisStore({ url: LOCAL_URL, prefix });
    b = new RedisStore({ url: LOCAL_URL, prefix });
  });
  afterAll(async () => {
    if (!a) return;
    await dropUnder(a.client, prefix);
    await a.close();
    await b.close();
  });

  it('one winner among concurrent callers on two instances; the key expires with its TTL', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).markOnce('race', 300, Date.now())),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    const ttl = await a.client.pttl(a.onceKey('race'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(300);
    // Bounded wait for Redis to expire the key.
    const deadline = Date.now() + 3000;
    while ((await a.client.exists(a.onceKey('race'))) === 1 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await b.markOnce('race', 300, Date.now())).toBe(true);
  });

  it('a proof accepted by one instance is refused as replayed by another', async () => {
    const url = 'https://api.example.test/token';
    const proof = await proofFor('POST', url);
    const first = createDpopVerifier({ replay: a });
    const second = createDpopVerifier({ replay: b });
    expect((await first.verify(proof, { method: 'POST', url })).jkt).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await expect(second.verify(proof, { method: 'POST', url })).rejects.toMatchObject({ code: 'DPOP_PROOF_REPLAYED' });
    // Only a fixed-size hash of key and jti is stored, with a TTL.
    // The 300 ms key of the test before may be expiring right now: left out.
    const keys = (await a.client.keys(`${prefix}o:*`)).filter((key) => key !== a.onceKey('race'));
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(await a.client.pttl(key)).toBeGreaterThan(0);
  });
});

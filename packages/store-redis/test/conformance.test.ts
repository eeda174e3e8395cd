import type { SessionStore } from '@org/session-core';
import { runStoreConformance } from '@org/session-core/testing/vitest';
import { beforeAll, describe } from 'vitest';
import { RedisStore } from '../src/index.js';
import {
  assertServices,
  dropUnder,
  dumpUnder,
  LOCAL_URL,
  localRedis,
  redisCluster,
  skipWithout,
  uniquePrefix,
} from './support.js';

const local = await localRedis();
const cluster = redisCluster();

/** Every key under the store's prefix with its value (strings, sorted sets and hashes in full). */
async function dumpRaw(store: SessionStore): Promise<string> {
  const redis = store as RedisStore;
  const dump = await dumpUnder(redis.client, redis.prefix);
  return [...dump].map(([key, value]) => `${key}\n${value}`).join('\n');
}

/** Removes this suite's keys, then closes the connection the store opened. */
async function cleanUp(store: SessionStore): Promise<void> {
  const redis = store as RedisStore;
  await dropUnder(redis.client, redis.prefix);
  await redis.close();
}

describe.skipIf(skipWithout(local))('single Redis', () => {
  beforeAll(() => assertServices(local));
  runStoreConformance({
    name: 'RedisStore (single server)',
    // Every call gets its own prefix, so the deleteAll tests empty only their own store.
    createStore: () => new RedisStore({ url: LOCAL_URL, prefix: uniquePrefix('conformance') }),
    // A prefix that starts with the target's: the hardest neighbour for a prefix scan.
    createIsolatedStore: (store) => new RedisStore({ url: LOCAL_URL, prefix: `${(store as RedisStore).prefix}next:` }),
    closeStore: cleanUp,
    dumpRaw,
  });
});

describe.skipIf(skipWithout(cluster))('Redis Cluster of three masters', () => {
  beforeAll(() => assertServices(cluster));
  runStoreConformance({
    name: 'RedisStore (cluster)',
    createStore: () => new RedisStore({ cluster: { nodes: cluster.nodes }, prefix: uniquePrefix('conformance') }),
    createIsolatedStore: (store) =>
      new RedisStore({ cluster: { nodes: cluster.nodes }, prefix: `${(store as RedisStore).prefix}next:` }),
    closeStore: cleanUp,
    dumpRaw,
  });
});

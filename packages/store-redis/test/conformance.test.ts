import type { SessionStore } from '@org/session-core';
import { runStoreConformance } from '@org/session-core/testing/vitest';
import { Cluster, Redis } from 'ioredis';
import { Cluster as Cluster6, Redis as Redis6 } from 'ioredis6';
import { createClient, createCluster } from 'redis';
import { afterAll, beforeAll, describe } from 'vitest';
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

/** An app's client of one library, as the store takes it, and how the test closes it. */
interface AppClient {
  client: ConstructorParameters<typeof RedisStore>[0]['client'];
  close(): unknown;
}

/**
 * The conformance suite through an app-owned client: reads and clean-ups go through an ioredis
 * connection of the suite's own (`inspect`), since the store's keys look the same whichever client
 * wrote them.
 */
function runThroughAppClient(options: {
  title: string;
  name: string;
  services: typeof local | typeof cluster;
  inspect: () => Redis | Cluster;
  prefix: string;
  connect: () => Promise<AppClient> | AppClient;
}): void {
  describe.skipIf(skipWithout(options.services))(options.title, () => {
    let inspector: Redis | Cluster;
    const clients = new Map<SessionStore, AppClient>();
    beforeAll(() => {
      assertServices(options.services);
      inspector = options.inspect();
    });
    afterAll(() => inspector?.disconnect());
    const open = async (prefix: string) => {
      const app = await options.connect();
      const store = new RedisStore({ client: app.client, prefix });
      clients.set(store, app);
      return store;
    };
    runStoreConformance({
      name: options.name,
      createStore: () => open(uniquePrefix(options.prefix)),
      createIsolatedStore: (store) => open(`${(store as RedisStore).prefix}next:`),
      closeStore: async (store) => {
        await dropUnder(inspector, (store as RedisStore).prefix);
        await clients.get(store)?.close();
        clients.delete(store);
      },
      dumpRaw: async (store) => {
        const dump = await dumpUnder(inspector, (store as RedisStore).prefix);
        return [...dump].map(([key, value]) => `${key}\n${value}`).join('\n');
      },
    });
  });
}

runThroughAppClient({
  title: 'single Redis through node-redis',
  name: 'RedisStore (single server, node-redis)',
  services: local,
  inspect: () => new Redis(LOCAL_URL),
  prefix: 'conformance-node-redis',
  connect: async () => {
    const client = createClient({ url: LOCAL_URL, disableOfflineQueue: true });
    client.on('error', () => {});
    await client.connect();
    return { client, close: () => client.close() };
  },
});

runThroughAppClient({
  title: 'single Redis through an ioredis 6 client',
  name: 'RedisStore (single server, ioredis 6)',
  services: local,
  inspect: () => new Redis(LOCAL_URL),
  prefix: 'conformance-ioredis6',
  connect: () => {
    // An app-owned client with the fail-fast settings the store's documentation asks for.
    const client = new Redis6(LOCAL_URL, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
    });
    client.on('error', () => {});
    // Typed against ioredis 5 here, where both majors are installed; an app has one, and its types.
    return { client: client as unknown as Redis, close: () => client.disconnect() };
  },
});

runThroughAppClient({
  title: 'Redis Cluster of three masters through node-redis',
  name: 'RedisStore (cluster, node-redis)',
  services: cluster,
  inspect: () => new Cluster(cluster.nodes),
  prefix: 'conformance-node-redis-cluster',
  connect: async () => {
    const client = createCluster({
      rootNodes: cluster.nodes.map((node) => ({ url: `redis://${node.host}:${node.port}` })),
      defaults: { disableOfflineQueue: true },
    });
    client.on('error', () => {});
    await client.connect();
    return { client, close: () => client.close() };
  },
});

runThroughAppClient({
  title: 'Redis Cluster of three masters through an ioredis 6 Cluster',
  name: 'RedisStore (cluster, ioredis 6)',
  services: cluster,
  inspect: () => new Cluster(cluster.nodes),
  prefix: 'conformance-ioredis6-cluster',
  connect: () => {
    // An app-owned cluster client with the fail-fast settings the store's documentation asks for.
    const client = new Cluster6(cluster.nodes, {
      enableOfflineQueue: false,
      redisOptions: { maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false },
    });
    client.on('error', () => {});
    // Typed against ioredis 5 here, where both majors are installed; an app has one, and its types.
    return { client: client as unknown as Cluster, close: () => client.disconnect() };
  },
});

import { isSessionError } from '@org/session-core';
import { runAttemptCounterConformance } from '@org/session-core/testing/vitest';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisAttemptCounter } from '../src/index.js';
import {
  assertServices,
  clientKinds,
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

const redis = await localRedis();
const cluster = redisCluster();
const RULE = { freeAttempts: 5, baseDelayMs: 1000, maxDelayMs: 1000, windowMs: 60_000 };

describe.skipIf(skipWithout(redis)).each(clientKinds)('RedisAttemptCounter through %s on a real Redis', (kind) => {
  const prefix = uniquePrefix(`attempts-${kind.replace(/\W/g, '')}`);
  // Two connections, as two instances of an app would hold; an ioredis one of the tests' own reads
  // the keys (the layout is the same whichever client wrote them).
  const opened: OpenedClient[] = [];
  let inspector: Redis;
  beforeAll(async () => {
    assertServices(redis);
    opened.push(await openClient(kind, LOCAL_URL), await openClient(kind, LOCAL_URL));
    inspector = new Redis(LOCAL_URL);
  });
  afterAll(async () => {
    if (inspector) await dropUnder(inspector, prefix);
    inspector?.disconnect();
    for (const client of opened.splice(0)) await client.close();
  });

  let turn = 0;
  runAttemptCounterConformance(`redis (${kind})`, {
    counter: () => new RedisAttemptCounter({ client: (opened[turn++ % 2] as OpenedClient).client, prefix }),
    keyPrefix: 'c',
  });

  it('keeps each key no longer than its window, in one hash under the prefix; runs the script by its SHA', async () => {
    const counter = new RedisAttemptCounter({ client: (opened[0] as OpenedClient).client, prefix });
    // Not cached on the server: the first attempt falls back to EVAL, the next ones use EVALSHA.
    await inspector.script('FLUSH');
    const now = Date.now();
    expect(await counter.attempt('ttl-key', RULE, now)).toEqual({ allowed: true, count: 1, retryAt: null });
    expect(await counter.attempt('ttl-key', RULE, now)).toEqual({ allowed: true, count: 2, retryAt: null });
    const ttl = await inspector.pttl(`${prefix}ttl-key`);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await inspector.hget(`${prefix}ttl-key`, 'count')).toBe('2');
    await counter.reset('ttl-key');
    expect(await inspector.exists(`${prefix}ttl-key`)).toBe(0);
  });
});

describe('RedisAttemptCounter options', () => {
  it('refuses a missing or foreign client with CONFIG_INVALID', () => {
    for (const client of [undefined, {}, { eval: () => undefined, del: () => undefined }]) {
      let error: unknown;
      try {
        new RedisAttemptCounter({ client: client as never });
      } catch (e) {
        error = e;
      }
      expect(isSessionError(error, 'CONFIG_INVALID')).toBe(true);
    }
  });
});

describe.skipIf(skipWithout(cluster)).each(clientKinds)('RedisAttemptCounter through %s on a Redis Cluster', (kind) => {
  const prefix = uniquePrefix(`attempts-cluster-${kind.replace(/\W/g, '')}`);
  let opened: OpenedClient | undefined;
  let inspector: Cluster;
  beforeAll(async () => {
    assertServices(cluster);
    opened = await openClusterClient(kind, cluster.nodes);
    inspector = new Cluster(cluster.nodes);
  });
  afterAll(async () => {
    if (inspector) await dropUnder(inspector, prefix);
    inspector?.disconnect();
    await opened?.close();
  });

  runAttemptCounterConformance(`redis cluster (${kind})`, {
    counter: () => new RedisAttemptCounter({ client: (opened as OpenedClient).client, prefix }),
    keyPrefix: 'c',
  });
});

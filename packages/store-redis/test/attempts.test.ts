import { isSessionError } from '@org/session-core';
import { runAttemptCounterConformance } from '@org/session-core/testing/vitest';
import { createLoginThrottle } from '@org/session-core/throttle';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisAttemptCounter } from '../src/index.js';
import { type RedisServer, startRedisServer } from './servers.js';
import {
  assertServices,
  clientKinds,
  dropUnder,
  LOCAL_URL,
  localRedis,
  type OpenedClient,
  openClient,
  openClusterClient,
  redisBinary,
  redisCluster,
  skipWithout,
  uniquePrefix,
} from './support.js';

const redis = await localRedis();
const cluster = redisCluster();
const binary = redisBinary();
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

describe.skipIf(skipWithout(binary)).each(clientKinds)(
  'RedisAttemptCounter through %s while Redis answers nothing (CLIENT PAUSE 2000 ALL)',
  (kind) => {
    let server: RedisServer;
    let opened: OpenedClient | undefined;
    let admin: Redis;
    const key = new Uint8Array(32).fill(5);

    beforeAll(async () => {
      assertServices(binary);
      server = await startRedisServer();
      opened = await openClient(kind, server.url);
      admin = new Redis(server.url);
    });
    afterAll(async () => {
      await opened?.close();
      admin?.disconnect();
      await server?.destroy();
    });

    it('a login check fails closed with 503 STORE_UNAVAILABLE at the bound instead of waiting for Redis, and counts again after the pause', async () => {
      const client = (opened as OpenedClient).client;
      const prefix = uniquePrefix('attempts-pause');
      // The counter's own bound first, then the throttle's own (a counter left at its default).
      const counted = createLoginThrottle({
        counter: new RedisAttemptCounter({ client, prefix, commandTimeoutMs: 200 }),
        key,
        timeoutMs: 10_000,
      });
      const bounded = createLoginThrottle({
        counter: new RedisAttemptCounter({ client, prefix }),
        key,
        timeoutMs: 150,
      });
      const attempt = { account: 'ada@example.com', ip: '192.0.2.9' };
      await counted.check(attempt);

      await admin.client('PAUSE', 2000, 'ALL');
      const started = performance.now();
      const byCounter = await counted.check(attempt).then(
        () => null,
        (error: unknown) => error,
      );
      const byThrottle = await bounded.check(attempt).then(
        () => null,
        (error: unknown) => error,
      );
      // Both answered before the pause ended (neither waited on the paused server).
      expect(performance.now() - started).toBeLessThan(1900);
      expect(byCounter).toMatchObject({ code: 'STORE_UNAVAILABLE', status: 503, reason: 'throttle_counter' });
      expect(String((byCounter as Error).cause)).toMatch(/no answer from Redis within 200 ms/);
      expect(byThrottle).toMatchObject({ code: 'STORE_UNAVAILABLE', status: 503, reason: 'throttle_counter' });
      expect((byThrottle as Error).message).toMatch(/did not answer in time/);

      // The pause over (the admin's PING waits for it), the same counter answers again. The two
      // attempts that timed out had been sent, and ran when the server resumed: counted once each,
      // which errs on the side of the guessed account.
      await admin.ping();
      await counted.check(attempt);
      const [accountKey] = (await admin.keys(`${prefix}a:*`)) as string[];
      expect(await admin.hget(accountKey as string, 'count')).toBe('4');
    }, 20_000);
  },
);

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

  it('refuses a commandTimeoutMs that is not a positive number with CONFIG_INVALID', () => {
    const client = new Redis({ lazyConnect: true });
    for (const commandTimeoutMs of [0, -5, Number.NaN, Number.POSITIVE_INFINITY, '200' as unknown as number]) {
      expect(() => new RedisAttemptCounter({ client, commandTimeoutMs }), String(commandTimeoutMs)).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID' }),
      );
    }
    client.disconnect();
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

import { runAttemptCounterConformance } from '@org/session-core/testing/vitest';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisAttemptCounter } from '../src/index.js';
import { assertServices, keysUnder, LOCAL_URL, localRedis, skipWithout, uniquePrefix } from './support.js';

const redis = await localRedis();
const prefix = uniquePrefix('attempts');

describe.skipIf(skipWithout(redis))('RedisAttemptCounter on a real Redis', () => {
  // Two connections, as two instances of an app would hold.
  const clients: Redis[] = [];
  beforeAll(() => {
    assertServices(redis);
    clients.push(new Redis(LOCAL_URL, { lazyConnect: false }), new Redis(LOCAL_URL, { lazyConnect: false }));
  });
  afterAll(async () => {
    const first = clients[0];
    if (first) {
      const keys = await keysUnder(first, prefix);
      if (keys.length > 0) await first.del(...keys);
    }
    await Promise.all(clients.map((c) => c.quit()));
  });

  let turn = 0;
  runAttemptCounterConformance('redis', {
    counter: () => new RedisAttemptCounter({ client: clients[turn++ % 2] as Redis, prefix }),
    keyPrefix: 'c',
  });

  it('keeps each key no longer than its window, in one hash under the prefix', async () => {
    const client = clients[0] as Redis;
    const counter = new RedisAttemptCounter({ client, prefix });
    const now = Date.now();
    await counter.attempt('ttl-key', { freeAttempts: 5, baseDelayMs: 1000, maxDelayMs: 1000, windowMs: 60_000 }, now);
    const ttl = await client.pttl(`${prefix}ttl-key`);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await counter.reset('ttl-key');
    expect(await client.exists(`${prefix}ttl-key`)).toBe(0);
    expect(() => new RedisAttemptCounter({ client: {} as never })).toThrow(TypeError);
  });
});

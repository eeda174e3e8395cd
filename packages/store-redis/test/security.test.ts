import { createSessionManager } from '@org/session-core';
import { createJwtKeySet, createSessionJwt, generateSigningKey } from '@org/session-core/jwt';
import { createRefreshTokens } from '@org/session-core/refresh';
import { createTestClock, randomBytes, randomString } from '@org/session-core/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../src/index.js';
import { commandStats, type RedisServer, startRedisServer, statsDelta } from './servers.js';
import {
  assertServices,
  dropUnder,
  dumpUnder,
  LOCAL_URL,
  localRedis,
  redisBinary,
  skipWithout,
  uniquePrefix,
} from './support.js';

const local = await localRedis();
const binary = redisBinary();

// A5 (no secret at rest, in any form, and id + hash is no token) is a conformance case now, run on
// a dump of every key under the store's prefix (dumpRaw in conformance.test.ts). What stays here
// is the Redis side of it: exactly which keys a rotation and a refresh leave behind.
describe.skipIf(skipWithout(local))('what sessions, a rotation and a refresh leave in Redis', () => {
  let store: RedisStore;
  const clock = createTestClock(Date.now());

  beforeAll(() => {
    assertServices(local);
    store = new RedisStore({ url: LOCAL_URL, prefix: uniquePrefix('a5') });
  });
  afterAll(async () => {
    if (!store) return;
    await dropUnder(store.client, store.prefix);
    await store.close();
  });

  it('a hash per live session, the user index, the family and the rotation mark, and nothing else', async () => {
    const sessions = createSessionManager({ store, clock });
    const jwt = createSessionJwt({
      manager: sessions,
      keys: createJwtKeySet({ active: await generateSigningKey('HS256') }),
      issuer: 'https://a5.test',
      audience: 'api',
    });
    const refresh = createRefreshTokens({ jwt, secret: randomBytes(32) });
    const userId = `user-${randomString(9)}`;
    const issued = await Promise.all(
      Array.from({ length: 5 }, (_, i) => sessions.create({ userId, data: { n: i }, metadata: { label: `d${i}` } })),
    );
    const first = issued[0]?.session as { id: string };
    const rotated = await sessions.rotate(first);
    // API mode: a refresh family, rotated once (the store then holds current and previous hashes).
    const pair = await refresh.issue(rotated.session);
    await refresh.refresh(pair.refreshToken);

    const dump = await dumpUnder(store.client, store.prefix);
    const live = [rotated, ...issued.slice(1)].map((i) => store.sessionKey(i.session.id));
    // The mark the rotation leaves for a minute (see rotationMarkKey); hashes dump field by field.
    expect([...dump.keys()].sort()).toEqual(
      [
        ...live,
        store.userIndexKey(userId),
        store.refreshFamilyKey(pair.refreshToken.split('.')[0] as string),
        store.rotationMarkKey(first.id),
      ].sort(),
    );
    for (const key of live) {
      const stored = JSON.parse((await store.client.hget(key, 'record')) ?? 'null') as { secretHash: string };
      expect(stored.secretHash).toMatch(/^[0-9a-f]{64}$/);
    }
  });
});

describe.skipIf(skipWithout(binary))('C4: plain reads send no write command to Redis', () => {
  let server: RedisServer;
  let store: RedisStore;
  let admin: Redis;
  const clock = createTestClock(Date.now());

  beforeAll(async () => {
    assertServices(binary);
    // A private server: INFO commandstats then counts this test's commands and nothing else.
    server = await startRedisServer();
    store = new RedisStore({ url: server.url, prefix: uniquePrefix('c4') });
    admin = new Redis(server.url);
  });
  afterAll(async () => {
    await store?.close();
    admin?.disconnect();
    await server?.destroy();
  });

  it('100 validated reads within the touch interval are 200 HMGETs; the next interval costs one touch', async () => {
    const sessions = createSessionManager({ store, clock });
    const { token } = await sessions.create({ userId: `user-${randomString(9)}` });

    const before = await commandStats(admin);
    for (let i = 0; i < 100; i++) {
      clock.advance(1000);
      expect((await sessions.validateToken(token)).status).toBe('valid');
    }
    const reads = statsDelta(before, await commandStats(admin));
    // Each read: the record and its user's epoch, sent together (one round trip).
    expect(Object.fromEntries(reads)).toEqual({ hmget: 200 });

    // Past the touch interval: one GET plus one touch, a single script (the index already covers
    // the new deadline). Another session's touch first, so the server has cached the script.
    const warm = await sessions.create({ userId: `user-${randomString(9)}` });
    clock.advance(sessions.policy.touchIntervalMs);
    expect((await sessions.validateToken(warm.token)).status).toBe('valid');
    const beforeTouch = await commandStats(admin);
    expect((await sessions.validateToken(token)).status).toBe('valid');
    expect((await sessions.validateToken(token)).status).toBe('valid');
    const touch = statsDelta(beforeTouch, await commandStats(admin));
    // commandstats also counts what the script runs inside: one HMGET of the stored fields
    // (besides the four of the two plain reads), one HSET of the version, deadline, index score
    // and activity (never the record JSON), and its TTL.
    expect(Object.fromEntries(touch)).toEqual({ evalsha: 1, hmget: 5, hset: 1, pexpire: 1 });
  });
});

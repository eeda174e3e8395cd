import { isSessionError, type SessionData, type SessionError } from '@org/session-core';
import { randomString, sessionRecordFixture } from '@org/session-core/testing';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnyRedisClient, RedisAttemptCounter, RedisRevocationChannel, RedisStore } from '../src/index.js';
import { assertServices, dropUnder, LOCAL_URL, localRedis, skipWithout, uniquePrefix } from './support.js';

const local = await localRedis();

describe('client detection', () => {
  it.each([
    ['an empty object', {}],
    ['a pg Pool look-alike', { query: () => undefined, connect: () => undefined }],
    ['a number', 42],
    ['a string', 'redis://127.0.0.1:6379'],
  ])('refuses %s with CONFIG_INVALID', (_label, client) => {
    let error: unknown;
    try {
      new RedisStore({ client: client as never });
    } catch (e) {
      error = e;
    }
    expect(isSessionError(error, 'CONFIG_INVALID')).toBe(true);
    expect((error as SessionError).message).toMatch(/ioredis.*node-redis/);
  });

  it('takes a node-redis client for the revocation channel and the attempt counter, and refuses other objects there too', () => {
    const client = createClient({ url: LOCAL_URL });
    expect(new RedisRevocationChannel({ client }).client).toBe(client);
    expect(new RedisAttemptCounter({ client })).toBeInstanceOf(RedisAttemptCounter);
    for (const make of [
      () => new RedisRevocationChannel({ client: { publish: () => undefined } as never }),
      () => new RedisAttemptCounter({ client: { eval: () => undefined } as never }),
    ]) {
      let error: unknown;
      try {
        make();
      } catch (e) {
        error = e;
      }
      expect(isSessionError(error, 'CONFIG_INVALID')).toBe(true);
      expect((error as SessionError).message).toMatch(/ioredis.*node-redis/);
    }
  });

  it('accepts a node-redis client without connecting it, and fails fast until it is connected', async () => {
    const client = createClient({ url: LOCAL_URL });
    const store = new RedisStore({ client });
    expect(store.client).toBe(client);
    const started = performance.now();
    const error = await store.get('nobody', Date.now()).catch((e: unknown) => e);
    expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
    expect(performance.now() - started).toBeLessThan(100);
  });
});

describe.skipIf(skipWithout(local))('a store used before its first connection is up', () => {
  const prefix = uniquePrefix('first-connection');
  let inspector: Redis;

  beforeAll(() => {
    assertServices(local);
    inspector = new Redis(LOCAL_URL);
  });

  afterAll(async () => {
    if (inspector) await dropUnder(inspector, prefix);
    inspector?.disconnect();
  });

  it('runs scripts sent while connecting once the connection is ready, within the deadline', async () => {
    const store = new RedisStore({ url: LOCAL_URL, prefix });
    try {
      // Nothing awaited yet: the connection the store opened is still being set up.
      expect(store.client.status).toBe('connecting');
      const now = Date.now();
      const record = sessionRecordFixture(now, { userId: `user-${randomString(8)}` });
      await Promise.all([
        store.create(record, now),
        store.setUserEpoch(`other-${randomString(8)}`, { validAfter: now - 1000, keep: null }, now + 60_000, now),
      ]);
      expect(await inspector.hget(store.sessionKey(record.id), 'owner')).toBe(record.userId);
      expect(await inspector.zscore(store.userIndexKey(record.userId), record.id)).not.toBeNull();
      expect(await store.deleteByUser(record.userId)).toBe(1);
      expect(await store.get(record.id, now)).toBeNull();
    } finally {
      await store.close();
    }
  });
});

describe.skipIf(skipWithout(local))('node-redis on one server: scripts and errors', () => {
  let client: ReturnType<typeof createClient>;
  let inspector: Redis;
  let store: RedisStore<SessionData, AnyRedisClient>;
  const prefix = uniquePrefix('node-redis');

  beforeAll(async () => {
    assertServices(local);
    client = createClient({ url: LOCAL_URL, disableOfflineQueue: true });
    client.on('error', () => {});
    await client.connect();
    inspector = new Redis(LOCAL_URL);
    store = new RedisStore({ client, prefix });
  });

  afterAll(async () => {
    if (inspector) await dropUnder(inspector, prefix);
    inspector?.disconnect();
    await client?.close();
  });

  it('writes the same key layout as with ioredis, and falls back to EVAL after SCRIPT FLUSH', async () => {
    const now = Date.now();
    await inspector.script('FLUSH');
    const record = sessionRecordFixture(now, { userId: `user-${randomString(8)}` });
    await store.create(record, now);
    expect(await inspector.hget(store.sessionKey(record.id), 'owner')).toBe(record.userId);
    expect(await inspector.zscore(store.userIndexKey(record.userId), record.id)).not.toBeNull();
    expect((await store.get(record.id, now))?.id).toBe(record.id);
  });

  it('maps a refused command to STORE_UNAVAILABLE (refused) and never reveals the arguments', async () => {
    const id = randomString(16);
    // A string where a hash is expected: the server answers WRONGTYPE.
    await inspector.set(store.sessionKey(id), 'not a hash');
    const error = await store.get(id, Date.now()).catch((e: unknown) => e);
    expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
    expect((error as SessionError & { details?: { reason?: string } }).message).not.toContain(id);
    expect(((error as { cause?: { name?: string } }).cause as { name?: string } | undefined)?.name).toBe('ReplyError');
  });
});

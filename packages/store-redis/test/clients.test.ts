import { createSessionManager, isSessionError, type SessionData, type SessionError } from '@org/session-core';
import { createTestClock, randomString, sessionRecordFixture } from '@org/session-core/testing';
import { Redis } from 'ioredis';
import { Redis as Redis6 } from 'ioredis6';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnyRedisClient, RedisRevocationChannel, RedisStore } from '../src/index.js';
import { type RedisServer, startRedisServer, waitFor } from './servers.js';
import { assertServices, dropUnder, LOCAL_URL, localRedis, redisBinary, skipWithout, uniquePrefix } from './support.js';

const local = await localRedis();
const binary = redisBinary();

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

  it('refuses a node-redis client for the revocation channel with CONFIG_INVALID (it takes ioredis)', () => {
    let error: unknown;
    try {
      new RedisRevocationChannel({ client: createClient({ url: LOCAL_URL }) as never });
    } catch (e) {
      error = e;
    }
    expect(isSessionError(error, 'CONFIG_INVALID')).toBe(true);
    expect((error as SessionError).message).toContain('ioredis');
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

/** An app-owned client of each kind, at its library's defaults (offline queue on, reconnecting). */
type Opened = { client: AnyRedisClient; ready: () => boolean; end: () => void };
const outageClients: [string, (url: string) => Promise<Opened>][] = [
  [
    'node-redis 5',
    async (url) => {
      const client = createClient({ url, socket: { reconnectStrategy: () => 100 } });
      client.on('error', () => {});
      await client.connect();
      return { client, ready: () => client.isReady, end: () => client.destroy() };
    },
  ],
  [
    'ioredis 6',
    async (url) => {
      const client = new Redis6(url, { retryStrategy: () => 100 });
      client.on('error', () => {});
      await new Promise((resolve) => client.once('ready', resolve));
      return {
        // Typed against ioredis 5 here, where both majors are installed; an app has one.
        client: client as unknown as AnyRedisClient,
        ready: () => client.status === 'ready',
        end: () => client.disconnect(),
      };
    },
  ],
];

describe.skipIf(skipWithout(binary)).each(outageClients)(
  '%s: a dedicated redis-server is killed mid-test and started again',
  (label, connect) => {
    let server: RedisServer;
    let opened: Opened;
    let store: RedisStore<SessionData, AnyRedisClient>;
    const clock = createTestClock(Date.now());

    beforeAll(async () => {
      assertServices(binary);
      server = await startRedisServer({ persistent: true });
      opened = await connect(server.url);
      store = new RedisStore({ client: opened.client, prefix: uniquePrefix(`outage-${label.replace(/\W/g, '')}`) });
    });

    afterAll(async () => {
      opened?.end();
      await server?.destroy();
    });

    it('rejects with STORE_UNAVAILABLE at once, fails closed, then recovers with the same store', async () => {
      const sessions = createSessionManager({ store, clock });
      const issued = await sessions.create({ userId: `user-${randomString(9)}` });
      const cookieHeader = `__Host-sid=${issued.token}`;
      expect((await sessions.validateCookie(cookieHeader)).status).toBe('valid');

      await server.kill();
      expect(await waitFor(async () => !opened.ready(), 50, 20)).toBe(true);
      const now = clock.now();
      const operations: [string, () => Promise<unknown>][] = [
        ['get', () => store.get(issued.session.id, now)],
        ['create', () => store.create(sessionRecordFixture(now, { userId: issued.session.userId }), now)],
        ['delete', () => store.delete(issued.session.id)],
        ['listByUser', () => store.listByUser(issued.session.userId, now)],
        ['deleteByUser', () => store.deleteByUser(issued.session.userId)],
        ['getUserEpoch', () => store.getUserEpoch(issued.session.userId, now)],
        ['markOnce', () => store.markOnce(randomString(8), 1000, now)],
      ];
      for (const [name, operation] of operations) {
        const started = performance.now();
        const error = await operation().then(
          () => null,
          (e: unknown) => e,
        );
        expect(isSessionError(error, 'STORE_UNAVAILABLE'), name).toBe(true);
        expect(performance.now() - started, name).toBeLessThan(500);
      }
      const during = await sessions.validateCookie(cookieHeader);
      expect(during.status).toBe('unavailable');
      expect(during.cookies).toEqual([]);

      await server.start();
      const recovered = await waitFor(
        () =>
          store.get(issued.session.id, clock.now()).then(
            () => true,
            () => false,
          ),
        60,
        100,
      );
      expect(recovered).toBe(true);
      expect((await sessions.validateCookie(cookieHeader)).status).toBe('valid');
    });
  },
);

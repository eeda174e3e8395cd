import { createSessionManager, isSessionError, type SessionData, type SessionError } from '@org/session-core';
import { createTestClock, randomString, sessionRecordFixture } from '@org/session-core/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnyRedisClient, RedisStore } from '../src/index.js';
import { rotateInPlace, rotationOutcome } from '../src/scripts.js';
import { commandStats, type RedisServer, startRedisServer, statsDelta, waitFor } from './servers.js';
import { assertServices, clientKinds, failure, openClient, redisBinary, skipWithout, uniquePrefix } from './support.js';

const binary = redisBinary();
const MINUTE = 60_000;

/** Who holds the connection: the store (opened from a URL, fail-fast settings) or the app (each library). */
const holders = ['the store (ioredis 5 from a URL)', ...clientKinds] as const;
type Holder = (typeof holders)[number];

/** A store on `server` through `holder`, whether its client can send now, and how to let go of it. */
async function openStore(
  holder: Holder,
  server: RedisServer,
  label: string,
): Promise<{ store: RedisStore<SessionData, AnyRedisClient>; ready: () => boolean; close: () => Promise<void> }> {
  const prefix = uniquePrefix(label);
  if (holder === 'the store (ioredis 5 from a URL)') {
    const store = new RedisStore({ url: server.url, prefix });
    return { store, ready: () => store.client.status === 'ready', close: () => store.close() };
  }
  // A client the app owns, left at its library's defaults (offline queue on): the store still fails fast.
  const opened = await openClient(holder, server.url);
  const store = new RedisStore({ client: opened.client, prefix });
  return { store, ready: opened.ready, close: opened.close };
}

describe.skipIf(skipWithout(binary)).each(holders)(
  'ST-01: a dedicated redis-server is killed mid-test and started again; client: %s',
  (holder) => {
    let server: RedisServer;
    let store: RedisStore<SessionData, AnyRedisClient>;
    let ready: () => boolean;
    let close: (() => Promise<void>) | undefined;
    const clock = createTestClock(Date.now());

    beforeAll(async () => {
      assertServices(binary);
      // Persistent (fsync on every write), so the restarted server still has the session.
      server = await startRedisServer({ persistent: true });
      ({ store, ready, close } = await openStore(holder, server, 'outage'));
    });

    afterAll(async () => {
      await close?.();
      await server?.destroy();
    });

    it('rejects with STORE_UNAVAILABLE at once, fails closed, then recovers with the same store object', async () => {
      const sessions = createSessionManager({ store, clock });
      const issued = await sessions.create({ userId: `user-${randomString(9)}` });
      const cookieHeader = `__Host-sid=${issued.token}`;
      expect((await sessions.validateCookie(cookieHeader)).status).toBe('valid');

      await server.kill();

      const now = clock.now();
      const record = { ...issued.session, secretHash: 'x'.repeat(64), version: 2 };
      const family = {
        id: randomString(16),
        sessionId: issued.session.id,
        userId: issued.session.userId,
        generation: 1,
        currentHash: 'y'.repeat(64),
        previousHash: null,
        rotatedAt: null,
        createdAt: now,
        lastUsedAt: now,
        idleExpiresAt: now + MINUTE,
        absoluteExpiresAt: now + 60 * MINUTE,
        revokedAt: null,
      };
      const operations: [string, () => Promise<unknown>][] = [
        ['get', () => store.get(issued.session.id, now)],
        ['create', () => store.create({ ...record, id: randomString(16), version: 1 }, now)],
        ['update', () => store.update(record, 1, now)],
        ['rotate', () => store.rotate(issued.session.id, 1, { ...record, id: randomString(16), version: 1 }, now)],
        ['delete', () => store.delete(issued.session.id)],
        ['listByUser', () => store.listByUser(issued.session.userId, now)],
        ['deleteByUser', () => store.deleteByUser(issued.session.userId)],
        ['setUserEpoch', () => store.setUserEpoch(issued.session.userId, { validAfter: now, keep: null }, now, now)],
        ['getUserEpoch', () => store.getUserEpoch(issued.session.userId, now)],
        ['createRefreshFamily', () => store.createRefreshFamily(family, now)],
        ['getRefreshFamily', () => store.getRefreshFamily(family.id, now)],
        ['updateRefreshFamily', () => store.updateRefreshFamily({ ...family, generation: 2 }, 1, now)],
        ['markOnce', () => store.markOnce(randomString(8), 1000, now)],
      ];
      // An app's client (offline queue on) must not queue either once it knows the server is gone.
      expect(await waitFor(async () => !ready(), 50, 20)).toBe(true);
      for (const [name, operation] of operations) {
        const { error, ms } = await failure(operation);
        expect(isSessionError(error, 'STORE_UNAVAILABLE'), name).toBe(true);
        // Connection refused is known at once: no waiting for the 1000 ms timeout, no retries.
        expect(ms, name).toBeLessThan(500);
        expect((error as SessionError).message).not.toContain(issued.token.split('.')[1]);
      }

      // I1: no session during the outage, and the cookie is not deleted (the session may be fine).
      const during = await sessions.validateCookie(cookieHeader);
      expect(during.status).toBe('unavailable');
      expect(during.session).toBeNull();
      expect(during.cookies).toEqual([]);
      expect(isSessionError(during.error, 'STORE_UNAVAILABLE')).toBe(true);
      // ST-06: no login during the outage, hence no cookie.
      const login = await failure(() => sessions.create({ userId: issued.session.userId }));
      expect(isSessionError(login.error, 'STORE_UNAVAILABLE')).toBe(true);

      await server.start();
      // The store reconnects in the background; poll (bounded) until it answers again.
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
      const after = await sessions.validateCookie(cookieHeader);
      expect(after.status).toBe('valid');
      expect(after.session?.id).toBe(issued.session.id);
      const fresh = await sessions.create({ userId: issued.session.userId });
      expect((await sessions.validateToken(fresh.token)).status).toBe('valid');
    });
  },
);

describe.skipIf(skipWithout(binary)).each(holders)('ST-02: CLIENT PAUSE 3000 ALL; client: %s', (holder) => {
  let server: RedisServer;
  let store: RedisStore<SessionData, AnyRedisClient>;
  let close: (() => Promise<void>) | undefined;
  let admin: Redis;
  const clock = createTestClock(Date.now());

  beforeAll(async () => {
    assertServices(binary);
    server = await startRedisServer();
    ({ store, close } = await openStore(holder, server, 'pause'));
    admin = new Redis(server.url);
  });

  afterAll(async () => {
    await close?.();
    admin?.disconnect();
    await server?.destroy();
  });

  it('a call fails after the 1000 ms timeout, is sent once, and the store works once the pause ends', async () => {
    const sessions = createSessionManager({ store, clock });
    const issued = await sessions.create({ userId: `user-${randomString(9)}` });
    const before = await commandStats(admin);

    await admin.client('PAUSE', 3000, 'ALL');
    const { error, ms } = await failure(() => store.get(issued.session.id, clock.now()));
    expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
    expect((error as SessionError).reason).toBe('timeout');
    expect(ms).toBeGreaterThanOrEqual(950);
    expect(ms).toBeLessThan(1300);
    // Through the manager: fail closed within the same bound.
    const started = performance.now();
    const result = await sessions.validateToken(issued.token);
    expect(performance.now() - started).toBeLessThan(1300);
    expect(result.status).toBe('unavailable');
    expect(result.session).toBeNull();

    // INFO waits for the pause to end; by then each paused command has run exactly once.
    const delta = statsDelta(before, await commandStats(admin));
    delta.delete('client|pause');
    // Each read is the record and its user's epoch, sent together.
    expect(Object.fromEntries(delta)).toEqual({ hmget: 4 });
    expect((await sessions.validateToken(issued.token)).status).toBe('valid');
  });
});

describe.skipIf(skipWithout(binary)).each(holders)(
  'item 3: a rotation whose answer is lost (CLIENT PAUSE 1500 ALL); client: %s',
  (holder) => {
    let server: RedisServer;
    let store: RedisStore<SessionData, AnyRedisClient>;
    let close: (() => Promise<void>) | undefined;
    let admin: Redis;
    const clock = createTestClock(Date.now());

    beforeAll(async () => {
      assertServices(binary);
      server = await startRedisServer();
      ({ store, close } = await openStore(holder, server, 'rotate-pause'));
      admin = new Redis(server.url);
      // Cached beforehand, so that each script below is one EVALSHA.
      for (const script of [rotateInPlace, rotationOutcome]) await admin.script('LOAD', script.source);
    });

    afterAll(async () => {
      await close?.();
      admin?.disconnect();
      await server?.destroy();
    });

    it('asks the server after the timeout and answers true when the rotation ran, without a second rotation', async () => {
      const now = clock.now();
      const old = sessionRecordFixture(now);
      await store.create(old, now);
      const next = sessionRecordFixture(now, { userId: old.userId, createdAt: old.createdAt });
      const before = await commandStats(admin);

      // The rotation's answer misses its 1000 ms bound; the question that follows it is answered
      // once the pause ends, after the rotation itself has run (one connection: in order).
      await admin.client('PAUSE', 1500, 'ALL');
      expect(await store.rotate(old.id, 1, next, now)).toBe(true);
      const delta = statsDelta(before, await commandStats(admin));
      expect(delta.get('evalsha')).toBe(2);
      expect(await store.get(old.id, now)).toBeNull();
      expect(await store.get(next.id, now)).toEqual(next);
      expect((await store.listByUser(old.userId, now)).map((r) => r.id)).toEqual([next.id]);
    });
  },
);

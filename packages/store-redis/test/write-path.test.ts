import type { Socket } from 'node:net';
import { createSessionManager, isSessionError, type SessionData, type SessionManager } from '@org/session-core';
import { createTestClock, randomString } from '@org/session-core/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyRedisClient } from '../src/index.js';
import { RedisStore } from '../src/index.js';
import { touchSessionRaisingIndex, updateSessionRaisingIndex } from '../src/scripts.js';
import { type CommandLog, type RedisServer, recordCommands, startRedisServer } from './servers.js';
import { assertServices, type ClientKind, clientKinds, openClient, redisBinary, skipWithout } from './support.js';

const binary = redisBinary();

/** Commands sent by clients (not run inside a script), by name in lower case. */
function sent(log: CommandLog): string[] {
  return log.filter((c) => !c.fromScript).map((c) => (c.args[0] as string).toLowerCase());
}

/** Commands the scripts ran, by name in lower case. */
function inScripts(log: CommandLog): string[] {
  return log.filter((c) => c.fromScript).map((c) => (c.args[0] as string).toLowerCase());
}

/** Whether any command read the session's `record` field (the JSON the scripts must never decode). */
function readsRecordField(log: CommandLog): boolean {
  return log.some((c) => {
    const name = (c.args[0] as string).toLowerCase();
    if (name === 'hgetall') return true;
    return c.fromScript && (name === 'hget' || name === 'hmget') && c.args.slice(2).includes('record');
  });
}

type Data = SessionData & Record<string, unknown>;

// One private server per client library: MONITOR then sees this suite's commands and nothing else.
describe.skipIf(skipWithout(binary)).each(clientKinds)('the write path through %s, counted by MONITOR', (kind) => {
  let server: RedisServer;
  let closeClients: (() => Promise<void>)[] = [];
  const clock = createTestClock(Date.now());

  beforeAll(async () => {
    assertServices(binary);
    server = await startRedisServer();
  });
  afterAll(async () => {
    for (const close of closeClients) await close();
    closeClients = [];
    await server?.destroy();
  });

  /** Runs `use` on a connection of the test's own, closed afterwards. */
  async function inspect<T>(use: (inspector: Redis) => Promise<T>): Promise<T> {
    const inspector = new Redis(server.url);
    try {
      return await use(inspector);
    } finally {
      inspector.disconnect();
    }
  }

  /** One field of a hash, read on a connection of the test's own. */
  const field = (key: string, name: string) => inspect((inspector) => inspector.hget(key, name));

  /** The remaining TTL of a key in ms, read on a connection of the test's own. */
  const pttl = (key: string) => inspect((inspector) => inspector.pttl(key));

  /** A manager on its own connection (an app instance), with the store's scripts cached on the server. */
  async function instance(): Promise<{ sessions: SessionManager<Data>; store: RedisStore<Data, AnyRedisClient> }> {
    const opened = await openClient(kind as ClientKind, server.url);
    closeClients.push(opened.close);
    // What is counted here is commands, not time: a loaded machine (and MONITOR) must not time them out.
    const store = new RedisStore<Data, AnyRedisClient>({
      client: opened.client,
      prefix: 'write:',
      commandTimeoutMs: 10_000,
    });
    const sessions = createSessionManager<Data>({ store, clock });
    // Warm the scripts: a write and a touch, so that every call below is one EVALSHA.
    const warm = await sessions.create({ userId: `warm-${randomString(6)}` });
    const read = await sessions.validateToken(warm.token);
    if (read.status !== 'valid') throw new Error('warm-up session is not valid');
    await sessions.patch(read.session, { warm: true });
    clock.advance(sessions.policy.touchIntervalMs);
    await sessions.validateToken(warm.token);
    // The writes that also raise the index (single server): loaded as a server that ran them holds them.
    await inspect(async (inspector) => {
      for (const script of [touchSessionRaisingIndex, updateSessionRaisingIndex])
        await inspector.script('LOAD', script.source);
    });
    return { sessions, store };
  }

  it('validate then update in one request: the read, then one EVALSHA (no second read), never decoding the record', async () => {
    const { sessions } = await instance();
    const { token } = await sessions.create({ userId: `user-${randomString(9)}`, data: { role: 'member' } });
    // A first validation on this instance teaches the store the session's user (its epoch key).
    await sessions.validateToken(token);

    const log = await recordCommands(server.url, async () => {
      const result = await sessions.validateToken(token);
      if (result.status !== 'valid') throw new Error(`expected a valid session, got ${result.status}`);
      await sessions.update(result.session, { role: 'admin' });
      const patched = await sessions.validateToken(token);
      if (patched.status !== 'valid') throw new Error(`expected a valid session, got ${patched.status}`);
      await sessions.patch(patched.session, { plan: 'pro' });
    });
    // Each request: the record and the user's epoch (sent together: one round trip), then the
    // compare-and-set on the version just read.
    expect(sent(log)).toEqual(['hmget', 'hmget', 'evalsha', 'hmget', 'hmget', 'evalsha']);
    // Inside each script: one HMGET of the stored version, deadline, owner, index score, activity
    // and createdAt (never the record), then one HSET of the version and the record: the deadline
    // did not move, so neither it nor the TTL is written again.
    expect(inScripts(log).sort()).toEqual(['hmget', 'hmget', 'hset', 'hset']);
    const writes = log.filter((c) => c.fromScript && c.args[0]?.toLowerCase() === 'hset');
    expect(writes.map((c) => c.args.filter((_, i) => i >= 2 && i % 2 === 0))).toEqual([
      ['version', 'record'],
      ['version', 'record'],
    ]);
    expect(readsRecordField(log)).toBe(false);
    // After the SHA, the key count and the key: expected version, now, TTL, the score the index must
    // hold, owner, version, createdAt, deadline and the record JSON; no raised score (none was raised).
    const scripts = log.filter((c) => !c.fromScript && c.args[0]?.toLowerCase() === 'evalsha');
    for (const script of scripts) {
      const values = script.args.slice(4);
      expect(values).toHaveLength(9);
      expect(JSON.parse(values.at(-1) as string)).toMatchObject({ version: Number(values[5]) });
    }
    expect((await sessions.validateToken(token)).session?.data).toEqual({ role: 'admin', plan: 'pro' });
  });

  it('after SCRIPT FLUSH, a write and a touch still land: EVALSHA, then the script in full once', async () => {
    const { sessions } = await instance();
    const { token } = await sessions.create({ userId: `user-${randomString(9)}`, data: { role: 'member' } });
    const read = await sessions.validateToken(token);
    if (read.status !== 'valid') throw new Error(`expected a valid session, got ${read.status}`);
    const inspector = new Redis(server.url);
    try {
      await inspector.script('FLUSH');
    } finally {
      inspector.disconnect();
    }
    const log = await recordCommands(server.url, async () => {
      await sessions.patch(read.session, { plan: 'pro' });
      clock.advance(sessions.policy.touchIntervalMs);
      expect((await sessions.validateToken(token)).status).toBe('valid');
    });
    expect(sent(log)).toEqual(['evalsha', 'eval', 'hmget', 'hmget', 'evalsha', 'eval']);
    expect((await sessions.validateToken(token)).session?.data).toEqual({ role: 'member', plan: 'pro' });
  });

  it('after SCRIPT FLUSH, the other scripts land too (a refresh-family update, a log-out everywhere): EVALSHA, then in full once', async () => {
    const { sessions, store } = await instance();
    const userId = `user-${randomString(9)}`;
    const one = await sessions.create({ userId });
    const two = await sessions.create({ userId });
    const now = clock.now();
    const family = {
      id: randomString(16),
      sessionId: one.session.id,
      userId,
      generation: 1,
      currentHash: 'a'.repeat(64),
      previousHash: null,
      rotatedAt: null,
      createdAt: now,
      lastUsedAt: now,
      idleExpiresAt: now + 60_000,
      absoluteExpiresAt: now + 3_600_000,
      revokedAt: null,
    };
    await store.createRefreshFamily(family, now);
    const inspector = new Redis(server.url);
    try {
      await inspector.script('FLUSH');
    } finally {
      inspector.disconnect();
    }
    const rotated = { ...family, generation: 2, currentHash: 'b'.repeat(64), previousHash: family.currentHash };
    const log = await recordCommands(server.url, async () => {
      expect(await store.updateRefreshFamily(rotated, 1, now)).toBe(true);
      await store.setUserEpoch(userId, { validAfter: now, keep: null }, now + 3_600_000, now);
      expect(await store.deleteByUser(userId)).toBe(2);
    });
    expect(sent(log)).toEqual([
      // updateRefreshFamily, then setUserEpoch
      ...['evalsha', 'eval', 'evalsha', 'eval'],
      // deleteByUser: the index hands out both ids, both deletes go out together, then the index is
      // asked again (its script now cached) and hands out none.
      ...['evalsha', 'eval', 'evalsha', 'evalsha', 'eval', 'eval', 'evalsha'],
    ]);
    expect(await store.getRefreshFamily(family.id, now)).toEqual(rotated);
    expect(await store.getUserEpoch(userId, now)).toEqual({ validAfter: now, keep: null });
    for (const { token } of [one, two]) expect((await sessions.validateToken(token)).status).not.toBe('valid');
    expect(await store.listByUser(userId, now)).toEqual([]);
  });

  it('a touch is one EVALSHA that neither carries nor reads the record JSON', async () => {
    const { sessions } = await instance();
    const marker = `marker-${randomString(12)}`;
    const { token } = await sessions.create({ userId: `user-${randomString(9)}`, data: { marker } });
    await sessions.validateToken(token);
    clock.advance(sessions.policy.touchIntervalMs);

    const log = await recordCommands(server.url, async () => {
      expect((await sessions.validateToken(token)).status).toBe('valid');
    });
    expect(sent(log)).toEqual(['hmget', 'hmget', 'evalsha']);
    expect(inScripts(log).sort()).toEqual(['hmget', 'hset', 'pexpire']);
    // Within the index's headroom the index score stays as it was: not written again.
    const written = log.find((c) => c.fromScript && c.args[0]?.toLowerCase() === 'hset');
    expect(written?.args.filter((_, i) => i >= 2 && i % 2 === 0)).toEqual(['version', 'expiresAt', 'activity']);
    // After the SHA, the key count and the key: numbers, the owner and the activity. No JSON, no
    // data, no secret hash.
    const touch = log.find((c) => !c.fromScript && c.args[0]?.toLowerCase() === 'evalsha');
    const values = touch?.args.slice(4) ?? [];
    // No raised score either: the index already covers the new deadline.
    expect(values).toHaveLength(8);
    expect(values.some((a) => a.includes(marker) || a.includes('{') || a.includes('"'))).toBe(false);
    expect(values.join(' ').length).toBeLessThan(200);
    expect(readsRecordField(log)).toBe(false);
    expect((await sessions.validateToken(token)).session?.data).toEqual({ marker });
  });

  /** A stored record just before its idle deadline, and the same moved on by one idle span. */
  async function pastTheIndex(store: RedisStore<Data, AnyRedisClient>, sessions: SessionManager<Data>) {
    const { session } = await sessions.create({ userId: `user-${randomString(9)}`, data: { role: 'member' } });
    const current = await store.get(session.id, clock.now());
    if (current?.idleExpiresAt == null) throw new Error('expected a stored record with an idle deadline');
    const span = current.idleExpiresAt - current.lastSeenAt;
    // Just before the deadline: the new one passes the index's headroom (one idle span).
    const at = current.idleExpiresAt - 1000;
    const moved = { ...current, version: current.version + 1, lastSeenAt: at, idleExpiresAt: at + span };
    return { current, moved, at, before: Number(await field(store.sessionKey(current.id), 'indexedUntil')) };
  }

  /** The user index score of `record`, read on a connection of the test's own. */
  const indexScore = async (store: RedisStore<Data, AnyRedisClient>, record: { id: string; userId: string }) =>
    Number(await inspect((inspector) => inspector.zscore(store.userIndexKey(record.userId), record.id)));

  it('a touch past what the index holds raises the index in the same script (single server): one EVALSHA', async () => {
    const { sessions, store } = await instance();
    const { current, moved, at, before } = await pastTheIndex(store, sessions);
    const key = store.sessionKey(current.id);

    const log = await recordCommands(server.url, async () => {
      expect(await store.touch(moved, current.version, at)).toBe(true);
    });
    expect(sent(log)).toEqual(['evalsha']);
    const touch = log.find((c) => !c.fromScript && c.args[0]?.toLowerCase() === 'evalsha');
    // Two keys, the session's and its user's index, then the touch's eight values, the score to
    // raise the index to, the retention and the id.
    expect(touch?.args.slice(2, 5)).toEqual(['2', key, store.userIndexKey(current.userId)]);
    expect(touch?.args.slice(5)).toHaveLength(11);
    expect(inScripts(log)).toContain('zadd');
    const written = log.filter((c) => c.fromScript && c.args[0]?.toLowerCase() === 'hset').at(-1);
    expect(written?.args.filter((_, i) => i >= 2 && i % 2 === 0)).toEqual([
      'version',
      'expiresAt',
      'activity',
      'indexedUntil',
    ]);
    const raised = Number(await field(key, 'indexedUntil'));
    expect(raised).toBeGreaterThan(before);
    expect(raised).toBeGreaterThanOrEqual(moved.idleExpiresAt);
    expect(await indexScore(store, current)).toBe(raised);
    expect(readsRecordField(log)).toBe(false);
    expect((await store.get(current.id, at))?.idleExpiresAt).toBe(moved.idleExpiresAt);
  });

  it('an update past what the index holds raises it in the same script too, and a refused one raises nothing', async () => {
    const { sessions, store } = await instance();
    const { current, moved, at, before } = await pastTheIndex(store, sessions);
    const changed = { ...moved, data: { role: 'admin' } };

    // A stale version: refused, and the index keeps its score.
    const refused = await recordCommands(server.url, async () => {
      expect(await store.update(changed, current.version - 1, at)).toBe(false);
    });
    expect(sent(refused)).toEqual(['evalsha']);
    expect(inScripts(refused)).not.toContain('zadd');
    expect(await indexScore(store, current)).toBe(before);

    const log = await recordCommands(server.url, async () => {
      expect(await store.update(changed, current.version, at)).toBe(true);
    });
    expect(sent(log)).toEqual(['evalsha']);
    const raised = Number(await field(store.sessionKey(current.id), 'indexedUntil'));
    expect(raised).toBeGreaterThanOrEqual(moved.idleExpiresAt);
    expect(await indexScore(store, current)).toBe(raised);
    expect((await store.get(current.id, at))?.data).toEqual({ role: 'admin' });
  });

  it('a write that must raise a damaged index fails closed and leaves the record as it was', async () => {
    const { sessions, store } = await instance();
    const { current, moved, at } = await pastTheIndex(store, sessions);
    const indexKey = store.userIndexKey(current.userId);
    const inspector = new Redis(server.url);
    try {
      // A string where the sorted set should be: every index command is refused (WRONGTYPE).
      await inspector.del(indexKey);
      await inspector.set(indexKey, 'not an index', 'PX', 60_000);
      for (const write of [
        () => store.touch(moved, current.version, at),
        () => store.update(moved, current.version, at),
      ]) {
        const error = await write().catch((e: unknown) => e);
        expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
      }
      // The index is raised before anything else is written: nothing moved.
      expect(await store.get(current.id, at)).toEqual(current);
      expect(await field(store.sessionKey(current.id), 'activity')).toBeNull();
    } finally {
      await inspector.del(indexKey);
      inspector.disconnect();
    }
  });

  it('a store that has not seen the session learns from the first script that the index must rise: two EVALSHAs', async () => {
    const { sessions, store } = await instance();
    const { current, moved, at } = await pastTheIndex(store, sessions);
    // Another app instance, which never read this session: it cannot know what the index holds.
    const { store: other } = await instance();

    const log = await recordCommands(server.url, async () => {
      expect(await other.touch(moved, current.version, at)).toBe(true);
    });
    expect(sent(log)).toEqual(['evalsha', 'evalsha']);
    const raised = Number(await field(store.sessionKey(current.id), 'indexedUntil'));
    expect(raised).toBeGreaterThanOrEqual(moved.idleExpiresAt);
    expect(await indexScore(store, current)).toBe(raised);
  });

  it('an update that moves the deadline writes it, and the TTL for it, in the same script', async () => {
    const { sessions, store } = await instance();
    const { token } = await sessions.create({ userId: `user-${randomString(9)}`, data: { role: 'member' } });
    const read = await sessions.validateToken(token);
    if (read.status !== 'valid') throw new Error(`expected a valid session, got ${read.status}`);
    const current = await store.get(read.session.id, clock.now());
    if (current?.idleExpiresAt == null) throw new Error('expected a stored record with an idle deadline');
    const key = store.sessionKey(current.id);
    const ttlBefore = await pttl(key);
    const moved = { ...current, version: current.version + 1, idleExpiresAt: current.idleExpiresAt + 60_000 };

    const log = await recordCommands(server.url, async () => {
      expect(await store.update(moved, current.version, clock.now())).toBe(true);
    });
    expect(sent(log)).toEqual(['evalsha']);
    expect(inScripts(log).sort()).toEqual(['hmget', 'hset', 'pexpire']);
    expect(await field(key, 'expiresAt')).toBe(String(moved.idleExpiresAt));
    // A minute later, give or take the real time the test took.
    expect((await pttl(key)) - ttlBefore).toBeGreaterThan(50_000);
    expect((await store.get(current.id, clock.now()))?.idleExpiresAt).toBe(moved.idleExpiresAt);
  });

  it('an update after a touch drops the activity the touch left, in the same script, and keeps the touched deadline', async () => {
    const { sessions, store } = await instance();
    const { token } = await sessions.create({ userId: `user-${randomString(9)}`, data: { role: 'member' } });
    await sessions.validateToken(token);
    clock.advance(sessions.policy.touchIntervalMs);
    const touched = await sessions.validateToken(token);
    if (touched.status !== 'valid') throw new Error(`expected a valid session, got ${touched.status}`);
    expect(await field(store.sessionKey(touched.session.id), 'activity')).not.toBeNull();

    const key = store.sessionKey(touched.session.id);
    const ttlBefore = await pttl(key);
    const log = await recordCommands(server.url, async () => {
      await sessions.patch(touched.session, { plan: 'pro' });
    });
    const ttlAfter = await pttl(key);
    expect(sent(log)).toEqual(['evalsha']);
    // The patch keeps the touched deadline: no PEXPIRE, and the key keeps the TTL the touch gave it
    // (only real time passed: Redis holds a TTL as an absolute time).
    expect(inScripts(log).sort()).toEqual(['hdel', 'hmget', 'hset']);
    expect(readsRecordField(log)).toBe(false);
    expect(ttlAfter).toBeGreaterThan(0);
    expect(ttlAfter).toBeLessThanOrEqual(ttlBefore);
    expect(ttlBefore - ttlAfter).toBeLessThan(10_000);
    expect(await field(store.sessionKey(touched.session.id), 'activity')).toBeNull();
    const after = await sessions.validateToken(token);
    expect(after.session).toMatchObject({
      version: touched.session.version + 1,
      idleExpiresAt: touched.session.idleExpiresAt,
      data: { role: 'member', plan: 'pro' },
    });
  });

  it('10 concurrent writers on one session: none fails, every write kept, at most 1.5 round trips per write', async () => {
    const { sessions } = await instance();
    const { token } = await sessions.create({ userId: `user-${randomString(9)}`, data: { role: 'member' } });
    const reads = await Promise.all(Array.from({ length: 10 }, () => sessions.validateToken(token)));

    const log = await recordCommands(server.url, async () => {
      const writes = await Promise.allSettled(
        reads.map((result, i) => {
          if (result.status !== 'valid') throw new Error(`expected a valid session, got ${result.status}`);
          return i % 2 === 0
            ? sessions.patch(result.session, { [`k${i}`]: i })
            : sessions.update(result.session, (data) => ({ ...data, [`k${i}`]: i }));
        }),
      );
      expect(writes.filter((w) => w.status === 'rejected')).toEqual([]);
    });
    // Every command a client sent is one store call of a write (a CAS, or a read after a lost one).
    console.info(`[store-redis] ${kind}: 10 writers in one instance sent ${sent(log).join(', ')}`);
    expect(sent(log).length / 10).toBeLessThanOrEqual(1.5);
    expect(readsRecordField(log)).toBe(false);
    const expected = { role: 'member', ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, i])) };
    expect((await sessions.validateToken(token)).session?.data).toEqual(expected);
  });

  it('10 concurrent writers from two app instances (two connections): none fails, every write kept', async () => {
    const [one, two] = [await instance(), await instance()];
    const { token } = await one.sessions.create({ userId: `user-${randomString(9)}`, data: { role: 'member' } });
    const owner = (i: number) => (i % 2 === 0 ? one : two).sessions;
    const reads = await Promise.all(Array.from({ length: 10 }, (_, i) => owner(i).validateToken(token)));

    const log = await recordCommands(server.url, async () => {
      const writes = await Promise.allSettled(
        reads.map((result, i) => {
          if (result.status !== 'valid') throw new Error(`expected a valid session, got ${result.status}`);
          return owner(i).patch(result.session, { [`k${i}`]: i });
        }),
      );
      expect(writes.filter((w) => w.status === 'rejected')).toEqual([]);
    });
    // Each instance combines its own writers into one CAS; the loser of the race between the two
    // reads the record again (two commands, one round trip) and retries once.
    console.info(`[store-redis] ${kind}: 10 writers in two instances sent ${sent(log).join(', ')}`);
    expect(sent(log).length / 10).toBeLessThanOrEqual(1.5);
    const expected = { role: 'member', ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, i])) };
    expect((await one.sessions.validateToken(token)).session?.data).toEqual(expected);
  });
});

// node-redis writes the commands of one tick together by itself; ioredis writes each on its own.
describe.skipIf(skipWithout(binary)).each(['ioredis 5', 'ioredis 6'] as const)('a read through %s', (kind) => {
  let server: RedisServer;
  const clock = createTestClock(Date.now());

  beforeAll(async () => {
    assertServices(binary);
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('sends the record and the epoch HMGETs in one write to the socket (one system call, not two)', async () => {
    const opened = await openClient(kind, server.url);
    try {
      const store = new RedisStore<Data, AnyRedisClient>({ client: opened.client, prefix: 'read:' });
      const sessions = createSessionManager<Data>({ store, clock });
      const { token } = await sessions.create({ userId: `user-${randomString(9)}` });
      // The first read teaches the store the session's user; the next ones read both at once.
      expect((await sessions.validateToken(token)).status).toBe('valid');
      // Node hands a socket's writes to the kernel through _write (one chunk) or _writev (corked chunks).
      const socket = (opened.client as unknown as { stream: Socket & Record<string, unknown> }).stream;
      const writes: number[] = [];
      for (const method of ['_write', '_writev'] as const) {
        const original = socket[method] as (...args: unknown[]) => void;
        socket[method] = function (this: Socket, ...args: unknown[]) {
          writes.push(method === '_writev' ? (args[0] as unknown[]).length : 1);
          return original.apply(this, args);
        };
      }
      const log = await recordCommands(server.url, async () => {
        for (let i = 0; i < 10; i++) expect((await sessions.validateToken(token)).status).toBe('valid');
      });
      expect(sent(log)).toEqual(Array.from({ length: 20 }, () => 'hmget'));
      // One write per read, carrying both commands.
      expect(writes).toEqual(Array.from({ length: 10 }, () => 2));
    } finally {
      await opened.close();
    }
  });
});

import {
  base64urlDecode,
  base64urlEncode,
  fromHex,
  generateSigningKey,
  JwtKeySet,
  RefreshTokens,
  randomBytes,
  randomString,
  SessionJwt,
  SessionManager,
  toHex,
} from '@org/session-core';
import { createTestClock } from '@org/session-core/testing';
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

/** Every 8-character window of `secret`: none may appear anywhere in a dump. */
function windows(secret: string, size = 8): string[] {
  return Array.from({ length: secret.length - size + 1 }, (_, i) => secret.slice(i, i + size));
}

describe.skipIf(skipWithout(local))('A5: a raw dump of Redis holds no secret', () => {
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

  it('no substring of any session or refresh secret, in any encoding, and id + hash is no token', async () => {
    const sessions = new SessionManager({ store, clock });
    const jwt = new SessionJwt({
      manager: sessions,
      keys: new JwtKeySet({ active: await generateSigningKey('HS256') }),
      issuer: 'https://a5.test',
      audience: 'api',
    });
    const refresh = new RefreshTokens({ jwt, secret: randomBytes(32) });
    const userId = `user-${randomString(9)}`;
    const issued = await Promise.all(
      Array.from({ length: 5 }, (_, i) => sessions.create({ userId, data: { n: i }, metadata: { label: `d${i}` } })),
    );
    const rotated = await sessions.rotate(issued[0]?.session as { id: string });
    // API mode: a refresh family, rotated once (the store then holds current and previous hashes).
    const pair = await refresh.issue(rotated.session);
    const next = await refresh.refresh(pair.refreshToken);
    const refreshSecrets = [pair.refreshToken, next.refreshToken].map((t) => t.split('.')[1] as string);

    const dump = await dumpUnder(store.client, store.prefix);
    // Five sessions (one rotated away), one user index, one refresh family, and the mark the
    // rotation leaves for a minute (hashes are dumped field by field, the record JSON included).
    expect(dump.size).toBe(8);
    expect(dump.has(store.rotationMarkKey(issued[0]?.session.id as string))).toBe(true);
    const everything = [...dump].map(([key, value]) => `${key}\n${value}`).join('\n');
    const secrets = [...issued, rotated].map((s) => s.token.split('.')[1] as string).concat(refreshSecrets);
    for (const jwtToken of [pair.accessToken, next.accessToken]) expect(everything).not.toContain(jwtToken);
    for (const secret of secrets) {
      for (const piece of windows(secret)) expect(everything).not.toContain(piece);
      const bytes = base64urlDecode(secret);
      expect(bytes).not.toBeNull();
      expect(everything.toLowerCase()).not.toContain(toHex(bytes as Uint8Array));
    }

    // Replaying what the dump does hold (id + hash, raw or re-encoded to the token alphabet) fails.
    const live = [rotated, ...issued.slice(1)];
    for (const { session } of live) {
      expect(dump.get(store.sessionKey(session.id))).toContain(session.id);
      const json = await store.client.hget(store.sessionKey(session.id), 'record');
      const stored = JSON.parse(json ?? 'null') as { secretHash: string };
      expect(stored.secretHash).toMatch(/^[0-9a-f]{64}$/);
      for (const forged of [
        `${session.id}.${stored.secretHash}`,
        `${session.id}.${base64urlEncode(fromHex(stored.secretHash) as Uint8Array)}`,
      ]) {
        const result = await sessions.validateToken(forged);
        expect(result.session).toBeNull();
        expect(['malformed', 'invalid']).toContain(result.status);
        expect((await sessions.validateCookie(`__Host-sid=${forged}`)).session).toBeNull();
      }
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
    const sessions = new SessionManager({ store, clock });
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
    // the new deadline). Another session's update first, so the server has cached the script.
    const warm = await sessions.create({ userId: `user-${randomString(9)}` });
    await sessions.extend(warm.session);
    clock.advance(sessions.policy.touchIntervalMs);
    const beforeTouch = await commandStats(admin);
    expect((await sessions.validateToken(token)).status).toBe('valid');
    expect((await sessions.validateToken(token)).status).toBe('valid');
    const touch = statsDelta(beforeTouch, await commandStats(admin));
    // commandstats also counts what the script runs inside: one HMGET of the stored fields
    // (besides the four of the two plain reads), one HSET of the record and its TTL.
    expect(Object.fromEntries(touch)).toEqual({ evalsha: 1, hmget: 5, hset: 1, pexpire: 1 });
  });
});

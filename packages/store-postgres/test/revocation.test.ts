import { createSessionManager, decodeRevocationNotice, isSessionError, type RevocationEvent } from '@org/session-core';
import {
  createJwtKeySet,
  createJwtVerifier,
  createRevocationList,
  createSessionJwt,
  generateSigningKey,
} from '@org/session-core/jwt';
import { randomString } from '@org/session-core/testing';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PostgresRevocationChannel, PostgresStore } from '../src/index.js';
import { adminPool, closedPort, dropSchema, freshSchema, PG_URL, postgresAvailable } from './helpers.js';

const available = await postgresAvailable();
const ISSUER = 'https://auth.test';

async function until(check: () => boolean | Promise<boolean>, limitMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    if (await check()) return performance.now() - started;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`condition not met within ${limitMs} ms`);
}

async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'accepted';
  } catch (error) {
    if (isSessionError(error)) return error.code;
    throw error;
  }
}

describe.skipIf(!available)('PostgreSQL revocation channel (LISTEN/NOTIFY)', () => {
  const schema = freshSchema('revocation');
  // Unique per run: parallel test files never hear each other's notices.
  const channelName = `revocations_${randomString(8)
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '_')}`;
  const applicationName = `revocation-test-${randomString(6)}`;
  let admin: pg.Pool;
  let store: PostgresStore;
  const closers: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    admin = adminPool();
    store = new PostgresStore({ connectionString: PG_URL, schema });
    await store.migrate();
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });
  afterAll(async () => {
    if (!admin) return;
    await store?.close();
    await dropSchema(admin, schema);
    await admin.end();
  });

  async function setup(options: { ttlSeconds?: number; reconnectDelayMs?: number } = {}) {
    const publisher = new PostgresRevocationChannel({ connectionString: PG_URL, channel: channelName });
    const manager = createSessionManager({ store, revocation: { channel: publisher } });
    const keys = createJwtKeySet({ active: await generateSigningKey() });
    const ttlSeconds = options.ttlSeconds ?? 300;
    const jwts = createSessionJwt({
      manager,
      keys,
      issuer: ISSUER,
      audience: 'api',
      ttlSeconds,
      clockToleranceSeconds: 0,
    });
    const events: RevocationEvent[] = [];
    const listener = new PostgresRevocationChannel({
      connectionString: PG_URL,
      channel: channelName,
      clientConfig: { application_name: applicationName },
      reconnectDelayMs: options.reconnectDelayMs,
    });
    const list = createRevocationList({ channel: listener, retainSeconds: ttlSeconds, onEvent: (e) => events.push(e) });
    closers.push(
      () => publisher.close(),
      () => list.close(),
      () => listener.close(),
    );
    await list.ready();
    const verifier = createJwtVerifier({
      keys: createJwtKeySet({ verifyOnly: [keys.active] }),
      issuer: ISSUER,
      audience: 'api',
      maxTokenAgeSeconds: ttlSeconds,
      clockToleranceSeconds: 0,
      revocations: list,
    });
    return { manager, jwts, verifier, list, events };
  }

  it('revoke and revokeAll send a NOTIFY in the wire form', async () => {
    const { manager } = await setup();
    const raw = new pg.Client({ connectionString: PG_URL });
    await raw.connect();
    closers.push(() => raw.end());
    const received: string[] = [];
    raw.on('notification', (message) => received.push(message.payload ?? ''));
    await raw.query(`LISTEN "${channelName}"`);
    const { session } = await manager.create({ userId: `u-${randomString(6)}` });
    await manager.revoke(session.id);
    await until(() => received.length === 1, 1000);
    expect(decodeRevocationNotice(received[0])).toMatchObject({ kind: 'session', sid: session.id });
    await manager.revokeAll(session.userId);
    await until(() => received.length === 2, 1000);
    expect(decodeRevocationNotice(received[1])).toMatchObject({ kind: 'user', sub: session.userId });
  });

  it('a subscribed verifier refuses a revoked session within one second (measured)', async () => {
    const { manager, jwts, verifier } = await setup();
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const { session } = await manager.create({ userId: `u-${randomString(6)}` });
      const { token } = await jwts.issue(session);
      expect(await outcome(verifier.verify(token))).toBe('accepted');
      const revokedAt = performance.now();
      await manager.revoke(session.id);
      await until(async () => (await outcome(verifier.verify(token))) === 'JWT_REVOKED', 1000);
      delays.push(performance.now() - revokedAt);
    }
    console.info(
      `[store-postgres] revocation reached the verifier in ${delays.map((d) => d.toFixed(1)).join(', ')} ms`,
    );
    expect(Math.max(...delays)).toBeLessThan(1000);
  });

  it('a terminated listener backend: down event, TTL fallback without failing requests, reconnect, up event', async () => {
    const { manager, jwts, verifier, list, events } = await setup({ ttlSeconds: 2, reconnectDelayMs: 1500 });
    const { session } = await manager.create({ userId: `u-${randomString(6)}` });
    const { token, expiresAt } = await jwts.issue(session);
    const killed = await admin.query(
      'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1',
      [applicationName],
    );
    expect(killed.rows).toEqual([{ ok: true }]);
    await until(() => list.status === 'down', 1000);
    expect(events.map((e) => e.type)).toEqual(['revocation.channel.up', 'revocation.channel.down']);

    await manager.revoke(session.id);
    expect(await outcome(verifier.verify(token))).toBe('accepted');
    await until(() => list.status === 'up', 3000);
    expect(events.map((e) => e.type)).toEqual([
      'revocation.channel.up',
      'revocation.channel.down',
      'revocation.channel.up',
    ]);
    await until(() => Date.now() >= expiresAt + 1, 3000);
    expect(await outcome(verifier.verify(token))).toBe('JWT_EXPIRED');

    const next = await manager.create({ userId: `u-${randomString(6)}` });
    const nextJwt = await jwts.issue(next.session);
    expect(await outcome(verifier.verify(nextJwt.token))).toBe('accepted');
    await manager.revoke(next.session.id);
    await until(async () => (await outcome(verifier.verify(nextJwt.token))) === 'JWT_REVOKED', 1000);
  });

  it('a publisher that cannot reach PostgreSQL: the revocation stands, publish_failed is reported', async () => {
    const events: RevocationEvent[] = [];
    const dead = new PostgresRevocationChannel({
      connectionString: `postgres://postgres@127.0.0.1:${await closedPort()}/test`,
      channel: channelName,
    });
    closers.push(() => dead.close());
    const manager = createSessionManager({ store, revocation: { channel: dead, onEvent: (e) => events.push(e) } });
    const { session } = await manager.create({ userId: `u-${randomString(6)}` });
    expect(await manager.revoke(session.id)).toBe(true);
    expect(events).toEqual([expect.objectContaining({ type: 'revocation.publish_failed', kind: 'session' })]);
  });

  it('refuses bad options with CONFIG_INVALID', () => {
    const bad = [
      {},
      { connectionString: PG_URL, channel: 'Bad-Name' },
      { connectionString: PG_URL, channel: 'x'.repeat(64) },
      { connectionString: PG_URL, timeoutMs: 0 },
    ];
    for (const options of bad) {
      expect(() => new PostgresRevocationChannel(options as never)).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID' }),
      );
    }
  });
});

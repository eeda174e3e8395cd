import { createSessionManager, decodeRevocationNotice, type RevocationEvent } from '@org/session-core';
import { randomString } from '@org/session-core/testing';
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PostgresRevocationChannel, PostgresStore } from '../src/index.js';
import { adminPool, closedPort, dropSchema, freshSchema, PG_URL, postgresAvailable } from './helpers.js';
import { outcome, revocationRig, until } from './revocation-support.js';

const available = await postgresAvailable();

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

  /** A publisher and a listener on this run's channel; the listener is known by its application name. */
  function setup(options: { ttlSeconds?: number; reconnectDelayMs?: number; publisherClient?: postgres.Sql } = {}) {
    const publisher = new PostgresRevocationChannel({
      connectionString: PG_URL,
      channel: channelName,
      pool: options.publisherClient,
    });
    const listener = new PostgresRevocationChannel({
      connectionString: PG_URL,
      channel: channelName,
      clientConfig: { application_name: applicationName },
      reconnectDelayMs: options.reconnectDelayMs,
    });
    return revocationRig({ store, publisher, listener, ttlSeconds: options.ttlSeconds, closers });
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

  it('publishes through a postgres (porsager) client as well as a pg Pool', async () => {
    const sql = postgres(PG_URL, { max: 2, onnotice: () => {} });
    closers.push(() => sql.end({ timeout: 5 }));
    const { manager, jwts, verifier } = await setup({ publisherClient: sql });
    const { session } = await manager.create({ userId: `u-${randomString(6)}` });
    const { token } = await jwts.issue(session);
    expect(await outcome(verifier.verify(token))).toBe('accepted');
    await manager.revoke(session.id);
    await until(async () => (await outcome(verifier.verify(token))) === 'JWT_REVOKED', 1000);
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

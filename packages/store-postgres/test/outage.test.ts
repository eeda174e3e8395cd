import { randomBytes } from 'node:crypto';
import { createSessionManager, isSessionError } from '@org/session-core';
import { createTestClock, randomString } from '@org/session-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../src/index.js';
import {
  adminPool,
  blackhole,
  closedPort,
  dropSchema,
  freshSchema,
  PG_URL,
  postgresAvailable,
  TcpRelay,
} from './helpers.js';

const available = await postgresAvailable();
const schema = freshSchema('outage');
const target = new URL(PG_URL);

/** A connection string to the test database through another loopback port. */
function viaPort(port: number): string {
  const url = new URL(PG_URL);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return url.toString();
}

async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown; ms: number }> {
  const started = performance.now();
  try {
    const value = await promise;
    return { value, ms: performance.now() - started };
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
}

describe.skipIf(!available)('PostgresStore outages (ST-03, I1, I2)', () => {
  const admin = adminPool();
  const clock = createTestClock();

  beforeAll(async () => {
    await new PostgresStore({ pool: admin, schema }).migrate();
  });
  afterAll(async () => {
    await dropSchema(admin, schema);
    await admin.end();
  });

  it('ST-03: terminated pool connections fail the next call with STORE_UNAVAILABLE at worst, then recover', async () => {
    const applicationName = `st03_${randomBytes(4).toString('hex')}`;
    const store = new PostgresStore({
      connectionString: PG_URL,
      schema,
      poolConfig: { application_name: applicationName, max: 3 },
    });
    const sessions = createSessionManager({ store, clock });
    try {
      const issued = await sessions.create({ userId: `user-${randomString(9)}` });
      // Open every pool connection, so each of them is cut.
      await Promise.all(Array.from({ length: 6 }, () => sessions.validateToken(issued.token)));
      const { rows } = await admin.query<{ terminated: boolean }>(
        'SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE application_name = $1',
        [applicationName],
      );
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((r) => r.terminated)).toBe(true);

      // Each call either fails closed with our code or succeeds on a fresh connection; never a raw
      // driver error. At most one failure per cut connection (bounded), then it recovers.
      let recovered = false;
      for (let attempt = 0; attempt <= 3 && !recovered; attempt++) {
        const outcome = await settle(store.get(issued.session.id, clock.now()));
        if (outcome.error) expect(isSessionError(outcome.error, 'STORE_UNAVAILABLE')).toBe(true);
        else recovered = outcome.value?.id === issued.session.id;
      }
      expect(recovered).toBe(true);
      for (let i = 0; i < 10; i++) expect((await sessions.validateToken(issued.token)).status).toBe('valid');
    } finally {
      await store.close();
    }
  });

  it('a stopped server (closed port) fails within about a second with STORE_UNAVAILABLE; the manager fails closed', async () => {
    const store = new PostgresStore({ connectionString: viaPort(await closedPort()), schema });
    const sessions = createSessionManager({ store, clock });
    try {
      const outcome = await settle(store.get(randomString(16), clock.now()));
      expect(isSessionError(outcome.error, 'STORE_UNAVAILABLE')).toBe(true);
      expect((outcome.error as { reason?: string }).reason).toBe('connection');
      expect(outcome.ms).toBeLessThan(1500);

      const result = await sessions.validateCookie(`__Host-sid=${randomString(16)}.${randomString(32)}`);
      expect(result.status).toBe('unavailable');
      expect(result.session).toBeNull();
      expect(result.cookies).toEqual([]); // I1: the cookie is not deleted during an outage
      const login = await settle(sessions.create({ userId: 'someone' }));
      expect(isSessionError(login.error, 'STORE_UNAVAILABLE')).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('a server that accepts but never answers fails after the 1000 ms connect timeout, without retrying', async () => {
    const frozen = await blackhole();
    const store = new PostgresStore({ connectionString: viaPort(frozen.port), schema });
    try {
      const outcome = await settle(store.get(randomString(16), clock.now()));
      expect(isSessionError(outcome.error, 'STORE_UNAVAILABLE')).toBe(true);
      expect(outcome.ms).toBeGreaterThanOrEqual(900);
      expect(outcome.ms).toBeLessThan(2500);
      expect(frozen.accepted()).toBe(1); // one attempt: no retry on the request path
    } finally {
      await store.close();
      await frozen.close();
    }
  });

  it('a statement stuck behind a lock is cancelled by the 1000 ms statement timeout; the pool stays usable', async () => {
    const store = new PostgresStore({ connectionString: PG_URL, schema });
    const sessions = createSessionManager({ store, clock, storeTimeoutMs: 5000 });
    const holder = await admin.connect();
    try {
      const issued = await sessions.create({ userId: `user-${randomString(9)}` });
      await holder.query('BEGIN');
      await holder.query(`LOCK TABLE "${schema}".session_store_sessions IN ACCESS EXCLUSIVE MODE`);
      const outcome = await settle(store.get(issued.session.id, clock.now()));
      expect(isSessionError(outcome.error, 'STORE_UNAVAILABLE')).toBe(true);
      expect((outcome.error as { reason?: string }).reason).toBe('timeout');
      expect(outcome.ms).toBeGreaterThanOrEqual(900);
      expect(outcome.ms).toBeLessThan(2500);
      await holder.query('ROLLBACK');
      expect((await sessions.validateToken(issued.token)).status).toBe('valid');
    } finally {
      holder.release();
      await store.close();
    }
  });

  it('reconnects by itself when the server comes back, with no new store and no app restart', async () => {
    const relay = new TcpRelay(target.hostname, Number(target.port || 5432));
    await relay.start();
    const store = new PostgresStore({ connectionString: viaPort(relay.port), schema });
    const sessions = createSessionManager({ store, clock });
    try {
      const issued = await sessions.create({ userId: `user-${randomString(9)}` });
      expect((await sessions.validateToken(issued.token)).status).toBe('valid');

      await relay.stop();
      for (let i = 0; i < 3; i++) {
        const outcome = await settle(store.get(issued.session.id, clock.now()));
        expect(isSessionError(outcome.error, 'STORE_UNAVAILABLE')).toBe(true);
        expect(outcome.ms).toBeLessThan(1500);
      }
      expect((await sessions.validateToken(issued.token)).status).toBe('unavailable');

      await relay.start();
      expect((await sessions.validateToken(issued.token)).status).toBe('valid');
      expect((await store.get(issued.session.id, clock.now()))?.id).toBe(issued.session.id);
    } finally {
      await store.close();
      await relay.stop();
    }
  });
});

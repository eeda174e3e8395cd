/**
 * The manager's read path on a store with a synchronous read (`getSync`, offered by MemoryStore):
 * the same decisions as through the asynchronous `get` that the instrumented tests exercise.
 */
import { describe, expect, it } from 'vitest';
import {
  isSessionError,
  MemoryStore,
  rejectUserAgentChange,
  SessionError,
  type SessionEvent,
  type SessionManagerOptions,
} from '../src/index.js';
import { SessionManager } from '../src/manager.js';
import { createTestClock } from '../src/testing/index.js';
import { generateSessionToken } from '../src/token.js';
import { DAY, MINUTE } from './helpers/setup.js';

function syncSetup(options: Partial<SessionManagerOptions> = {}) {
  const clock = createTestClock();
  const store = new MemoryStore();
  const events: SessionEvent[] = [];
  const sessions = new SessionManager({ store, clock, onEvent: (e) => events.push(e), ...options });
  return { clock, store, events, sessions };
}

describe('validation through MemoryStore.getSync', () => {
  it('MemoryStore offers getSync with the same answers as get', async () => {
    const { store, sessions, clock } = syncSetup();
    const issued = await sessions.create({ userId: 'u1' });
    expect(store.getSync(issued.session.id, clock.now())).toEqual(await store.get(issued.session.id, clock.now()));
    expect(store.getSync('AAAAAAAAAAAAAAAAAAAAAA', clock.now())).toBeNull();
    expect(store.getSync(issued.session.id, clock.now() + 30 * MINUTE)).toBeNull();
  });

  it('reads synchronously: get is never called for a plain validation', async () => {
    const { store, sessions } = syncSetup();
    const issued = await sessions.create({ userId: 'u1' });
    let asyncReads = 0;
    const realGet = store.get.bind(store);
    store.get = (id, now) => {
      asyncReads++;
      return realGet(id, now);
    };
    expect((await sessions.validateCookie(issued.cookies[0]?.split(';')[0])).status).toBe('valid');
    expect((await sessions.validateToken(issued.token)).status).toBe('valid');
    expect(asyncReads).toBe(0);
  });

  it('gives the same statuses as the asynchronous path: valid, malformed, invalid, expired, rejected', async () => {
    const { sessions, clock, events } = syncSetup({ binding: rejectUserAgentChange });
    const a = await sessions.create({ userId: 'u1', metadata: { userAgent: 'A' } });
    const b = await sessions.create({ userId: 'u2', metadata: { userAgent: 'A' } });
    expect((await sessions.validateToken(a.token, { userAgent: 'A' })).status).toBe('valid');
    expect((await sessions.validateToken('junk')).status).toBe('malformed');
    expect((await sessions.validateToken(generateSessionToken().token)).status).toBe('invalid');
    expect((await sessions.validateToken(`${a.session.id}.${generateSessionToken().secret}`)).status).toBe('invalid');
    const rejected = await sessions.validateCookie(`__Host-sid=${b.token}`, { userAgent: 'B' });
    expect(rejected.status).toBe('rejected');
    expect(rejected.cookies).toEqual([sessions.deletionCookie()]);
    expect((await sessions.validateToken(b.token, { userAgent: 'A' })).session).toBeNull();
    clock.advance(30 * MINUTE);
    const expired = await sessions.validateCookie(`__Host-sid=${a.token}`);
    expect(expired.status).toBe('expired');
    expect(isSessionError(expired.error, 'SESSION_EXPIRED')).toBe(true);
    expect(events.map((e) => ('reason' in e ? e.reason : undefined)).filter(Boolean)).toEqual([
      'malformed',
      'unknown',
      'secret_mismatch',
      'user_agent_changed',
      'unknown',
      'idle_expired',
    ]);
  });

  it('touches once per interval and re-sends a persistent cookie', async () => {
    const { sessions, clock, store } = syncSetup({ policy: { persistentAbsoluteTimeoutMs: 30 * DAY } });
    const issued = await sessions.create({ userId: 'u1', persistent: true });
    let writes = 0;
    const realUpdate = store.update.bind(store);
    store.update = (record, version, now) => {
      writes++;
      return realUpdate(record, version, now);
    };
    clock.advance(MINUTE);
    expect((await sessions.validateCookie(`__Host-sid=${issued.token}`)).cookies).toEqual([]);
    clock.advance(5 * MINUTE);
    const touched = await sessions.validateCookie(`__Host-sid=${issued.token}`);
    expect(touched.cookies).toHaveLength(1);
    expect(touched.session?.idleExpiresAt).toBe(clock.now() + 30 * MINUTE);
    expect(writes).toBe(1);
  });

  it('I1: a getSync that throws is an outage: status unavailable, no cookie deletion', async () => {
    const { sessions, store } = syncSetup();
    const issued = await sessions.create({ userId: 'u1' });
    store.getSync = () => {
      throw new Error('memory corrupted');
    };
    const result = await sessions.validateCookie(`__Host-sid=${issued.token}`);
    expect(result.status).toBe('unavailable');
    expect(isSessionError(result.error, 'STORE_UNAVAILABLE')).toBe(true);
    expect(result.cookies).toEqual([]);
    store.getSync = () => {
      throw new SessionError('STORE_CONFLICT');
    };
    expect(isSessionError((await sessions.validateToken(issued.token)).error, 'STORE_CONFLICT')).toBe(true);
  });

  it('B10: several candidates, one live: accepted; two live: ambiguous', async () => {
    const { sessions } = syncSetup();
    const a = await sessions.create({ userId: 'a' });
    const b = await sessions.create({ userId: 'b' });
    expect((await sessions.validateCookie(`__Host-sid=x; __Host-sid=${a.token}`)).session?.userId).toBe('a');
    expect((await sessions.validateCookie(`__Host-sid=${a.token}; __Host-sid=${b.token}`)).status).toBe('ambiguous');
  });
});

import { describe, expect, it } from 'vitest';
import {
  createHybridSessions,
  createJwtKeySet,
  createRevocationList,
  createSessionJwt,
  generateSigningKey,
} from '../src/entries/jwt.js';
import { createRefreshTokens } from '../src/entries/refresh.js';
import { isSessionError } from '../src/errors.js';
import {
  createSessionManager,
  decodeRevocationNotice,
  encodeRevocationNotice,
  MemoryStore,
  type RevocationChannel,
  type RevocationEvent,
  type RevocationNotice,
  type RevocationSink,
} from '../src/index.js';
import { createTestClock } from '../src/testing/index.js';

/**
 * An in-process channel: core is pure and has no network, so its half of the machinery is tested
 * with a channel that delivers synchronously; the Redis and PostgreSQL channels are tested against
 * the real servers in their packages.
 */
function loopbackChannel() {
  const sinks = new Set<RevocationSink>();
  const published: RevocationNotice[] = [];
  let failing = false;
  const channel: RevocationChannel = {
    async publish(notice) {
      if (failing) throw new Error('channel unreachable');
      published.push(notice);
      // Through the wire form, as a real channel would carry it.
      const decoded = decodeRevocationNotice(encodeRevocationNotice(notice));
      for (const sink of sinks) if (decoded) sink.notice(decoded);
    },
    subscribe(sink) {
      sinks.add(sink);
      queueMicrotask(() => sink.status('up'));
      return { close: async () => void sinks.delete(sink) };
    },
  };
  return {
    channel,
    published,
    sinks,
    fail: (value: boolean) => {
      failing = value;
    },
  };
}

async function fixture(options: { ttlSeconds?: number } = {}) {
  const clock = createTestClock();
  const loop = loopbackChannel();
  const managerEvents: RevocationEvent[] = [];
  const manager = createSessionManager({
    store: new MemoryStore(),
    clock,
    revocation: { channel: loop.channel, onEvent: (e) => managerEvents.push(e) },
  });
  const keys = createJwtKeySet({ active: await generateSigningKey() });
  const listEvents: RevocationEvent[] = [];
  const revocations = createRevocationList({ channel: loop.channel, clock, onEvent: (e) => listEvents.push(e) });
  await revocations.ready();
  const jwts = createSessionJwt({
    manager,
    keys,
    issuer: 'https://auth.test',
    audience: 'api',
    ttlSeconds: options.ttlSeconds,
    revocations,
  });
  return { clock, loop, manager, jwts, revocations, managerEvents, listEvents };
}

async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isSessionError(error)) return `${error.code}:${error.reason ?? ''}`;
    throw error;
  }
  return 'accepted';
}

describe('revocation notices: wire form', () => {
  it('round-trips every kind', () => {
    const notices: RevocationNotice[] = [
      { kind: 'session', sid: 'abc', at: 1 },
      { kind: 'user', sub: 'u1', validAfter: 5000, keep: null, at: 5000 },
      { kind: 'user', sub: 'u1', validAfter: 5000, keep: 'kept', at: 5000 },
      { kind: 'everyone', validAfter: 7000, at: 7001 },
    ];
    for (const notice of notices) expect(decodeRevocationNotice(encodeRevocationNotice(notice))).toEqual(notice);
  });

  it('drops anything not exactly of the wire form', () => {
    const junk: unknown[] = [
      null,
      42,
      '',
      'not json',
      '[]',
      '{"v":2,"k":"s","sid":"a","at":1}',
      '{"v":1,"k":"s","sid":"","at":1}',
      '{"v":1,"k":"s","sid":"a","at":-1}',
      '{"v":1,"k":"s","sid":"a","at":1.5}',
      '{"v":1,"k":"u","sub":"u","va":1,"at":1}',
      '{"v":1,"k":"u","sub":"u","va":"1","keep":null,"at":1}',
      '{"v":1,"k":"x","at":1}',
      `{"v":1,"k":"s","sid":"${'a'.repeat(257)}","at":1}`,
      `{"v":1,"k":"s","sid":"a","at":1,"pad":"${'x'.repeat(1100)}"}`,
    ];
    for (const text of junk) expect(decodeRevocationNotice(text)).toBeNull();
  });
});

describe('revocation list', () => {
  it('refuses revoked sessions, epochs before their time, and nothing after retention', () => {
    const clock = createTestClock();
    const list = createRevocationList({ clock, retainSeconds: 10 });
    expect(list.status).toBe('local');
    const iat = Math.floor(clock.now() / 1000);
    list.add({ kind: 'session', sid: 's1', at: clock.now() });
    expect(list.isRevoked({ sid: 's1', sub: 'u', iat })).toBe(true);
    expect(list.isRevoked({ sid: 's2', sub: 'u', iat })).toBe(false);

    list.add({ kind: 'user', sub: 'u2', validAfter: clock.now(), keep: 'kept', at: clock.now() });
    expect(list.isRevoked({ sid: 'any', sub: 'u2', iat })).toBe(true);
    // The epoch's own second counts as before it (fail closed); the next second is after.
    expect(list.isRevoked({ sid: 'any', sub: 'u2', iat: iat + 1 })).toBe(false);
    expect(list.isRevoked({ sid: 'kept', sub: 'u2', iat })).toBe(false);

    list.add({ kind: 'everyone', validAfter: clock.now(), at: clock.now() });
    expect(list.isRevoked({ sid: 'x', sub: 'y', iat })).toBe(true);
    expect(list.isRevoked({ sid: 'x', sub: 'y', iat: iat + 1 })).toBe(false);

    clock.advance(10_001);
    expect(list.isRevoked({ sid: 's1', sub: 'u', iat })).toBe(false);
    expect(list.isRevoked({ sid: 'any', sub: 'u2', iat })).toBe(false);
    expect(list.isRevoked({ sid: 'x', sub: 'y', iat })).toBe(false);
    expect(list.size).toBe(0);
  });

  it('keeps the newest epoch of a user when notices arrive out of order', () => {
    const clock = createTestClock();
    const list = createRevocationList({ clock });
    const t = clock.now();
    list.add({ kind: 'user', sub: 'u', validAfter: t + 5000, keep: null, at: t });
    list.add({ kind: 'user', sub: 'u', validAfter: t, keep: null, at: t });
    expect(list.isRevoked({ sid: 's', sub: 'u', iat: Math.floor(t / 1000) + 4 })).toBe(true);
  });

  it('stays within maxEntries, dropping the oldest and saying so', () => {
    const clock = createTestClock();
    const events: RevocationEvent[] = [];
    const list = createRevocationList({ clock, maxEntries: 3, onEvent: (e) => events.push(e) });
    for (let i = 0; i < 5; i++) list.add({ kind: 'session', sid: `s${i}`, at: clock.now() });
    expect(list.size).toBe(3);
    const iat = Math.floor(clock.now() / 1000);
    expect(list.isRevoked({ sid: 's0', sub: 'u', iat })).toBe(false);
    expect(list.isRevoked({ sid: 's4', sub: 'u', iat })).toBe(true);
    expect(events.filter((e) => e.type === 'revocation.list_full')).toHaveLength(2);
  });

  it('sweeps expired entries as new ones arrive, with no timer', () => {
    const clock = createTestClock();
    const list = createRevocationList({ clock, retainSeconds: 1 });
    for (let i = 0; i < 100; i++) list.add({ kind: 'session', sid: `old${i}`, at: clock.now() });
    clock.advance(1500);
    list.add({ kind: 'session', sid: 'new', at: clock.now() });
    expect(list.size).toBe(1);
  });

  it('reports the channel going down and up, and keeps answering meanwhile', async () => {
    const clock = createTestClock();
    const events: RevocationEvent[] = [];
    let sink: RevocationSink | undefined;
    const list = createRevocationList({
      clock,
      channel: {
        publish: async () => {},
        subscribe(s) {
          sink = s;
          return { close: async () => {} };
        },
      },
      onEvent: (e) => events.push(e),
    });
    expect(list.status).toBe('connecting');
    const ready = list.ready(1000);
    sink?.status('up');
    await ready;
    sink?.notice({ kind: 'session', sid: 'gone', at: clock.now() });
    sink?.status('down', 'disconnected');
    expect(list.status).toBe('down');
    const iat = Math.floor(clock.now() / 1000);
    expect(list.isRevoked({ sid: 'gone', sub: 'u', iat })).toBe(true);
    expect(list.isRevoked({ sid: 'other', sub: 'u', iat })).toBe(false);
    clock.advance(2000);
    sink?.status('up');
    expect(events.map((e) => e.type)).toEqual([
      'revocation.channel.up',
      'revocation.channel.down',
      'revocation.channel.up',
    ]);
    expect(events[2]).toMatchObject({ downForMs: 2000 });
    await list.close();
    expect(list.status).toBe('closed');
  });

  it('refuses bad options with CONFIG_INVALID', () => {
    for (const options of [{ retainSeconds: 0 }, { maxEntries: 0 }, { maxEntries: 1.5 }, { channel: {} as never }]) {
      expect(() => createRevocationList(options)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    }
    const store = new MemoryStore();
    expect(() => createSessionManager({ store, revocation: { channel: {} as never } })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
  });
});

describe('the manager publishes, subscribed verifiers refuse', () => {
  it('revoke: a cached session JWT is refused at once, with JWT_REVOKED', async () => {
    const f = await fixture();
    const { session } = await f.manager.create({ userId: 'u1' });
    const issued = await f.jwts.issue(session);
    await expect(f.jwts.verify(issued.token)).resolves.toMatchObject({ sid: session.id });
    expect(await f.manager.revoke(session.id)).toBe(true);
    expect(f.loop.published).toEqual([{ kind: 'session', sid: session.id, at: f.clock.now() }]);
    expect(await rejection(f.jwts.verify(issued.token))).toBe('JWT_REVOKED:revocation_notice');
    expect(f.jwts.verifier.peek(issued.token)).toBeUndefined();
  });

  it('revokeAll: every JWT of the user issued before it, except the kept session', async () => {
    const f = await fixture();
    const a = await f.manager.create({ userId: 'u1' });
    const b = await f.manager.create({ userId: 'u1' });
    const other = await f.manager.create({ userId: 'u2' });
    const [ja, jb, jo] = await Promise.all([a, b, other].map((s) => f.jwts.issue(s.session)));
    await f.manager.revokeAll('u1', { except: b.session.id });
    expect(f.loop.published).toEqual([
      { kind: 'user', sub: 'u1', validAfter: f.clock.now(), keep: b.session.id, at: f.clock.now() },
    ]);
    expect(await rejection(f.jwts.verify(ja?.token))).toBe('JWT_REVOKED:revocation_notice');
    expect(await rejection(f.jwts.verify(jb?.token))).toBe('accepted');
    expect(await rejection(f.jwts.verify(jo?.token))).toBe('accepted');
    // A login after the epoch's second gets JWTs that pass.
    f.clock.advance(1000);
    const later = await f.manager.create({ userId: 'u1' });
    expect(await rejection(f.jwts.verify((await f.jwts.issue(later.session)).token))).toBe('accepted');
  });

  it('revokeEveryone: every JWT issued before it', async () => {
    const f = await fixture();
    const { session } = await f.manager.create({ userId: 'u1' });
    const issued = await f.jwts.issue(session);
    await f.manager.revokeEveryone();
    expect(f.loop.published.map((n) => n.kind)).toEqual(['everyone']);
    expect(await rejection(f.jwts.verify(issued.token))).toBe('JWT_REVOKED:revocation_notice');
  });

  it('refresh-token reuse: the family session is announced', async () => {
    const f = await fixture();
    const refresh = createRefreshTokens({ jwt: f.jwts, secret: crypto.getRandomValues(new Uint8Array(32)) });
    const { session } = await f.manager.create({ userId: 'u1' });
    const first = await refresh.issue(session);
    const access = await f.jwts.issue(session);
    await refresh.refresh(first.refreshToken);
    f.clock.advance(60_000);
    await expect(refresh.refresh(first.refreshToken)).rejects.toThrow();
    expect(f.loop.published).toContainEqual(expect.objectContaining({ kind: 'session', sid: session.id }));
    expect(await rejection(f.jwts.verify(access.token))).toBe('JWT_REVOKED:revocation_notice');
  });

  it('hybrid sessions: a revoked JWT cookie falls back to the store, which refuses', async () => {
    const f = await fixture();
    const hybrid = createHybridSessions({ jwt: f.jwts });
    const issued = await hybrid.create({ userId: 'u1' });
    const cookie = issued.cookies.map((c) => c.split(';')[0]).join('; ');
    expect((await hybrid.validate(cookie)).source).toBe('jwt');
    await f.manager.revoke(issued.session.id);
    const after = await hybrid.validate(cookie);
    expect(after.status).not.toBe('valid');
  });

  it('a notice that cannot be sent never fails the revocation, and is reported', async () => {
    const f = await fixture();
    const { session } = await f.manager.create({ userId: 'u1' });
    f.loop.fail(true);
    expect(await f.manager.revoke(session.id)).toBe(true);
    expect(f.managerEvents).toEqual([
      { type: 'revocation.publish_failed', at: f.clock.now(), kind: 'session', reason: 'unreachable' },
    ]);
    // The store path still refuses at once.
    expect((await f.manager.validateToken(`${session.id}.x`)).status).not.toBe('valid');
  });
});

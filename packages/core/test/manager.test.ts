import { describe, expect, it, vi } from 'vitest';
import { hashSecret } from '../src/hash.js';
import {
  createSessionManager,
  isSessionError,
  MemoryStore,
  type Session,
  SessionError,
  type SessionManagerOptions,
  type SessionRecord,
} from '../src/index.js';
import { DEFAULT_STORE_TIMEOUT_MS, runtimeOf, SessionManager, toSession } from '../src/manager.js';
import { cookieHeaderFrom, DAY, eventTypes, HOUR, MINUTE, setup } from './helpers/setup.js';

async function codeOf(run: () => unknown): Promise<string | null> {
  try {
    await run();
    return null;
  } catch (error) {
    return isSessionError(error) ? error.code : `not a SessionError: ${String(error)}`;
  }
}

describe('SessionManager construction', () => {
  it('createSessionManager builds a SessionManager with the aal2 policy and the __Host-sid cookie by default', () => {
    const sessions = createSessionManager({ store: new MemoryStore() });
    expect(sessions).toBeInstanceOf(SessionManager);
    expect(sessions.policy.preset).toBe('aal2');
    expect(sessions.cookie.name).toBe('__Host-sid');
    expect(DEFAULT_STORE_TIMEOUT_MS).toBe(1000);
  });

  it('refuses a missing store and invalid options with CONFIG_INVALID', async () => {
    const store = new MemoryStore();
    const invalid: unknown[] = [
      undefined,
      {},
      { store: null },
      { store, logKey: new Uint8Array(15) },
      { store, logKey: 'a string key of enough length' },
      { store, maxSessionsPerUser: 0 },
      { store, maxSessionsPerUser: 1.5 },
      { store, storeTimeoutMs: 0 },
      { store, storeTimeoutMs: Number.POSITIVE_INFINITY },
      { store, policy: 'aal9' },
      { store, cookie: { name: '__Host-sid', domain: 'example.com' } },
      { store, mode: 'development', cookie: { sameSite: 'none' } },
    ];
    for (const options of invalid) {
      expect(await codeOf(() => new SessionManager(options as SessionManagerOptions)), JSON.stringify(options)).toBe(
        'CONFIG_INVALID',
      );
    }
  });

  it('hands out no capability: store, clock, random, emit, sidHash and call are no members of the manager', () => {
    const sessions = createSessionManager({ store: new MemoryStore() });
    for (const name of ['store', 'clock', 'random', 'emit', 'sidHash', 'call', 'logKey', 'storeTimeoutMs']) {
      expect(name in sessions, name).toBe(false);
      expect(Object.keys(sessions)).not.toContain(name);
    }
    // Read-only data stays readable; the runtime is bound to the manager, not to a look-alike.
    expect(sessions.cookie.name).toBe('__Host-sid');
    expect(Object.isFrozen(runtimeOf(sessions))).toBe(true);
    expect(() => runtimeOf({ ...sessions } as typeof sessions)).toThrow(SessionError);
  });

  it('sidHash is 16 hex chars, stable for a fixed logKey and different across keys', () => {
    const logKey = new Uint8Array(32).fill(9);
    const a = new SessionManager({ store: new MemoryStore(), logKey });
    const b = new SessionManager({ store: new MemoryStore(), logKey });
    const c = new SessionManager({ store: new MemoryStore() });
    expect(runtimeOf(a).sidHash('AAAAAAAAAAAAAAAAAAAAAA')).toMatch(/^[0-9a-f]{16}$/);
    expect(runtimeOf(a).sidHash('AAAAAAAAAAAAAAAAAAAAAA')).toBe(runtimeOf(b).sidHash('AAAAAAAAAAAAAAAAAAAAAA'));
    expect(runtimeOf(c).sidHash('AAAAAAAAAAAAAAAAAAAAAA')).not.toBe(runtimeOf(a).sidHash('AAAAAAAAAAAAAAAAAAAAAA'));
  });
});

describe('create', () => {
  it('stores a record and returns the public session, the token and one Set-Cookie', async () => {
    const { sessions, memory, clock } = setup<{ role: string }>();
    const issued = await sessions.create({
      userId: 'u1',
      data: { role: 'admin' },
      metadata: { userAgent: 'UA/1', ip: '203.0.113.9', label: 'Laptop' },
    });
    const now = clock.now();
    expect(issued.session).toEqual({
      id: issued.token.split('.')[0],
      userId: 'u1',
      createdAt: now,
      lastSeenAt: now,
      idleExpiresAt: now + 30 * MINUTE,
      absoluteExpiresAt: now + 12 * HOUR,
      authenticatedAt: now,
      persistent: false,
      data: { role: 'admin' },
      // Plus the random CSRF id the session's tokens are bound to.
      metadata: { userAgent: 'UA/1', ip: '203.0.113.9', label: 'Laptop', csrfId: expect.stringMatching(/^[\w-]{22}$/) },
      version: 1,
    });
    expect(issued.session).not.toHaveProperty('secretHash');
    expect(issued.cookies).toEqual([`__Host-sid=${issued.token}; Path=/; Secure; HttpOnly; SameSite=Lax`]);
    const stored = (await memory.get(issued.session.id, now)) as SessionRecord;
    expect(stored.secretHash).toBe(hashSecret(issued.token.split('.')[1] as string));
  });

  it('defaults data to {} and metadata to nulls, and clips metadata to 512 characters', async () => {
    const { sessions } = setup();
    expect((await sessions.create({ userId: 'u1' })).session).toMatchObject({
      data: {},
      metadata: { userAgent: null, ip: null, label: null },
    });
    const long = await sessions.create({ userId: 'u1', metadata: { userAgent: 'x'.repeat(2000) } });
    expect(long.session.metadata.userAgent).toHaveLength(512);
  });

  it('refuses an empty, non-string or over-long userId with CONFIG_INVALID', async () => {
    const { sessions, probe } = setup();
    for (const userId of ['', 42, null, 'u'.repeat(257)]) {
      expect(await codeOf(() => sessions.create({ userId } as never))).toBe('CONFIG_INVALID');
    }
    expect(probe.total()).toBe(0);
    expect((await sessions.create({ userId: 'u'.repeat(256) })).session.userId).toHaveLength(256);
  });

  it('B6: a persistent ("remember me") session gets Max-Age = its remaining absolute lifetime', async () => {
    const { sessions } = setup({ policy: { persistentAbsoluteTimeoutMs: 30 * DAY } });
    const issued = await sessions.create({ userId: 'u1', persistent: true });
    expect(issued.session.persistent).toBe(true);
    expect(issued.session.absoluteExpiresAt - issued.session.createdAt).toBe(30 * DAY);
    expect(issued.cookies[0]).toContain(`; Max-Age=${30 * 86_400}; `);
  });

  it('D1/FX-02: revokes the session it replaces, so a planted or previous session never survives a login', async () => {
    const { sessions, events } = setup();
    const planted = await sessions.create({ userId: 'attacker' });
    const issued = await sessions.create({ userId: 'victim', replaces: planted.session.id });
    expect((await sessions.validateToken(planted.token)).session).toBeNull();
    expect((await sessions.validateToken(issued.token)).session?.userId).toBe('victim');
    expect(eventTypes(events)).toContain('session.revoked:replaced_on_login');
  });

  it('emits session.created with the keyed id hash, the user and the client signals', async () => {
    const { sessions, events, clock } = setup();
    const issued = await sessions.create({ userId: 'u1', metadata: { userAgent: 'UA', ip: '198.51.100.1' } });
    expect(events).toEqual([
      {
        type: 'session.created',
        at: clock.now(),
        sidHash: runtimeOf(sessions).sidHash(issued.session.id),
        userId: 'u1',
        ip: '198.51.100.1',
        userAgent: 'UA',
      },
    ]);
  });
});

describe('validateCookie / validateToken', () => {
  it('a valid cookie gives the session, no cookies to set and no error', async () => {
    const { sessions } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    const result = await sessions.validateCookie(`theme=dark; ${cookieHeaderFrom(issued.cookies[0])}`);
    expect(result).toEqual({
      session: issued.session,
      status: 'valid',
      source: 'store',
      cookies: [],
      error: null,
      token: issued.token,
    });
    // The result narrows on status: a valid one has its session without a cast.
    if (result.status !== 'valid') throw new Error('expected a valid result');
    const userId: string = result.session.userId;
    expect(userId).toBe('u1');
  });

  it('absence is a value: no cookie gives status "absent", a null session and no Set-Cookie', async () => {
    const { sessions, probe } = setup();
    for (const header of [undefined, null, '', 'theme=dark', []]) {
      const result = await sessions.validateCookie(header);
      expect(result.status).toBe('absent');
      expect(result.session).toBeNull();
      expect(result.cookies).toEqual([]);
      expect(isSessionError(result.error, 'UNAUTHENTICATED')).toBe(true);
    }
    for (const token of [undefined, null, '']) expect((await sessions.validateToken(token)).status).toBe('absent');
    expect(probe.total()).toBe(0);
  });

  it('validateToken never returns cookies: API clients do not hold them', async () => {
    const { sessions, clock } = setup({ policy: { persistentAbsoluteTimeoutMs: 30 * DAY } });
    const issued = await sessions.create({ userId: 'u1', persistent: true });
    expect((await sessions.validateToken('garbage')).cookies).toEqual([]);
    clock.advance(10 * MINUTE);
    const touched = await sessions.validateToken(issued.token);
    expect(touched.status).toBe('valid');
    expect(touched.cookies).toEqual([]);
  });

  it('a persistent session that was touched re-sends its cookie with the remaining Max-Age; a plain one does not', async () => {
    const { sessions, clock } = setup({ policy: { persistentAbsoluteTimeoutMs: 30 * DAY } });
    const remembered = await sessions.create({ userId: 'u1', persistent: true });
    const plain = await sessions.create({ userId: 'u2' });
    clock.advance(6 * MINUTE);
    const a = await sessions.validateCookie(cookieHeaderFrom(remembered.cookies[0]));
    const b = await sessions.validateCookie(cookieHeaderFrom(plain.cookies[0]));
    expect(a.cookies).toEqual([
      `__Host-sid=${remembered.token}; Path=/; Max-Age=${30 * 86_400 - 360}; Secure; HttpOnly; SameSite=Lax`,
    ]);
    expect(b.cookies).toEqual([]);
    expect(b.session?.idleExpiresAt).toBe(clock.now() + 30 * MINUTE);
  });

  it('requireSession returns the session or throws the result error', async () => {
    const { sessions } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    expect(sessions.requireSession(await sessions.validateToken(issued.token))).toEqual(issued.session);
    const absent = await sessions.validateToken(undefined);
    expect(() => sessions.requireSession(absent)).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED' }));
    // A hand-built result without an error (JavaScript callers) still fails closed.
    const errorless = { ...absent, error: null } as unknown as typeof absent;
    expect(() => sessions.requireSession(errorless)).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED' }));
  });
});

describe('isFresh / requireFresh', () => {
  it('D4: fresh within maxAge of the last authentication; REAUTH_REQUIRED after', async () => {
    const { sessions, clock } = setup();
    const { session } = await sessions.create({ userId: 'u1' });
    clock.advance(10 * MINUTE);
    expect(sessions.isFresh(session, 10 * MINUTE)).toBe(true);
    expect(sessions.requireFresh(session, 10 * MINUTE)).toBe(session);
    clock.advance(MINUTE);
    expect(sessions.isFresh(session, 10 * MINUTE)).toBe(false);
    expect(() => sessions.requireFresh(session, 10 * MINUTE)).toThrow(
      expect.objectContaining({ code: 'REAUTH_REQUIRED' }),
    );
  });

  it('D4: a re-authenticating rotation makes the session fresh again', async () => {
    const { sessions, clock } = setup();
    const { session } = await sessions.create({ userId: 'u1' });
    clock.advance(25 * MINUTE);
    expect(sessions.isFresh(session, MINUTE)).toBe(false);
    const rotated = await sessions.rotate(session, { reauthenticated: true });
    expect(sessions.isFresh(rotated.session, MINUTE)).toBe(true);
  });
});

describe('rotate', () => {
  it('D1: issues a new id and secret, kills the old token at once and keeps data and user', async () => {
    const { sessions, clock, events } = setup<{ role: string }>();
    const issued = await sessions.create({ userId: 'u1', data: { role: 'member' } });
    clock.advance(MINUTE);
    const rotated = await sessions.rotate(issued.session);
    expect(rotated.token).not.toBe(issued.token);
    expect(rotated.session.id).not.toBe(issued.session.id);
    expect(rotated.session).toMatchObject({
      userId: 'u1',
      data: { role: 'member' },
      createdAt: issued.session.createdAt,
    });
    expect(rotated.session.lastSeenAt).toBe(clock.now());
    expect(rotated.cookies).toEqual([`__Host-sid=${rotated.token}; Path=/; Secure; HttpOnly; SameSite=Lax`]);
    expect((await sessions.validateToken(issued.token)).status).toBe('invalid');
    expect((await sessions.validateToken(rotated.token)).status).toBe('valid');
    expect(events.find((e) => e.type === 'session.rotated')).toMatchObject({
      type: 'session.rotated',
      sidHash: runtimeOf(sessions).sidHash(rotated.session.id),
      previousSidHash: runtimeOf(sessions).sidHash(issued.session.id),
      reason: 'rotated',
    });
  });

  it('D2: replaces data and metadata on a privilege change', async () => {
    const { sessions } = setup<{ role: string }>();
    const issued = await sessions.create({ userId: 'u1', data: { role: 'member' }, metadata: { userAgent: 'A' } });
    const rotated = await sessions.rotate(issued.session, { data: { role: 'admin' }, metadata: { userAgent: 'B' } });
    expect(rotated.session.data).toEqual({ role: 'admin' });
    expect(rotated.session.metadata).toEqual({
      userAgent: 'B',
      ip: null,
      label: null,
      csrfId: issued.session.metadata.csrfId,
    });
  });

  it('C3: re-authentication resets authenticatedAt and both timeouts; a plain rotation moves neither', async () => {
    const { sessions, clock } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    // Two hours of activity every 10 minutes.
    for (let i = 0; i < 12; i++) {
      clock.advance(10 * MINUTE);
      expect((await sessions.validateToken(issued.token)).status).toBe('valid');
    }
    const plain = await sessions.rotate(issued.session);
    expect(plain.session.absoluteExpiresAt).toBe(issued.session.absoluteExpiresAt);
    expect(plain.session.authenticatedAt).toBe(issued.session.authenticatedAt);
    const reauth = await sessions.rotate(plain.session, { reauthenticated: true });
    expect(reauth.session.authenticatedAt).toBe(clock.now());
    expect(reauth.session.absoluteExpiresAt).toBe(clock.now() + 12 * HOUR);
    expect(reauth.session.idleExpiresAt).toBe(clock.now() + 30 * MINUTE);
  });

  it('refuses unknown and expired sessions with SESSION_NOT_FOUND', async () => {
    const { sessions, clock } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    expect(await codeOf(() => sessions.rotate({ id: 'AAAAAAAAAAAAAAAAAAAAAA' }))).toBe('SESSION_NOT_FOUND');
    clock.advance(30 * MINUTE);
    expect(await codeOf(() => sessions.rotate(issued.session))).toBe('SESSION_NOT_FOUND');
  });

  it('CL-03: a clock stepped back does not move lastSeenAt or the deadlines backwards', async () => {
    const { sessions, clock } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    clock.advance(-HOUR);
    const rotated = await sessions.rotate(issued.session);
    expect(rotated.session.lastSeenAt).toBe(issued.session.lastSeenAt);
    expect(rotated.session.idleExpiresAt).toBe(issued.session.idleExpiresAt);
    expect(rotated.session.absoluteExpiresAt).toBe(issued.session.absoluteExpiresAt);
  });
});

describe('extend', () => {
  it('moves the idle deadline (never past the absolute one) and emits session.extended', async () => {
    const { sessions, clock, events } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    clock.advance(MINUTE);
    const extended = await sessions.extend(issued.session, { byMs: 2 * HOUR });
    expect(extended.idleExpiresAt).toBe(clock.now() + 2 * HOUR);
    expect(extended.version).toBe(2);
    const capped = await sessions.extend(issued.session, { byMs: 48 * HOUR });
    expect(capped.idleExpiresAt).toBe(issued.session.absoluteExpiresAt);
    expect(capped.absoluteExpiresAt).toBe(issued.session.absoluteExpiresAt);
    expect(events.at(-1)).toMatchObject({
      type: 'session.extended',
      sidHash: runtimeOf(sessions).sidHash(issued.session.id),
    });
    expect((await sessions.extend(issued.session)).idleExpiresAt).toBe(issued.session.absoluteExpiresAt);
  });

  it('refuses a non-positive byMs, and unknown or expired sessions', async () => {
    const { sessions, clock } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    expect(await codeOf(() => sessions.extend(issued.session, { byMs: 0 }))).toBe('CONFIG_INVALID');
    expect(await codeOf(() => sessions.extend(issued.session, { byMs: Number.NaN }))).toBe('CONFIG_INVALID');
    clock.advance(30 * MINUTE);
    expect(await codeOf(() => sessions.extend(issued.session))).toBe('SESSION_NOT_FOUND');
  });
});

describe('update', () => {
  it('I3: replaces data with compare-and-set on the version; a stale version gets STORE_CONFLICT', async () => {
    const { sessions } = setup<{ cart: number }>();
    const issued = await sessions.create({ userId: 'u1', data: { cart: 0 } });
    const first = await sessions.update(issued.session, { cart: 1 });
    expect(first).toMatchObject({ data: { cart: 1 }, version: 2 });
    expect(await codeOf(() => sessions.update(issued.session, { cart: 99 }))).toBe('STORE_CONFLICT');
    expect((await sessions.validateToken(issued.token)).session?.data).toEqual({ cart: 1 });
    expect(await codeOf(() => sessions.update({ id: 'AAAAAAAAAAAAAAAAAAAAAA', version: 1 }, { cart: 2 }))).toBe(
      'SESSION_NOT_FOUND',
    );
  });

  it('a write on a session the manager handed out builds on its record (async store); a copy of it reads the store first', async () => {
    const { sessions, probe, clock } = setup<{ n: number }>();
    const issued = await sessions.create({ userId: 'u1', data: { n: 0 } });
    // Managers that wrote nothing yet (each remembers what it wrote last): only the session object can supply the base.
    const fresh = () => new SessionManager<{ n: number }>({ store: probe.store, clock });
    const reader = fresh();
    const validated = (await reader.validateToken(issued.token)).session;
    if (!validated) throw new Error('no session');
    const readsBefore = probe.calls.get;
    const written = await reader.update(validated, { n: 1 });
    expect(probe.calls.get).toBe(readsBefore);
    expect(written).toMatchObject({ data: { n: 1 }, version: 2 });
    // A spread, a structured clone or JSON keeps the fields, not the record: the write reads the store.
    const copiers = [
      (s: Session<{ n: number }>) => ({ ...s }),
      (s: Session<{ n: number }>) => structuredClone(s),
      (s: Session<{ n: number }>) => JSON.parse(JSON.stringify(s)) as Session<{ n: number }>,
    ];
    let latest = written;
    for (const copy of copiers) {
      const before = probe.calls.get;
      latest = await fresh().update(copy(latest), { n: latest.data.n + 1 });
      expect(probe.calls.get).toBe(before + 1);
    }
    expect(latest).toMatchObject({ data: { n: 4 }, version: 5 });
    // Plain objects, so that frameworks that pass them on (React server components) take them.
    expect(Object.getPrototypeOf(validated)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(written)).toBe(Object.prototype);
  });

  it('reports STORE_CONFLICT when a concurrent writer wins between read and write', async () => {
    const { sessions } = setup<{ n: number }>();
    const issued = await sessions.create({ userId: 'u1', data: { n: 0 } });
    const results = await Promise.allSettled([
      sessions.update(issued.session, { n: 1 }),
      sessions.update(issued.session, { n: 2 }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const loser = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(isSessionError(loser.reason, 'STORE_CONFLICT')).toBe(true);
  });
});

describe('revoke / revokeAll / list', () => {
  it('revoke deletes one session once and emits session.revoked', async () => {
    const { sessions, events } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    expect(await sessions.revoke(issued.session.id)).toBe(true);
    expect(await sessions.revoke(issued.session.id)).toBe(false);
    expect(events.filter((e) => e.type === 'session.revoked')).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({
      userId: 'u1',
      reason: 'revoked',
      sidHash: runtimeOf(sessions).sidHash(issued.session.id),
    });
  });

  it('revoke vets the id before any store call', async () => {
    const { sessions, probe } = setup();
    for (const id of ['', "' OR 1=1 --", '../x', 'A'.repeat(23)]) {
      expect(await sessions.revoke(id)).toBe(false);
      expect(await sessions.revoke(id, { userId: 'u1' })).toBe(false);
    }
    expect(probe.total()).toBe(0);
  });

  it('list returns live sessions, most recently seen first', async () => {
    const { sessions, clock } = setup();
    const a = await sessions.create({ userId: 'u1' });
    clock.advance(MINUTE);
    const b = await sessions.create({ userId: 'u1' });
    await sessions.create({ userId: 'u2' });
    expect((await sessions.list('u1')).map((s) => s.id)).toEqual([b.session.id, a.session.id]);
    clock.advance(10 * MINUTE);
    await sessions.validateToken(a.token);
    expect((await sessions.list('u1')).map((s) => s.id)).toEqual([a.session.id, b.session.id]);
    clock.advance(30 * MINUTE);
    expect(await sessions.list('u1')).toEqual([]);
    expect(await sessions.list('nobody')).toEqual([]);
  });

  it('revokeAll returns the count and emits one event naming the user', async () => {
    const { sessions, events } = setup();
    await sessions.create({ userId: 'u1' });
    await sessions.create({ userId: 'u1' });
    expect(await sessions.revokeAll('u1')).toBe(2);
    expect(events.at(-1)).toMatchObject({ type: 'session.revoked', userId: 'u1', reason: 'revoked_all' });
    expect(await sessions.revokeAll('u1')).toBe(0);
  });

  it('revokeEveryone ends the sessions of every user, returns the count and emits one event naming nobody', async () => {
    const { sessions, events, probe, memory } = setup();
    const issued = [];
    for (const userId of ['u1', 'u1', 'u2', 'u3']) issued.push(await sessions.create({ userId }));
    events.length = 0;
    probe.reset();
    expect(await sessions.revokeEveryone()).toBe(4);
    expect(probe.calls.deleteAll).toBe(1);
    expect(probe.total()).toBe(1);
    expect(memory.size).toBe(0);
    expect(events).toEqual([
      { type: 'session.revoked', at: runtimeOf(sessions).clock.now(), reason: 'revoked_everyone' },
    ]);
    for (const { token } of issued) expect((await sessions.validateToken(token)).status).toBe('invalid');
    for (const userId of ['u1', 'u2', 'u3']) expect(await sessions.list(userId)).toEqual([]);
    // The store works as before, and a second call finds nothing left.
    const after = await sessions.create({ userId: 'u1' });
    expect((await sessions.validateToken(after.token)).status).toBe('valid');
    expect(await sessions.revokeEveryone({ reason: 'key_compromise' })).toBe(1);
    expect(events.at(-1)).toEqual({
      type: 'session.revoked',
      at: runtimeOf(sessions).clock.now(),
      reason: 'key_compromise',
    });
    expect(await sessions.revokeEveryone()).toBe(0);
  });

  it('item 4: revokeAll and revokeEveryone are not cut off by the request-path storeTimeoutMs (stores bound each batch)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const { sessions, memory, events } = setup({ storeTimeoutMs: 50 });
      await sessions.create({ userId: 'u1' });
      await sessions.create({ userId: 'u1' });
      await sessions.create({ userId: 'u2' });
      // A large store: deletion finishes long after the request-path bound.
      let releaseAll = () => {};
      let releaseUser = () => {};
      const store = Object.assign(Object.create(memory) as MemoryStore, {
        deleteAll: () => new Promise<void>((resolve) => (releaseAll = resolve)).then(() => memory.deleteAll()),
        deleteByUser: (userId: string, except?: string) =>
          new Promise<void>((resolve) => (releaseUser = resolve)).then(() => memory.deleteByUser(userId, except)),
      });
      const admin = new SessionManager({
        store,
        clock: runtimeOf(sessions).clock,
        storeTimeoutMs: 50,
        onEvent: (e) => events.push(e),
      });

      const perUser = admin.revokeAll('u1');
      await vi.advanceTimersByTimeAsync(60_000);
      releaseUser();
      expect(await perUser).toBe(2);
      const everyone = admin.revokeEveryone();
      vi.advanceTimersByTime(60_000);
      releaseAll();
      expect(await everyone).toBe(1);
      expect(events.at(-1)).toMatchObject({ type: 'session.revoked', reason: 'revoked_everyone' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('revokeEveryone fails closed: STORE_UNAVAILABLE and no event on an outage, CONFIG_INVALID without deleteAll', async () => {
    const { sessions, probe, events } = setup();
    await sessions.create({ userId: 'u1' });
    events.length = 0;
    probe.fail('error');
    expect(await codeOf(() => sessions.revokeEveryone())).toBe('STORE_UNAVAILABLE');
    expect(events).toEqual([]);
    probe.fail(null);

    const legacy = new MemoryStore() as Partial<MemoryStore>;
    legacy.deleteAll = undefined;
    const old = new SessionManager({ store: legacy as MemoryStore });
    expect(await codeOf(() => old.revokeEveryone())).toBe('CONFIG_INVALID');
  });
});

describe('cookies, call and toSession', () => {
  it('deletionCookie and sessionCookie follow the manager cookie policy', async () => {
    const { sessions } = setup({ mode: 'development', cookie: { name: 'app_sid', sameSite: 'strict' } });
    expect(sessions.deletionCookie()).toBe(
      'app_sid=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Strict',
    );
    const issued = await sessions.create({ userId: 'u1' });
    expect(sessions.sessionCookie(issued.token, issued.session)).toBe(issued.cookies[0]);
    expect(issued.cookies[0]).toBe(`app_sid=${issued.token}; Path=/; HttpOnly; SameSite=Strict`);
  });

  it('call passes coded errors through and turns anything else into STORE_UNAVAILABLE with the cause kept', async () => {
    const { sessions } = setup();
    expect(await runtimeOf(sessions).call(async () => 42)).toBe(42);
    const coded = await runtimeOf(sessions)
      .call(() => Promise.reject(new SessionError('STORE_CONFLICT')))
      .catch((e) => e);
    expect(isSessionError(coded, 'STORE_CONFLICT')).toBe(true);
    const cause = new Error('ECONNREFUSED 10.0.0.5:6379');
    const wrapped = await runtimeOf(sessions)
      .call(() => Promise.reject(cause))
      .catch((e) => e);
    expect(isSessionError(wrapped, 'STORE_UNAVAILABLE')).toBe(true);
    expect(wrapped.cause).toBe(cause);
    expect(wrapped.message).not.toContain('10.0.0.5');
    const thrownSync = await runtimeOf(sessions)
      .call(() => {
        throw cause;
      })
      .catch((e) => e);
    expect(isSessionError(thrownSync, 'STORE_UNAVAILABLE')).toBe(true);
  });

  it('toSession drops the secret hash and anything a store added', async () => {
    const { sessions, memory, clock } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    const record = (await memory.get(issued.session.id, clock.now())) as SessionRecord;
    const withExtra = { ...record, internalRowId: 7 } as SessionRecord;
    expect(toSession(withExtra)).toEqual(issued.session);
    expect(Object.keys(toSession(record))).not.toContain('secretHash');
  });
});

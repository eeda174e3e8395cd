/**
 * Rows of the security checklist (shared/research/security-checklist.md) that apply to core. Every
 * test name starts with its row id so the checklist can be traced to tests.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64urlEncode, fromHex } from '../src/encoding.js';
import { assertSecureTransport, readBearerToken, resolveCookiePolicy } from '../src/entries/adapter.js';
import {
  cookieHeaders,
  errorResponse,
  isSessionError,
  rejectUserAgentChange,
  SessionError,
  type SessionEvent,
  type ValidationResult,
} from '../src/index.js';
import { runtimeOf } from '../src/manager.js';
import { generateSessionToken } from '../src/token.js';
import { cookieHeaderFrom, eventTypes, HOUR, MINUTE, setup } from './helpers/setup.js';

/** What a client would observe from a failed validation: status, headers and body. */
function clientView(result: ValidationResult) {
  return { cookies: result.cookies, session: result.session, response: errorResponse(result.error) };
}

describe('A. identifiers and tokens', () => {
  it('A2: the cookie carries only the opaque token: no user id, e-mail or session data', async () => {
    const { sessions } = setup();
    const issued = await sessions.create({
      userId: 'alice@example.com',
      data: { email: 'alice@example.com', role: 'admin' },
      metadata: { userAgent: 'UA', ip: '192.0.2.1' },
    });
    const value = cookieHeaderFrom(issued.cookies[0]).slice('__Host-sid='.length);
    expect(value).toBe(issued.token);
    expect(value).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    for (const secretish of ['alice', 'example', 'admin', '192.0.2.1'])
      expect(issued.cookies[0]).not.toContain(secretish);
  });

  it('A3: the cookie name is the generic __Host-sid, revealing no framework', async () => {
    const { sessions } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    expect(issued.cookies[0]?.split('=')[0]).toBe('__Host-sid');
    expect(sessions.deletionCookie().split('=')[0]).toBe('__Host-sid');
  });

  it('A4: any string in the cookie that is not the exact token shape is refused with 0 store calls (property)', async () => {
    const { sessions, probe, memory } = setup();
    await sessions.create({ userId: 'u1' });
    probe.reset();
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: fc.constantFrom(...'ABCabc019-_.+/=%" '), maxLength: 80 }), async (text) => {
        if (/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/.test(text)) return;
        const viaCookie = await sessions.validateCookie(`__Host-sid=${text}`);
        const viaToken = await sessions.validateToken(text);
        for (const result of [viaCookie, viaToken]) {
          expect(result.session).toBeNull();
          expect(['malformed', 'absent']).toContain(result.status);
        }
      }),
    );
    expect(probe.total()).toBe(0);
    expect(memory.size).toBe(1);
  });

  it('A5: the store holds the SHA-256 of the secret only; replaying the id with the stored hash is refused', async () => {
    const { sessions, memory, clock } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    const [id, secret] = issued.token.split('.') as [string, string];
    const raw = await memory.get(id, clock.now());
    expect(JSON.stringify(raw)).not.toContain(secret);
    const hashBytes = fromHex(raw?.secretHash as string) as Uint8Array;
    const replayed = `${id}.${base64urlEncode(hashBytes).slice(0, 42)}A`;
    expect((await sessions.validateToken(replayed)).session).toBeNull();
    expect((await sessions.validateToken(`${id}.${raw?.secretHash}`)).status).toBe('malformed');
  });

  it('A6: unknown id, wrong secret and malformed token look identical to the client', async () => {
    const { sessions } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    const [id] = issued.token.split('.') as [string];
    const unknown = await sessions.validateCookie(`__Host-sid=${generateSessionToken().token}`);
    const wrongSecret = await sessions.validateCookie(`__Host-sid=${id}.${generateSessionToken().secret}`);
    const malformed = await sessions.validateCookie('__Host-sid=not-a-token');
    expect(clientView(unknown)).toEqual(clientView(malformed));
    expect(clientView(wrongSecret)).toEqual(clientView(malformed));
    expect(clientView(malformed).response.body).toEqual({
      error: { code: 'UNAUTHENTICATED', message: 'No valid session' },
    });
  });

  it('A7: the token is read only from the session cookie (browser) or an Authorization Bearer header (API)', async () => {
    const { sessions } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    // Same token under any other cookie name is not a credential.
    for (const name of ['sid', 'session', '__Secure-sid', '__host-sid', 'token']) {
      expect((await sessions.validateCookie(`${name}=${issued.token}`)).status).toBe('absent');
    }
    expect(readBearerToken(`Bearer ${issued.token}`)).toBe(issued.token);
    expect(readBearerToken(`bearer ${issued.token}`)).toBe(issued.token);
    for (const header of [
      `Basic ${issued.token}`,
      issued.token,
      `Bearer  ${issued.token}`,
      `Bearer ${issued.token} x`,
      null,
    ]) {
      expect(readBearerToken(header)).toBeNull();
    }
  });

  it('A8: a well-formed unknown token creates nothing, is never echoed back, and raises an event', async () => {
    const { sessions, memory, events } = setup();
    const planted = generateSessionToken().token;
    const result = await sessions.validateCookie(`__Host-sid=${planted}`);
    expect(result.status).toBe('invalid');
    expect(result.session).toBeNull();
    expect(result.cookies).toEqual([sessions.deletionCookie()]);
    expect(result.cookies.join()).not.toContain(planted);
    expect(memory.size).toBe(0);
    expect(eventTypes(events)).toEqual(['session.invalid_token:unknown']);
  });
});

describe('B. cookie policy', () => {
  it('B1: the session cookie is __Host-sid with Secure, Path=/, HttpOnly, SameSite=Lax and no Domain', async () => {
    const { sessions } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    expect(issued.cookies[0]).toBe(`__Host-sid=${issued.token}; Path=/; Secure; HttpOnly; SameSite=Lax`);
    expect(issued.cookies[0]).not.toMatch(/Domain=/i);
  });

  it('B2: every cookie we emit is HttpOnly, in production and development', async () => {
    for (const mode of ['production', 'development'] as const) {
      const { sessions, clock } = setup({ mode, policy: { persistentAbsoluteTimeoutMs: 24 * HOUR } });
      const issued = await sessions.create({ userId: 'u1', persistent: true });
      const rotated = await sessions.rotate(issued.session);
      clock.advance(10 * MINUTE);
      const touched = await sessions.validateCookie(cookieHeaderFrom(rotated.cookies[0]));
      const all = [...issued.cookies, ...rotated.cookies, ...touched.cookies, sessions.deletionCookie()];
      expect(all).toHaveLength(4);
      for (const cookie of all) expect(cookie).toMatch(/; HttpOnly(;|$)/);
    }
  });

  it('B3: SameSite is always explicit; None is refused without Secure', () => {
    expect(resolveCookiePolicy().sameSite).toBe('lax');
    expect(() => resolveCookiePolicy({ sameSite: 'none' }, 'development')).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
    for (const sameSite of ['lax', 'strict', 'none'] as const) {
      const { sessions } = setup({ cookie: { sameSite } });
      expect(sessions.deletionCookie()).toMatch(/; SameSite=(Lax|Strict|None)/);
    }
  });

  it('B4: a cookie whose name + value exceed 4096 bytes or whose attribute exceeds 1024 is never emitted', () => {
    expect(() => setup({ cookie: { name: 'sid', path: `/${'p'.repeat(1024)}` } })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
    const { sessions } = setup();
    expect(() =>
      sessions.sessionCookie('v'.repeat(4097 - '__Host-sid'.length), { absoluteExpiresAt: 0, persistent: false }),
    ).toThrow(expect.objectContaining({ code: 'COOKIE_TOO_LARGE' }));
    expect(
      sessions.sessionCookie('v'.repeat(4096 - '__Host-sid'.length), { absoluteExpiresAt: 0, persistent: false }),
    ).toMatch(/^__Host-sid=v+; /);
  });

  it('B5: a response never carries two Set-Cookie values for the session cookie name', async () => {
    const { sessions, clock } = setup({ policy: { persistentAbsoluteTimeoutMs: 24 * HOUR } });
    const first = await sessions.create({ userId: 'u1', persistent: true });
    const relogin = await sessions.create({ userId: 'u1', replaces: first.session.id });
    const rotated = await sessions.rotate(relogin.session);
    clock.advance(10 * MINUTE);
    const results = [
      relogin.cookies,
      rotated.cookies,
      (await sessions.validateCookie(cookieHeaderFrom(rotated.cookies[0]))).cookies,
      (await sessions.validateCookie(`__Host-sid=junk; __Host-sid=${rotated.token}`)).cookies,
      (await sessions.validateCookie(`__Host-sid=${first.token}`)).cookies,
    ];
    for (const cookies of results) {
      expect(cookies.filter((c) => c.startsWith('__Host-sid=')).length).toBeLessThanOrEqual(1);
    }
  });

  it('B6: sessions are non-persistent by default; "remember me" gets Max-Age = remaining absolute lifetime', async () => {
    const { sessions, clock } = setup({ policy: { persistentAbsoluteTimeoutMs: 30 * 24 * HOUR } });
    expect((await sessions.create({ userId: 'u1' })).cookies[0]).not.toMatch(/Max-Age|Expires/);
    const remembered = await sessions.create({ userId: 'u1', persistent: true });
    expect(remembered.cookies[0]).toContain('; Max-Age=2592000;');
    clock.advance(10 * MINUTE);
    const touched = await sessions.validateCookie(cookieHeaderFrom(remembered.cookies[0]));
    expect(touched.cookies[0]).toContain(`; Max-Age=${2_592_000 - 600};`);
  });

  it('B7: logout sends a deletion cookie with the same name, Path, Secure and prefix', async () => {
    const { sessions } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    await sessions.revoke(issued.session.id);
    expect(sessions.deletionCookie()).toBe(
      '__Host-sid=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Lax',
    );
  });

  it('B8: responses that set or clear a session cookie, and error responses, carry Cache-Control: no-store', async () => {
    const { sessions } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    expect(cookieHeaders(issued.cookies)).toEqual([
      ['set-cookie', issued.cookies[0]],
      ['cache-control', 'no-store'],
    ]);
    expect(cookieHeaders([])).toEqual([]);
    expect(errorResponse(new SessionError('UNAUTHENTICATED')).headers).toContainEqual(['cache-control', 'no-store']);
  });

  it('hardening item 9: a Host header alone never unlocks plain http: the peer address must be loopback too', () => {
    const refused = expect.objectContaining({ code: 'INSECURE_TRANSPORT' });
    for (const host of ['localhost', 'localhost:3000', '127.0.0.1', '[::1]:8080', 'app.localhost']) {
      expect(() => assertSecureTransport({ protocol: 'http', host }, 'production'), host).toThrow(refused);
      const remote = { protocol: 'http', host, peerAddress: '198.51.100.4' };
      expect(() => assertSecureTransport(remote, 'production'), host).toThrow(refused);
      const local = { protocol: 'http', host, peerAddress: '::ffff:127.0.0.1' };
      expect(() => assertSecureTransport(local, 'production'), host).not.toThrow();
    }
    // Named configuration, for runtimes that give no peer address.
    const trusted = { trustLoopbackHost: true };
    expect(() => assertSecureTransport({ protocol: 'http', host: 'localhost' }, 'production', trusted)).not.toThrow();
    expect(() => assertSecureTransport({ protocol: 'http', host: 'app.example' }, 'production', trusted)).toThrow(
      refused,
    );
  });

  it('B9: production refuses plain http except on loopback; development is an explicit named mode', () => {
    expect(() => assertSecureTransport({ protocol: 'http', host: 'app.example.com' }, 'production')).toThrow(
      expect.objectContaining({ code: 'INSECURE_TRANSPORT', status: 500 }),
    );
    expect(() => assertSecureTransport({ protocol: 'https:', host: 'app.example.com' }, 'production')).not.toThrow();
    const local = { protocol: 'http', host: 'localhost:3000', peerAddress: '127.0.0.1' };
    expect(() => assertSecureTransport(local, 'production')).not.toThrow();
    expect(() => assertSecureTransport({ protocol: 'http', host: '192.168.1.20:3000' }, 'development')).not.toThrow();
    const { sessions } = setup();
    expect(sessions.cookie.mode).toBe('production');
  });

  it('B10: of several same-name cookies, exactly one live session is accepted; two live ones are ambiguous', async () => {
    const { sessions, events, probe } = setup();
    const a = await sessions.create({ userId: 'u1' });
    const b = await sessions.create({ userId: 'u2' });
    const withJunk = await sessions.validateCookie(
      `__Host-sid=junk; __Host-sid=${generateSessionToken().token}; __Host-sid=${a.token}`,
    );
    expect(withJunk.status).toBe('valid');
    expect(withJunk.session?.userId).toBe('u1');
    expect(withJunk.cookies).toEqual([]);
    const twice = await sessions.validateCookie([`__Host-sid=${a.token}`, `__Host-sid=${a.token}`]);
    expect(twice.session?.userId).toBe('u1');
    events.length = 0;
    probe.reset();
    const both = await sessions.validateCookie(`__Host-sid=${a.token}; __Host-sid=${b.token}`);
    expect(both.status).toBe('ambiguous');
    expect(both.session).toBeNull();
    expect(both.cookies).toEqual([]);
    expect(isSessionError(both.error, 'UNAUTHENTICATED')).toBe(true);
    expect(eventTypes(events)).toEqual(['session.invalid_token:ambiguous']);
    expect(probe.calls.get).toBe(2);
  });
});

describe('C. expiry and renewal', () => {
  it('C1: without activity a session is valid at 29:59.999 and expired at 30:00 (SESSION_EXPIRED, cookie cleared)', async () => {
    const { sessions, clock, events } = setup();
    const idle = await sessions.create({ userId: 'u1' });
    const active = await sessions.create({ userId: 'u2' });
    clock.set(idle.session.createdAt + 30 * MINUTE - 1);
    expect((await sessions.validateCookie(cookieHeaderFrom(active.cookies[0]))).status).toBe('valid');
    clock.set(idle.session.createdAt + 30 * MINUTE);
    const expired = await sessions.validateCookie(cookieHeaderFrom(idle.cookies[0]));
    expect(expired.status).toBe('expired');
    expect(isSessionError(expired.error, 'SESSION_EXPIRED')).toBe(true);
    expect(expired.cookies).toEqual([sessions.deletionCookie()]);
    expect(eventTypes(events)).toContain('session.expired:idle_expired');
    // The read at 29:59.999 was activity: that session lives on.
    expect((await sessions.validateCookie(cookieHeaderFrom(active.cookies[0]))).status).toBe('valid');
  });

  it('C2: activity every 5 minutes keeps a session only until the absolute 12 h, to the millisecond', async () => {
    const { sessions, clock } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    const header = cookieHeaderFrom(issued.cookies[0]);
    for (let elapsed = 5 * MINUTE; elapsed < 12 * HOUR; elapsed += 5 * MINUTE) {
      clock.set(issued.session.createdAt + elapsed);
      expect((await sessions.validateCookie(header)).status).toBe('valid');
    }
    clock.set(issued.session.createdAt + 12 * HOUR - 1);
    expect((await sessions.validateCookie(header)).status).toBe('valid');
    clock.set(issued.session.createdAt + 12 * HOUR);
    const result = await sessions.validateCookie(header);
    expect(result.status).toBe('expired');
    expect(isSessionError(result.error, 'SESSION_EXPIRED')).toBe(true);
  });

  it('C4: 100 plain reads within one minute write nothing; after the 5-minute interval exactly one read writes', async () => {
    const { sessions, clock, probe } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    const header = cookieHeaderFrom(issued.cookies[0]);
    probe.reset();
    for (let i = 0; i < 100; i++) {
      clock.advance(600);
      expect((await sessions.validateCookie(header)).status).toBe('valid');
    }
    expect(probe.writes()).toBe(0);
    clock.set(issued.session.createdAt + 5 * MINUTE);
    for (let i = 0; i < 10; i++) await sessions.validateCookie(header);
    expect(probe.writes()).toBe(1);
    expect(probe.calls.update).toBe(1);
  });
});

describe('D. login, privilege change, fixation', () => {
  it('D1: the token issued before login is dead after it, with no grace period', async () => {
    const { sessions } = setup();
    const anonymous = await sessions.create({ userId: 'anonymous' });
    const loggedIn = await sessions.create({ userId: 'u1', replaces: anonymous.session.id });
    expect(loggedIn.token).not.toBe(anonymous.token);
    expect((await sessions.validateCookie(cookieHeaderFrom(anonymous.cookies[0]))).session).toBeNull();
  });

  it('D2: after a role change (rotate with new data) the old token is refused at once', async () => {
    const { sessions } = setup<{ role: string }>();
    const issued = await sessions.create({ userId: 'u1', data: { role: 'member' } });
    const promoted = await sessions.rotate(issued.session, { data: { role: 'admin' } });
    expect((await sessions.validateToken(issued.token)).session).toBeNull();
    expect((await sessions.validateToken(promoted.token)).session?.data).toEqual({ role: 'admin' });
  });
});

describe('E. logout and revocation', () => {
  it('E1: logout invalidates the server-side record, then clears the cookie; a replayed token is dead', async () => {
    const { sessions } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    const header = cookieHeaderFrom(issued.cookies[0]);
    expect(await sessions.revoke(issued.session.id, { userId: 'u1' })).toBe(true);
    const replay = await sessions.validateCookie(header);
    expect(replay.session).toBeNull();
    expect(replay.cookies).toEqual([sessions.deletionCookie()]);
  });

  it("E3: revokeAll ends every session of one user and nobody else's", async () => {
    const { sessions } = setup();
    const mine = [await sessions.create({ userId: 'u1' }), await sessions.create({ userId: 'u1' })];
    const theirs = await sessions.create({ userId: 'u2' });
    expect(await sessions.revokeAll('u1')).toBe(2);
    for (const issued of mine) expect((await sessions.validateToken(issued.token)).session).toBeNull();
    expect((await sessions.validateToken(theirs.token)).session?.userId).toBe('u2');
  });

  it('E3: revokeEveryone ends every session of every user; replayed cookies get 401 and a deletion cookie', async () => {
    const { sessions, events } = setup();
    const everyone = [
      await sessions.create({ userId: 'u1' }),
      await sessions.create({ userId: 'u2' }),
      await sessions.create({ userId: 'admin' }),
    ];
    expect(await sessions.revokeEveryone()).toBe(3);
    for (const issued of everyone) {
      const replay = await sessions.validateCookie(cookieHeaderFrom(issued.cookies[0]));
      expect(replay.session).toBeNull();
      expect(errorResponse(replay.error).status).toBe(401);
      expect(replay.cookies).toEqual([sessions.deletionCookie()]);
    }
    expect(eventTypes(events)).toContain('session.revoked:revoked_everyone');
  });

  it('E4: revokeAll with except ends all other sessions and keeps the current one', async () => {
    const { sessions, events } = setup();
    const current = await sessions.create({ userId: 'u1' });
    const other = await sessions.create({ userId: 'u1' });
    expect(await sessions.revokeAll('u1', { except: current.session.id })).toBe(1);
    expect((await sessions.validateToken(current.token)).status).toBe('valid');
    expect((await sessions.validateToken(other.token)).session).toBeNull();
    expect(eventTypes(events)).toContain('session.revoked:revoked_others');
  });

  it("E5: a user lists and revokes their own sessions; another user's id is answered like an unknown one", async () => {
    const { sessions, probe } = setup();
    const mine = await sessions.create({ userId: 'alice' });
    const theirs = await sessions.create({ userId: 'bob' });
    expect((await sessions.list('alice')).map((s) => s.id)).toEqual([mine.session.id]);
    probe.reset();
    const idor = await sessions.revoke(theirs.session.id, { userId: 'alice' });
    const idorCalls = probe.total();
    probe.reset();
    const unknown = await sessions.revoke('AAAAAAAAAAAAAAAAAAAAAA', { userId: 'alice' });
    // The same answer after the same store work: nothing tells the two apart.
    expect([idor, unknown]).toEqual([false, false]);
    expect(probe.total()).toBe(idorCalls);
    expect((await sessions.validateToken(theirs.token)).status).toBe('valid');
    expect(await sessions.revoke(mine.session.id, { userId: 'alice' })).toBe(true);
  });

  it('E6: at maxSessionsPerUser the oldest session is evicted (default) with a session.evicted event', async () => {
    const { sessions, clock, events } = setup({ maxSessionsPerUser: 2 });
    const first = await sessions.create({ userId: 'u1' });
    clock.advance(1000);
    const second = await sessions.create({ userId: 'u1' });
    clock.advance(1000);
    const third = await sessions.create({ userId: 'u1' });
    expect((await sessions.validateToken(first.token)).session).toBeNull();
    expect((await sessions.validateToken(second.token)).status).toBe('valid');
    expect((await sessions.validateToken(third.token)).status).toBe('valid');
    expect(events.filter((e) => e.type === 'session.evicted')).toEqual([
      expect.objectContaining({
        sidHash: runtimeOf(sessions).sidHash(first.session.id),
        reason: 'session_limit',
        userId: 'u1',
      }),
    ]);
    expect(await sessions.list('u1')).toHaveLength(2);
  });

  it('E6: with onSessionLimit "refuse" a login past the limit gets SESSION_LIMIT_REACHED (409) and no cookie', async () => {
    const { sessions, memory } = setup({ maxSessionsPerUser: 1, onSessionLimit: 'refuse' });
    const first = await sessions.create({ userId: 'u1' });
    const refused = await sessions.create({ userId: 'u1' }).catch((e: unknown) => e);
    expect(isSessionError(refused, 'SESSION_LIMIT_REACHED')).toBe(true);
    expect(errorResponse(refused).status).toBe(409);
    expect(memory.size).toBe(1);
    expect((await sessions.validateToken(first.token)).status).toBe('valid');
    // Expired sessions do not count against the limit.
    const { sessions: later, clock } = setup({ maxSessionsPerUser: 1, onSessionLimit: 'refuse' });
    await later.create({ userId: 'u1' });
    clock.advance(30 * MINUTE);
    expect((await later.create({ userId: 'u1' })).session.userId).toBe('u1');
  });
});

describe('I. store failure', () => {
  it('I1: a store error is never "authenticated": status unavailable, 503, and the cookie is kept', async () => {
    const { sessions, probe } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    probe.fail('error');
    const result = await sessions.validateCookie(cookieHeaderFrom(issued.cookies[0]));
    expect(result.session).toBeNull();
    expect(result.status).toBe('unavailable');
    expect(result.cookies).toEqual([]);
    expect(isSessionError(result.error, 'STORE_UNAVAILABLE')).toBe(true);
    expect(errorResponse(result.error).status).toBe(503);
    expect(() => sessions.requireSession(result)).toThrow(expect.objectContaining({ code: 'STORE_UNAVAILABLE' }));
    probe.fail(null);
    expect((await sessions.validateCookie(cookieHeaderFrom(issued.cookies[0]))).status).toBe('valid');
  });

  it('I1: login during an outage throws STORE_UNAVAILABLE and issues no cookie; rotate and revoke fail closed too', async () => {
    const { sessions, probe } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    probe.fail('error');
    for (const action of [
      () => sessions.create({ userId: 'u2' }),
      () => sessions.rotate(issued.session),
      () => sessions.revoke(issued.session.id),
      () => sessions.revokeAll('u1'),
      () => sessions.revokeEveryone(),
      () => sessions.list('u1'),
      () => sessions.extend(issued.session),
    ]) {
      expect(isSessionError(await action().catch((e: unknown) => e), 'STORE_UNAVAILABLE')).toBe(true);
    }
  });

  it('I1: an outage during a touch keeps the request authenticated and the deadline where it was', async () => {
    const { sessions, probe, clock, memory } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    clock.advance(10 * MINUTE);
    const realUpdate = probe.store.update;
    probe.store.update = () => Promise.reject(new Error('connection reset'));
    const result = await sessions.validateToken(issued.token);
    probe.store.update = realUpdate;
    expect(result.status).toBe('valid');
    expect((await memory.get(issued.session.id, clock.now()))?.idleExpiresAt).toBe(issued.session.idleExpiresAt);
  });

  it('I2: a hanging store fails after storeTimeoutMs with STORE_UNAVAILABLE, after one call and no retry', async () => {
    const { sessions, probe } = setup({ storeTimeoutMs: 50 });
    const issued = await sessions.create({ userId: 'u1' });
    probe.fail('hang');
    probe.reset();
    const result = await sessions.validateToken(issued.token);
    expect(result.status).toBe('unavailable');
    expect(result.error?.reason).toBe('timeout');
    expect(probe.calls.get).toBe(1);
    expect(probe.total()).toBe(1);
    const login = await sessions.create({ userId: 'u2' }).catch((e: unknown) => e);
    expect(isSessionError(login, 'STORE_UNAVAILABLE')).toBe(true);
    probe.fail(null);
    expect((await sessions.validateToken(issued.token)).status).toBe('valid');
  });

  it('I2: a wall clock stepped back an hour (NTP) does not stretch the store timeout', async () => {
    const { sessions, probe } = setup({ storeTimeoutMs: 50 });
    const issued = await sessions.create({ userId: 'u1' });
    probe.fail('hang');
    const realNow = Date.now;
    const steppedBack = realNow() - HOUR;
    const pending = sessions.validateToken(issued.token);
    // Fault injection on the wall clock only: the session clock is the injected test clock.
    Date.now = () => steppedBack;
    try {
      const winner = await Promise.race([
        pending.then((result) => result.status),
        new Promise<string>((resolve) => setTimeout(() => resolve('still waiting after 2 s'), 2000)),
      ]);
      expect(winner).toBe('unavailable');
    } finally {
      Date.now = realNow;
    }
  });

  it('I2: concurrent hanging calls each time out; calls that answer in time are unaffected', async () => {
    const { sessions, probe } = setup({ storeTimeoutMs: 40 });
    const issued = await sessions.create({ userId: 'u1' });
    probe.fail('hang');
    const hanging = Array.from({ length: 5 }, () => sessions.validateToken(issued.token));
    probe.fail(null);
    const fine = await sessions.validateToken(issued.token);
    expect(fine.status).toBe('valid');
    const results = await Promise.all(hanging);
    expect(results.map((r) => r.status)).toEqual(Array(5).fill('unavailable'));
  });

  it('I4: error bodies carry a code and its generic message only: no stack, token, secret or store detail', async () => {
    const { sessions, probe } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    const leaky = new SessionError('STORE_UNAVAILABLE', `redis://user:hunter2@10.0.0.5 failed for ${issued.token}`);
    const thrown = [
      leaky,
      new Error(`boom ${issued.token}`),
      new TypeError('x is undefined'),
      'a string',
      null,
      { code: 'SESSION_EXPIRED', name: 'SessionError', message: issued.token },
    ];
    for (const error of thrown) {
      const response = errorResponse(error);
      const text = JSON.stringify(response);
      expect(Object.keys(response.body.error).sort()).toEqual(['code', 'message']);
      expect(text).not.toContain(issued.token.slice(0, 8));
      expect(text).not.toContain('hunter2');
      expect(text).not.toMatch(/at .*\.ts:\d+|Error:/);
    }
    probe.fail('error');
    const outage = await sessions.validateToken(issued.token);
    expect(errorResponse(outage.error).body).toEqual({
      error: { code: 'STORE_UNAVAILABLE', message: 'The session store is unavailable' },
    });
  });
});

describe('J. detection and logging', () => {
  it('J1: across a full lifecycle no event carries any piece of any issued token, id or secret', async () => {
    const captured: SessionEvent[] = [];
    const { sessions, clock } = setup<{ role: string }>({
      onEvent: (event) => captured.push(event),
      maxSessionsPerUser: 2,
      binding: rejectUserAgentChange,
      policy: { persistentAbsoluteTimeoutMs: 24 * HOUR },
    });
    const tokens: string[] = [];
    const meta = { userAgent: 'Browser/1', ip: '198.51.100.7' };
    const a = await sessions.create({ userId: 'user-1', data: { role: 'member' }, metadata: meta });
    tokens.push(a.token);
    const b = await sessions.create({ userId: 'user-1', metadata: meta, persistent: true });
    tokens.push(b.token);
    const c = await sessions.create({ userId: 'user-1', metadata: meta });
    tokens.push(c.token);
    clock.advance(6 * MINUTE);
    await sessions.validateCookie(`__Host-sid=${b.token}`, meta);
    const rotated = await sessions.rotate(b.session, { data: { role: 'admin' } });
    tokens.push(rotated.token);
    await sessions.extend(rotated.session, { byMs: HOUR });
    await sessions.validateCookie(`__Host-sid=${rotated.token}`, { userAgent: 'Other/2', ip: meta.ip });
    const d = await sessions.create({ userId: 'user-1', metadata: meta });
    tokens.push(d.token);
    await sessions.validateToken(`${d.token.split('.')[0]}.${generateSessionToken().secret}`);
    await sessions.validateToken(generateSessionToken().token);
    await sessions.validateToken(`${d.token}x`);
    await sessions.validateCookie(`__Host-sid=${c.token}; __Host-sid=${d.token}`);
    clock.advance(31 * MINUTE);
    await sessions.validateToken(d.token);
    const e = await sessions.create({ userId: 'user-1', metadata: meta });
    tokens.push(e.token);
    await sessions.revoke(e.session.id, { userId: 'user-1' });
    await sessions.revokeAll('user-1');

    const types = new Set(captured.map((event) => event.type));
    for (const type of [
      'created',
      'rotated',
      'extended',
      'revoked',
      'expired',
      'evicted',
      'invalid_token',
      'anomaly',
    ]) {
      expect(types).toContain(`session.${type}`);
    }
    const text = JSON.stringify(captured);
    for (const token of tokens) {
      for (let i = 0; i + 8 <= token.length; i++) expect(text).not.toContain(token.slice(i, i + 8));
    }
    for (const event of captured) {
      if ('sidHash' in event && event.sidHash !== undefined) expect(event.sidHash).toMatch(/^[0-9a-f]{16}$/);
    }
  });

  it('J2: 100 bad tokens give 100 session.invalid_token events, each with a reason and the client IP', async () => {
    const { sessions, events } = setup();
    const real = await sessions.create({ userId: 'u1' });
    events.length = 0;
    const id = real.token.split('.')[0];
    for (let i = 0; i < 100; i++) {
      const token =
        i % 3 === 0
          ? `bad-${i}`
          : i % 3 === 1
            ? generateSessionToken().token
            : `${id}.${generateSessionToken().secret}`;
      await sessions.validateCookie(`__Host-sid=${token}`, { ip: '203.0.113.50' });
    }
    expect(events).toHaveLength(100);
    for (const event of events) {
      expect(event.type).toBe('session.invalid_token');
      if (event.type !== 'session.invalid_token') continue;
      expect(['malformed', 'unknown', 'secret_mismatch']).toContain(event.reason);
      expect(event.ip).toBe('203.0.113.50');
    }
  });

  it('J3: a changed user agent is flagged (session.anomaly) but allowed by default; enforcing is opt-in', async () => {
    const meta = { userAgent: 'Browser/1', ip: '198.51.100.7' };
    const flagged = setup();
    const issued = await flagged.sessions.create({ userId: 'u1', metadata: meta });
    const result = await flagged.sessions.validateToken(issued.token, { userAgent: 'Other/2', ip: '198.51.100.8' });
    expect(result.status).toBe('valid');
    expect(flagged.events.at(-1)).toMatchObject({
      type: 'session.anomaly',
      reason: 'user_agent_changed',
      userAgent: 'Other/2',
      ip: '198.51.100.8',
      sidHash: runtimeOf(flagged.sessions).sidHash(issued.session.id),
    });
    expect((await flagged.sessions.validateToken(issued.token, { ip: '10.9.9.9' })).status).toBe('valid');

    const strict = setup({ binding: rejectUserAgentChange });
    const strictIssued = await strict.sessions.create({ userId: 'u1', metadata: meta });
    const rejected = await strict.sessions.validateCookie(`__Host-sid=${strictIssued.token}`, { userAgent: 'Other/2' });
    expect(rejected.status).toBe('rejected');
    expect(isSessionError(rejected.error, 'SESSION_REJECTED')).toBe(true);
    expect(rejected.cookies).toEqual([strict.sessions.deletionCookie()]);
    expect((await strict.sessions.validateToken(strictIssued.token, meta)).session).toBeNull();
  });
});

describe('TM. timing', () => {
  it('TM-03: SESSION_EXPIRED is revealed only to the holder of the right secret', async () => {
    const { sessions, clock } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    clock.advance(31 * MINUTE);
    const forged = await sessions.validateToken(`${issued.session.id}.${generateSessionToken().secret}`);
    expect(forged.status).toBe('invalid');
    expect(isSessionError(forged.error, 'UNAUTHENTICATED')).toBe(true);
    const genuine = await sessions.validateToken(issued.token);
    expect(genuine.status).toBe('expired');
    expect(isSessionError(genuine.error, 'SESSION_EXPIRED')).toBe(true);
  });

  it('TM-03: unknown id, wrong secret and malformed give the same status, headers and body', async () => {
    const { sessions } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    const views = await Promise.all(
      [generateSessionToken().token, `${issued.session.id}.${generateSessionToken().secret}`, '%%%'].map(
        async (token) => clientView(await sessions.validateCookie(`__Host-sid=${token}`)),
      ),
    );
    expect(views[1]).toEqual(views[0]);
    expect(views[2]).toEqual(views[0]);
    expect(views[0]?.response.status).toBe(401);
  });
});

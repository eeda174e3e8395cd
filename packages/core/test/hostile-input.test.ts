/**
 * Hostile input against the session manager (checklist section 2.1 "Cookies in" and 2.2 "Cookies
 * out"). Store calls are counted with `instrumentStore`, which wraps the real MemoryStore.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { serializeCookie } from '../src/entries/adapter.js';
import { isSessionError } from '../src/index.js';
import { SessionManager } from '../src/manager.js';
import { generateSessionToken } from '../src/token.js';
import { cookieHeaderFrom, eventTypes, setup } from './helpers/setup.js';

describe('2.1 cookies in', () => {
  it('CK-01: no Cookie header: no session, no Set-Cookie, 0 store calls', async () => {
    const { sessions, probe } = setup();
    const result = await sessions.validateCookie(undefined);
    expect(result).toMatchObject({ session: null, status: 'absent', cookies: [] });
    expect(probe.total()).toBe(0);
  });

  it('CK-02: empty value, no "=", nameless pair and a bare word are treated as absent, 0 store calls', async () => {
    const { sessions, probe } = setup();
    for (const header of ['__Host-sid=', '__Host-sid', '=tok', 'tok', '__Host-sid= ; =x']) {
      const result = await sessions.validateCookie(header);
      expect(result.status, header).toBe('absent');
      expect(result.cookies).toEqual([]);
    }
    expect(probe.total()).toBe(0);
  });

  it('CK-03: standard base64, padding, wrong lengths, 1 or 3 parts, inner whitespace: malformed, 0 store calls', async () => {
    const { sessions, probe } = setup();
    const [id, secret] = generateSessionToken().token.split('.') as [string, string];
    const inputs = [
      `${id}.${secret.slice(0, 42)}+`,
      `${id.slice(0, 21)}/.${secret}`,
      `${id}.${secret}=`,
      `${id}.${secret.slice(2)}`,
      `${id}${secret}`,
      `${id}.${secret.slice(0, 10)}.${secret.slice(11)}`,
      `${id}.${secret.slice(0, 10)} ${secret.slice(11)}`,
    ];
    for (const token of inputs) {
      const result = await sessions.validateCookie(`__Host-sid=${token}`);
      expect(result.status, token).toBe('malformed');
      expect(isSessionError(result.error, 'UNAUTHENTICATED')).toBe(true);
      expect(result.cookies).toEqual([sessions.deletionCookie()]);
    }
    expect(probe.total()).toBe(0);
  });

  it('CK-04: a quoted or percent-encoded valid token is malformed: no unquoting, no decoding, 0 store calls', async () => {
    const { sessions, probe } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    probe.reset();
    for (const value of [
      `"${issued.token}"`,
      issued.token.replace('.', '%2E'),
      encodeURIComponent(`${issued.token};`),
    ]) {
      expect((await sessions.validateCookie(`__Host-sid=${value}`)).status).toBe('malformed');
    }
    expect(probe.total()).toBe(0);
  });

  it('CK-05: control characters, NUL, non-ASCII and a homoglyph name are ignored, never thrown', async () => {
    const { sessions, probe } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    probe.reset();
    for (const header of [
      `__\u0397ost-sid=${issued.token}`,
      `__Host-sid=${issued.token}\u0000`,
      `__Host-sid=\u0001${issued.token}`,
      `__Host-sid=${issued.token}é`,
      `__Host-sid=${issued.token.slice(0, 30)}\t${issued.token.slice(31)}`,
    ]) {
      const result = await sessions.validateCookie(header);
      expect(result.status, JSON.stringify(header)).toBe('absent');
    }
    expect(probe.total()).toBe(0);
  });

  it('CK-06: only the exact-case __Host-sid is read (__host-sid / __HOST-SID are someone else)', async () => {
    const { sessions } = setup();
    const victim = await sessions.create({ userId: 'victim' });
    const attacker = await sessions.create({ userId: 'attacker' });
    const result = await sessions.validateCookie(
      `__host-sid=${attacker.token}; __HOST-SID=${attacker.token}; __Host-sid=${victim.token}`,
    );
    expect(result.session?.userId).toBe('victim');
    expect((await sessions.validateCookie(`__host-sid=${attacker.token}`)).status).toBe('absent');
  });

  it('CK-07: junk then a valid token under the same name: the valid one is accepted', async () => {
    const { sessions } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    const result = await sessions.validateCookie(`__Host-sid=junk; __Host-sid=${issued.token}`);
    expect(result.status).toBe('valid');
    expect(result.cookies).toEqual([]);
  });

  it('CK-08: two valid tokens of different sessions are ambiguous: neither is used, an event fires', async () => {
    const { sessions, events } = setup();
    const a = await sessions.create({ userId: 'a' });
    const b = await sessions.create({ userId: 'b' });
    const result = await sessions.validateCookie(`__Host-sid=${a.token}; __Host-sid=${b.token}`);
    expect(result).toMatchObject({ session: null, status: 'ambiguous', cookies: [] });
    expect(eventTypes(events).at(-1)).toBe('session.invalid_token:ambiguous');
  });

  it('CK-09: 50 duplicates of the cookie cost at most 4 store lookups', async () => {
    const { sessions, probe } = setup();
    const header = Array.from({ length: 50 }, () => `__Host-sid=${generateSessionToken().token}`).join('; ');
    const result = await sessions.validateCookie(header);
    expect(result.session).toBeNull();
    expect(probe.calls.get).toBe(4);
    expect(probe.total()).toBe(4);
  });

  it('CK-10: our cookie in the second of two Cookie header lines is found', async () => {
    const { sessions } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    expect((await sessions.validateCookie(['theme=dark; lang=en', cookieHeaderFrom(issued.cookies[0])])).status).toBe(
      'valid',
    );
  });

  it('CK-11: found after 8 KiB of junk; an oversized pair is ignored; a 1 MiB header never throws', async () => {
    const { sessions, probe } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    const junk = Array.from({ length: 300 }, (_, i) => `j${i}=${'x'.repeat(24)}`).join('; ');
    expect((await sessions.validateCookie(`${junk}; __Host-sid=${issued.token}`)).status).toBe('valid');
    expect((await sessions.validateCookie(`big=${'x'.repeat(5000)}; __Host-sid=${issued.token}`)).status).toBe('valid');
    probe.reset();
    expect((await sessions.validateCookie(`__Host-sid=${'A'.repeat(5000)}`)).status).toBe('absent');
    expect((await sessions.validateCookie(`__Host-sid=${'A'.repeat(4000)}`)).status).toBe('malformed');
    const huge = `${'x=1; '.repeat(200_000)}__Host-sid=${issued.token}`;
    const result = await sessions.validateCookie(huge);
    expect(result.status).toBe('absent');
    expect(probe.total()).toBe(0);
  });

  it('CK-14: any Cookie header gives a result, never a throw; at most 4 lookups; the session only with its own token (property)', async () => {
    const { sessions, probe } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    const piece = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.constantFrom(
        '__Host-sid=',
        '__host-sid=',
        '; ',
        '=',
        '"',
        issued.token,
        generateSessionToken().token,
        issued.token.slice(0, 30),
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 12 }), async (pieces) => {
        probe.reset();
        const header = pieces.join('');
        const result = await sessions.validateCookie(header);
        expect(probe.calls.get).toBeLessThanOrEqual(4);
        if (result.session) {
          expect(result.session.id).toBe(issued.session.id);
          expect(header).toContain(issued.token);
        } else {
          expect(result.error).not.toBeNull();
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('forged secrets and foreign tokens', () => {
  it('a forged secret for a real id is refused, costs one lookup, and does not harm the real session', async () => {
    const { sessions, probe, events } = setup();
    const issued = await sessions.create({ userId: 'victim' });
    probe.reset();
    for (let i = 0; i < 20; i++) {
      const forged = await sessions.validateCookie(`__Host-sid=${issued.session.id}.${generateSessionToken().secret}`);
      expect(forged.status).toBe('invalid');
      expect(forged.session).toBeNull();
    }
    expect(probe.calls.get).toBe(20);
    expect(probe.writes()).toBe(0);
    expect(events.filter((e) => e.type === 'session.invalid_token' && e.reason === 'secret_mismatch')).toHaveLength(20);
    expect((await sessions.validateToken(issued.token)).status).toBe('valid');
  });

  it("a token from another manager's store (same format, other deployment) is unknown here", async () => {
    const elsewhere = setup();
    const here = setup();
    const foreign = await elsewhere.sessions.create({ userId: 'u1' });
    expect((await here.sessions.validateToken(foreign.token)).status).toBe('invalid');
  });

  it('a wrong-secret attempt on an expired session still says "invalid", not "expired"', async () => {
    const { sessions, clock } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    clock.advance(12 * 60 * 60_000);
    const forged = await sessions.validateToken(`${issued.session.id}.${generateSessionToken().secret}`);
    expect(forged.status).toBe('invalid');
  });
});

describe('2.2 cookies out', () => {
  it('SC-01: an app-supplied cookie name with header-splitting characters is refused at configuration', () => {
    for (const name of ['sid;', 'sid,x', 'sid\r\nSet-Cookie:', 's id', 's"id', 's\\id']) {
      expect(() => setup({ cookie: { name } }), JSON.stringify(name)).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID' }),
      );
    }
    expect(() => serializeCookie('sid', 'a\r\nSet-Cookie: evil=1')).toThrow(
      expect.objectContaining({ code: 'COOKIE_INVALID' }),
    );
  });

  it('SC-02: rotation and logout-then-login each produce one Set-Cookie for the session name', async () => {
    const { sessions } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    const rotated = await sessions.rotate(issued.session);
    expect(rotated.cookies).toHaveLength(1);
    // Logout and a new login answered in one response: the new session cookie replaces the
    // deletion, it is not sent next to it.
    const relogin = await sessions.create({ userId: 'u2', replaces: rotated.session.id });
    expect(relogin.cookies).toHaveLength(1);
    expect(relogin.cookies[0]).toMatch(/^__Host-sid=[A-Za-z0-9_-]{22}\./);
  });

  it('SC-03: a session cookie of exactly 4096 bytes of name + value is emitted; 4097 throws COOKIE_TOO_LARGE', () => {
    const { sessions } = setup();
    const fits = 'a'.repeat(4096 - '__Host-sid'.length);
    expect(sessions.sessionCookie(fits, { absoluteExpiresAt: 0, persistent: false })).toContain(`=${fits};`);
    expect(() => sessions.sessionCookie(`${fits}a`, { absoluteExpiresAt: 0, persistent: false })).toThrow(
      expect.objectContaining({ code: 'COOKIE_TOO_LARGE' }),
    );
  });

  it('SC-05: a persistent session with the longest lifetime, 400 days, gets Max-Age 34 560 000', async () => {
    const { sessions } = setup({ policy: { persistentAbsoluteTimeoutMs: 400 * 24 * 60 * 60_000 } });
    const issued = await sessions.create({ userId: 'u1', persistent: true });
    expect(issued.cookies[0]).toContain('; Max-Age=34560000;');
    expect(issued.session.absoluteExpiresAt - issued.session.createdAt).toBe(400 * 24 * 60 * 60_000);
  });

  it('SC-05: a session with more than 400 days left still gets Max-Age capped at 34 560 000', () => {
    // The policy refuses such lifetimes; a record written under an older, longer policy may have one.
    const { sessions, clock } = setup();
    const absoluteExpiresAt = clock.now() + 500 * 24 * 60 * 60_000;
    expect(sessions.sessionCookie('a'.repeat(43), { absoluteExpiresAt, persistent: true })).toContain(
      '; Max-Age=34560000;',
    );
  });
});

describe('manager with a non-default cookie name', () => {
  it('reads only its own cookie name', async () => {
    const { sessions } = setup({ mode: 'development', cookie: { name: 'app_session' } });
    const issued = await sessions.create({ userId: 'u1' });
    expect((await sessions.validateCookie(`__Host-sid=${issued.token}`)).status).toBe('absent');
    expect((await sessions.validateCookie(`app_session=${issued.token}`)).status).toBe('valid');
    expect(sessions).toBeInstanceOf(SessionManager);
  });
});

describe('hardening item 6: cookie tossing on names without __Host-', () => {
  // A name a sibling subdomain can plant cookies under: Domain set, so __Secure-sid.
  const tossable = () => setup({ cookie: { domain: 'app.example', allowWithoutHostPrefix: true } });

  it('item 6: four identical junk cookies ahead of the real one: the real session is found', async () => {
    const { sessions, probe } = tossable();
    const issued = await sessions.create({ userId: 'victim' });
    probe.reset();
    const result = await sessions.validateCookie(`${'__Secure-sid=junk; '.repeat(4)}__Secure-sid=${issued.token}`);
    expect(result).toMatchObject({ status: 'valid', cookies: [] });
    expect(result.session?.userId).toBe('victim');
    expect(probe.calls.get).toBe(1);
  });

  it('item 6: more distinct same-name cookies than are checked: no session, and no deletion cookie', async () => {
    const { sessions, probe } = tossable();
    const issued = await sessions.create({ userId: 'victim' });
    const planted = Array.from({ length: 4 }, () => `__Secure-sid=${generateSessionToken().token}`).join('; ');
    probe.reset();
    const result = await sessions.validateCookie(`${planted}; __Secure-sid=${issued.token}`);
    expect(result.session).toBeNull();
    expect(result.cookies).toEqual([]);
    expect(probe.calls.get).toBe(4);
    // Junk the parser rejects at once is just as harmless.
    const junk = await sessions.validateCookie(
      `__Secure-sid=a; __Secure-sid=b; __Secure-sid=c; __Secure-sid=d; __Secure-sid=${issued.token}`,
    );
    expect(junk).toMatchObject({ session: null, status: 'malformed', cookies: [] });
    // The victim's cookie was never deleted: without the planted ones it still works.
    expect((await sessions.validateCookie(`__Secure-sid=${issued.token}`)).status).toBe('valid');
  });

  it('item 6: several candidates and none live: no deletion cookie (it would hit the real cookie, not the planted one)', async () => {
    const { sessions, clock } = tossable();
    const old = await sessions.create({ userId: 'victim' });
    clock.advance(2 * 24 * 60 * 60_000);
    for (const header of [
      '__Secure-sid=junk; __Secure-sid=other',
      `__Secure-sid=junk; __Secure-sid=${old.token}`,
      `__Secure-sid=${generateSessionToken().token}; __Secure-sid=${old.token}`,
    ]) {
      const result = await sessions.validateCookie(header);
      expect(result.session, header).toBeNull();
      expect(result.cookies, header).toEqual([]);
    }
    // One dead cookie alone is still cleared.
    expect((await sessions.validateCookie(`__Secure-sid=${old.token}`)).cookies).toEqual([sessions.deletionCookie()]);
    expect((await sessions.validateCookie('__Secure-sid=junk')).cookies).toEqual([sessions.deletionCookie()]);
  });

  it("item 6: one planted live session next to the victim's is ambiguous: neither is used, nothing is deleted", async () => {
    const { sessions } = tossable();
    const victim = await sessions.create({ userId: 'victim' });
    const attacker = await sessions.create({ userId: 'attacker' });
    const result = await sessions.validateCookie(`__Secure-sid=${attacker.token}; __Secure-sid=${victim.token}`);
    expect(result).toMatchObject({ session: null, status: 'ambiguous', cookies: [] });
  });
});

describe('hardening item 7: a Cookie header over 64 KiB', () => {
  /** Small pairs that end 36 characters before the 64 KiB limit. */
  const pad = Array.from({ length: 13_100 }, () => 'p=1').join('; ');

  it('item 7: a live token crossing the cut is not read cut short: no "malformed", no deletion cookie', async () => {
    const { sessions, probe } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    probe.reset();
    const result = await sessions.validateCookie(`${pad}; __Host-sid=${issued.token}`);
    expect(result).toMatchObject({ session: null, status: 'absent', cookies: [] });
    expect(probe.total()).toBe(0);
    // Split over two header lines, the same.
    expect(await sessions.validateCookie([pad, `__Host-sid=${issued.token}`])).toMatchObject({
      status: 'absent',
      cookies: [],
    });
  });

  it('item 7: a dead cookie before the cut is not deleted: the live one may lie past it', async () => {
    const { sessions } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    const big = `__Host-sid=junk; ${pad}; __Host-sid=${issued.token}`;
    expect(await sessions.validateCookie(big)).toMatchObject({ session: null, status: 'malformed', cookies: [] });
    expect(await sessions.validateCookie(['__Host-sid=junk', pad, `__Host-sid=${issued.token}`])).toMatchObject({
      status: 'malformed',
      cookies: [],
    });
    // A live token before the cut still works, and a short header's dead cookie is still cleared.
    expect((await sessions.validateCookie(`__Host-sid=${issued.token}; ${pad}; more=1`)).status).toBe('valid');
    expect((await sessions.validateCookie('__Host-sid=junk')).cookies).toEqual([sessions.deletionCookie()]);
  });
});

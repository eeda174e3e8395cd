/**
 * tough-cookie (an independent RFC 6265bis user-agent implementation) as the oracle for the
 * Set-Cookie values we emit: rows B1, B6, B7 and SC-04. Node-only: tough-cookie uses Node APIs.
 */
import { CookieJar } from 'tough-cookie';
import { describe, expect, it } from 'vitest';
import { cookieHeaderFrom, DAY, HOUR, setup } from './helpers/setup.js';

const ORIGIN = 'https://app.test/login';

function strictJar(): CookieJar {
  return new CookieJar(undefined, { prefixSecurity: 'strict' });
}

describe('tough-cookie oracle', () => {
  it('B1/SC-04: accepts our __Host-sid from https://app.test/ as secure, httpOnly, SameSite=Lax, Path=/, host-only', async () => {
    const { sessions } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    const jar = strictJar();
    await jar.setCookie(issued.cookies[0] as string, ORIGIN);
    const cookies = await jar.getCookies('https://app.test/account', { sameSiteContext: 'strict' });
    expect(cookies).toHaveLength(1);
    const [cookie] = cookies;
    expect(cookie).toMatchObject({
      key: '__Host-sid',
      value: issued.token,
      secure: true,
      httpOnly: true,
      sameSite: 'lax',
      path: '/',
      hostOnly: true,
    });
    expect(await jar.getCookieString('https://app.test/')).toBe(cookieHeaderFrom(issued.cookies[0]));
  });

  it('SC-04: a cross-site request context does not get the Lax cookie; a sibling host or plain http never does', async () => {
    const { sessions } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    const jar = strictJar();
    await jar.setCookie(issued.cookies[0] as string, ORIGIN);
    expect(await jar.getCookies('https://app.test/x', { sameSiteContext: 'none' })).toEqual([]);
    expect(await jar.getCookies('https://sub.app.test/x', { sameSiteContext: 'strict' })).toEqual([]);
    expect(await jar.getCookies('http://app.test/x', { sameSiteContext: 'strict' })).toEqual([]);
  });

  it('B1: a strict jar refuses a __Host- cookie without its rules, which is why we never emit one', async () => {
    const jar = strictJar();
    await jar.setCookie('__Host-sid=x; Path=/app; Secure', ORIGIN, { ignoreError: true });
    await jar.setCookie('__Host-sid=y; Path=/; Secure; Domain=app.test', ORIGIN, { ignoreError: true });
    await jar.setCookie('__Host-sid=z; Path=/', 'http://app.test/', { ignoreError: true });
    expect(await jar.getCookies('https://app.test/app/x')).toEqual([]);
  });

  it('B6: the default session cookie is a browser-session cookie (no expiry); "remember me" lives exactly its Max-Age', async () => {
    const { sessions } = setup({ policy: { persistentAbsoluteTimeoutMs: 30 * DAY } });
    const plain = await sessions.create({ userId: 'u1' });
    const remembered = await sessions.create({ userId: 'u2', persistent: true });
    const jar = strictJar();
    await jar.setCookie(plain.cookies[0] as string, ORIGIN);
    const [session] = await jar.getCookies('https://app.test/');
    expect(session?.isPersistent()).toBe(false);
    expect(session?.TTL()).toBe(Number.POSITIVE_INFINITY);

    const persistentJar = strictJar();
    await persistentJar.setCookie(remembered.cookies[0] as string, ORIGIN);
    const [persistent] = await persistentJar.getCookies('https://app.test/');
    expect(persistent?.isPersistent()).toBe(true);
    // tough-cookie counts Max-Age from the time it stored the cookie.
    const created = persistent?.creation as Date;
    expect((persistent?.expiryTime(created) as number) - created.getTime()).toBe(30 * DAY);
  });

  it('SC-05: a session with 500 days left is kept by the user agent for 400 days, not 500', async () => {
    // The policy refuses lifetimes over 400 days; a record written under an older policy may have one.
    const { sessions, clock } = setup();
    const setCookie = sessions.sessionCookie('a'.repeat(43), {
      absoluteExpiresAt: clock.now() + 500 * DAY,
      persistent: true,
    });
    const jar = strictJar();
    await jar.setCookie(setCookie, ORIGIN);
    const [cookie] = await jar.getCookies('https://app.test/');
    const created = cookie?.creation as Date;
    expect((cookie?.expiryTime(created) as number) - created.getTime()).toBe(400 * DAY);
  });

  it('B7: after logout the deletion cookie empties the jar (same name, path, Secure, prefix)', async () => {
    const { sessions } = setup({ policy: { persistentAbsoluteTimeoutMs: 2 * HOUR } });
    const issued = await sessions.create({ userId: 'u1', persistent: true });
    const jar = strictJar();
    await jar.setCookie(issued.cookies[0] as string, ORIGIN);
    expect(await jar.getCookies('https://app.test/')).toHaveLength(1);
    await sessions.revoke(issued.session.id);
    await jar.setCookie(sessions.deletionCookie(), 'https://app.test/logout');
    expect(await jar.getCookies('https://app.test/')).toEqual([]);
  });

  it('B7: a rotation replaces the cookie in the jar rather than adding a second one', async () => {
    const { sessions } = setup();
    const issued = await sessions.create({ userId: 'u1' });
    const jar = strictJar();
    await jar.setCookie(issued.cookies[0] as string, ORIGIN);
    const rotated = await sessions.rotate(issued.session);
    await jar.setCookie(rotated.cookies[0] as string, 'https://app.test/elevate');
    const cookies = await jar.getCookies('https://app.test/');
    expect(cookies.map((c) => c.value)).toEqual([rotated.token]);
  });
});

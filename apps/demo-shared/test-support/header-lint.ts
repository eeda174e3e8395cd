import { resolveCookiePolicy } from '@org/session-core/adapter';
import { lintHttpResponse } from '@org/session-core/testing';
import { expect } from 'vitest';

/** The exact Set-Cookie shapes the demo may send (production mode, B1, B7, H5). */
const SESSION_COOKIE =
  /^__Host-sid=[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}; Path=\/(; Max-Age=\d+)?; Secure; HttpOnly; SameSite=Lax$/;
const SESSION_DELETION =
  /^__Host-sid=; Path=\/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Lax$/;
const PRE_SESSION_COOKIE = /^__Host-pre=[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Strict$/;
const PRE_SESSION_DELETION =
  /^__Host-pre=; Path=\/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Strict$/;
/** The short-lived DBSC bound cookie (docs/device-bound-sessions.md): `<expiry>.<HMAC>`. */
const BOUND_COOKIE =
  /^__Host-sid-bound=[0-9a-z]+\.[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; Secure; HttpOnly; SameSite=Lax$/;
const BOUND_DELETION =
  /^__Host-sid-bound=; Path=\/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Lax$/;

export interface LintedResponse {
  status: number;
  headers: Headers;
  body: string;
}

const productionPolicy = resolveCookiePolicy();

/**
 * The header check every demo response goes through: core's shared lint (cookie flags as the
 * policy says, one Set-Cookie per name, `Cache-Control: no-store` wherever a cookie is set, no token
 * in a body or a Location header, error bodies in core's shape), plus the demo's own rules: the
 * exact Set-Cookie strings, and HSTS on every response (K2).
 */
export function lintResponse(response: LintedResponse, knownTokens: Iterable<string>): void {
  const setCookies = response.headers.getSetCookie();
  const problems = lintHttpResponse(
    { status: response.status, headers: response.headers, setCookies, body: response.body },
    { sessionCookie: productionPolicy, preSessionCookieName: '__Host-pre', secrets: knownTokens },
  );
  expect(problems).toEqual([]);
  const names = setCookies.map((cookie) => cookie.slice(0, cookie.indexOf('=')));
  expect(new Set(names).size, `one Set-Cookie per name: ${names.join(', ')}`).toBe(names.length);
  for (const cookie of setCookies) {
    const shapes = [
      SESSION_COOKIE,
      SESSION_DELETION,
      PRE_SESSION_COOKIE,
      PRE_SESSION_DELETION,
      BOUND_COOKIE,
      BOUND_DELETION,
    ];
    expect(
      shapes.some((shape) => shape.test(cookie)),
      `unexpected Set-Cookie shape: ${cookie.replace(/=[^;]+/, '=<value>')}`,
    ).toBe(true);
  }
  if (setCookies.length > 0) expect(response.headers.get('cache-control') ?? '').toContain('no-store');
  expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
  const location = response.headers.get('location') ?? '';
  for (const token of knownTokens) {
    // Neither the whole token nor its secret half may leak into what a page or script can read.
    const secret = token.slice(token.indexOf('.') + 1);
    expect(response.body.includes(secret), 'a session secret appeared in a response body').toBe(false);
    expect(location.includes(secret), 'a session secret appeared in a Location header').toBe(false);
  }
}

/**
 * Cookie grammar and limits.
 *
 * Source: draft-ietf-httpbis-rfc6265bis (editor's copy, tag -22), section 3.1 "Examples" for the
 * header pairs; section 4.1.1 "Syntax" for the server grammar (cookie-name is an RFC 9110 token,
 * cookie-value is cookie-octets, optionally in DQUOTEs); section 5.6 steps 5 and 6 for the 4096-
 * and 1024-byte limits; section 5.5 for the 400-day cap. The name/value boundary rows follow the
 * web-platform-tests table `cookies/size/name-and-value.html`.
 */

/** Section 3.1: Set-Cookie headers a server sends and the Cookie header a user agent returns. */
export interface CookieExample {
  name: string;
  /** What we pass to `serializeCookie` to produce the example's Set-Cookie value. */
  cookieName: string;
  cookieValue: string;
  attributes: { path?: string; domain?: string; expires?: string; secure: boolean; httpOnly: boolean };
  setCookie: string;
}

export const setCookieExamples: readonly CookieExample[] = [
  {
    name: 'section 3.1: a session identifier with no attributes',
    cookieName: 'SID',
    cookieValue: '31d4d96e407aad42',
    attributes: { secure: false, httpOnly: false },
    setCookie: 'SID=31d4d96e407aad42',
  },
  {
    name: 'section 3.1: Path, Secure and HttpOnly',
    cookieName: 'SID',
    cookieValue: '31d4d96e407aad42',
    attributes: { path: '/', secure: true, httpOnly: true },
    setCookie: 'SID=31d4d96e407aad42; Path=/; Secure; HttpOnly',
  },
  {
    name: 'section 3.1: Path and Domain',
    cookieName: 'lang',
    cookieValue: 'en-US',
    attributes: { path: '/', domain: 'example.com', secure: false, httpOnly: false },
    setCookie: 'lang=en-US; Path=/; Domain=example.com',
  },
  {
    name: 'section 3.1: a persistent cookie with Expires',
    cookieName: 'lang',
    cookieValue: 'en-US',
    attributes: { expires: 'Wed, 09 Jun 2021 10:18:14 GMT', secure: false, httpOnly: false },
    setCookie: 'lang=en-US; Expires=Wed, 09 Jun 2021 10:18:14 GMT',
  },
  {
    name: 'section 3.1: removing a cookie with an Expires date in the past',
    cookieName: 'lang',
    cookieValue: '',
    attributes: { expires: 'Sun, 06 Nov 1994 08:49:37 GMT', secure: false, httpOnly: false },
    setCookie: 'lang=; Expires=Sun, 06 Nov 1994 08:49:37 GMT',
  },
];

/** Section 3.1: Cookie request headers and the pairs a server reads from them. */
export const cookieHeaderExamples: readonly { name: string; header: string; pairs: [string, string][] }[] = [
  { name: 'section 3.1: one cookie', header: 'SID=31d4d96e407aad42', pairs: [['SID', '31d4d96e407aad42']] },
  {
    name: 'section 3.1: two cookies',
    header: 'SID=31d4d96e407aad42; lang=en-US',
    pairs: [
      ['SID', '31d4d96e407aad42'],
      ['lang', 'en-US'],
    ],
  },
];

/** Section 4.1.1: names must be tokens, values cookie-octets (no CTL, space, DQUOTE, ",", ";", "\"). */
export const invalidCookieNames: readonly string[] = [
  '',
  'a b',
  'a;b',
  'a,b',
  'a=b',
  'a"b',
  '(a)',
  'a\tb',
  'é',
  'a\r\nb',
];
export const invalidCookieValues: readonly string[] = [
  'a b',
  'a;b',
  'a,b',
  'a"b',
  'a\\b',
  'a\tb',
  'a\r\nSet-Cookie: x=y',
  'é',
];

/**
 * Section 5.6 step 5: [name length, value length, accepted]. Rows (2048, 2048), (1, 4096),
 * (4096, 1) and (4097, 0) are the web-platform-tests rows; the others apply the same rule at the
 * exact boundary. (WPT's nameless (0, 4096) row is left out: we never emit a nameless cookie.)
 */
export const nameValueBoundaries: readonly [nameLength: number, valueLength: number, accepted: boolean][] = [
  [2048, 2048, true],
  [4095, 1, true],
  [1, 4095, true],
  [4096, 0, true],
  [1, 4096, false],
  [4096, 1, false],
  [4097, 0, false],
];

/** Section 5.6 step 6: attribute values longer than this are ignored by user agents. */
export const MAX_ATTRIBUTE_VALUE_BYTES = 1024;

/** Section 5.5: user agents cap cookie lifetimes at 400 days. */
export const MAX_LIFETIME_SECONDS = 400 * 24 * 60 * 60;

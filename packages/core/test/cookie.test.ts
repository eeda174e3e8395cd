import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  EPOCH_EXPIRES,
  isCookieName,
  isCookieValue,
  MAX_COOKIE_CANDIDATES,
  MAX_COOKIE_HEADER_LENGTH,
} from '../src/cookie.js';
import {
  type CookieAttributes,
  getCookieValues,
  parseCookieHeader,
  resolveCookiePolicy,
  serializeCookie,
  serializeDeletionCookie,
  serializeSessionCookie,
} from '../src/entries/adapter.js';
import { isSessionError } from '../src/index.js';
import { generateSessionToken } from '../src/token.js';

const tokenChars = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const cookieOctets = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i))
  .filter((c) => !'",;\\'.includes(c))
  .join('');

const cookieName = fc.string({ unit: fc.constantFrom(...tokenChars), minLength: 1, maxLength: 30 });
const cookieValue = fc.string({ unit: fc.constantFrom(...cookieOctets), maxLength: 60 });

/** RFC 6265bis section 4.1.1 for what we emit: one pair, then known attributes in our order. */
const SET_COOKIE_GRAMMAR =
  /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+=[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*(; Path=[\x20-\x3a\x3c-\x7e]{1,1024})?(; Domain=[\x20-\x3a\x3c-\x7e]{1,1024})?(; Max-Age=\d+)?(; Expires=[\x20-\x3a\x3c-\x7e]{1,1024})?(; Secure)?(; HttpOnly)?(; SameSite=(Lax|Strict|None))?(; Partitioned)?$/;

/** True when every character is printable ASCII (space to "~"): no CR, LF, NUL or other controls. */
function isPrintableAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

function codeOf(run: () => unknown): string | null {
  try {
    run();
    return null;
  } catch (error) {
    return isSessionError(error) ? error.code : `not a SessionError: ${String(error)}`;
  }
}

describe('resolveCookiePolicy', () => {
  it('B1/A3: production defaults to __Host-sid, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain', () => {
    expect(resolveCookiePolicy()).toEqual({
      mode: 'production',
      name: '__Host-sid',
      path: '/',
      domain: undefined,
      secure: true,
      httpOnly: true,
      sameSite: 'lax',
      partitioned: false,
    });
    expect(Object.isFrozen(resolveCookiePolicy())).toBe(true);
  });

  it('B9: development is an explicit mode: plain "sid", no Secure, still HttpOnly and SameSite', () => {
    expect(resolveCookiePolicy({}, 'development')).toMatchObject({
      mode: 'development',
      name: 'sid',
      secure: false,
      httpOnly: true,
      sameSite: 'lax',
    });
    expect(codeOf(() => resolveCookiePolicy({}, 'staging' as never))).toBe('CONFIG_INVALID');
  });

  it('K3: sharing with subdomains needs an explicit Domain and then defaults to __Secure-sid', () => {
    expect(resolveCookiePolicy({ domain: 'example.com' })).toMatchObject({
      name: '__Secure-sid',
      domain: 'example.com',
    });
    expect(resolveCookiePolicy({ path: '/app' })).toMatchObject({ name: '__Secure-sid', path: '/app' });
  });

  it('B1: refuses a __Host- name with a Domain, another Path or without Secure (any letter case)', () => {
    // @ts-expect-error the type refuses it too (cookie-types.test.ts); this is the JavaScript caller's check
    expect(codeOf(() => resolveCookiePolicy({ name: '__Host-sid', domain: 'example.com' }))).toBe('CONFIG_INVALID');
    // @ts-expect-error as above
    expect(codeOf(() => resolveCookiePolicy({ name: '__Host-sid', path: '/app' }))).toBe('CONFIG_INVALID');
    expect(codeOf(() => resolveCookiePolicy({ name: '__host-sid' }, 'development'))).toBe('CONFIG_INVALID');
    expect(codeOf(() => resolveCookiePolicy({ name: '__SECURE-sid' }, 'development'))).toBe('CONFIG_INVALID');
  });

  it('B3: refuses SameSite=None without Secure, and unknown SameSite values', () => {
    expect(codeOf(() => resolveCookiePolicy({ sameSite: 'none' }, 'development'))).toBe('CONFIG_INVALID');
    expect(resolveCookiePolicy({ sameSite: 'none' }).sameSite).toBe('none');
    expect(resolveCookiePolicy({ sameSite: 'strict' }).sameSite).toBe('strict');
    expect(codeOf(() => resolveCookiePolicy({ sameSite: 'Lax' as never }))).toBe('CONFIG_INVALID');
  });

  it('refuses invalid names, relative paths and oversized or injected attributes', () => {
    expect(codeOf(() => resolveCookiePolicy({ name: 'my sid' }))).toBe('CONFIG_INVALID');
    expect(codeOf(() => resolveCookiePolicy({ name: '' }))).toBe('CONFIG_INVALID');
    expect(codeOf(() => resolveCookiePolicy({ name: 'sid', path: 'app' }))).toBe('CONFIG_INVALID');
    expect(codeOf(() => resolveCookiePolicy({ name: 'sid', path: `/${'a'.repeat(1024)}` }))).toBe('CONFIG_INVALID');
    expect(codeOf(() => resolveCookiePolicy({ name: 'sid', domain: 'a.com; Secure' }))).toBe('CONFIG_INVALID');
  });
});

describe('serializeSessionCookie / serializeDeletionCookie', () => {
  const policy = resolveCookiePolicy();
  const { token } = generateSessionToken();

  it('B1/B2/B3/A3: the session cookie is exactly __Host-sid=<token>; Path=/; Secure; HttpOnly; SameSite=Lax', () => {
    expect(serializeSessionCookie(policy, token)).toBe(`__Host-sid=${token}; Path=/; Secure; HttpOnly; SameSite=Lax`);
  });

  it('B6: no Max-Age unless given (persistent sessions), then capped at 400 days', () => {
    expect(serializeSessionCookie(policy, token)).not.toMatch(/Max-Age|Expires/);
    expect(serializeSessionCookie(policy, token, 3600)).toBe(
      `__Host-sid=${token}; Path=/; Max-Age=3600; Secure; HttpOnly; SameSite=Lax`,
    );
    expect(serializeSessionCookie(policy, token, 10 ** 9)).toContain('Max-Age=34560000;');
  });

  it('B7: deletion keeps name, Path, Secure and prefix, with Max-Age=0 and a 1970 Expires', () => {
    expect(serializeDeletionCookie(policy)).toBe(
      `__Host-sid=; Path=/; Max-Age=0; Expires=${EPOCH_EXPIRES}; Secure; HttpOnly; SameSite=Lax`,
    );
    expect(EPOCH_EXPIRES).toBe('Thu, 01 Jan 1970 00:00:00 GMT');
  });

  it('carry Domain and Partitioned when the policy has them', () => {
    const shared = resolveCookiePolicy({ domain: 'example.com', partitioned: true });
    expect(serializeSessionCookie(shared, 'v')).toBe(
      '__Secure-sid=v; Path=/; Domain=example.com; Secure; HttpOnly; SameSite=Lax; Partitioned',
    );
    expect(serializeDeletionCookie(shared)).toContain('__Secure-sid=; Path=/; Domain=example.com; Max-Age=0;');
  });

  it('B9: development cookies carry no Secure', () => {
    expect(serializeSessionCookie(resolveCookiePolicy({}, 'development'), 'v')).toBe(
      'sid=v; Path=/; HttpOnly; SameSite=Lax',
    );
  });
});

describe('serializeCookie', () => {
  it('defaults to Secure and HttpOnly; writes attributes in a fixed order', () => {
    expect(serializeCookie('a', 'b')).toBe('a=b; Secure; HttpOnly');
    const attributes: CookieAttributes = {
      path: '/',
      domain: 'example.com',
      maxAge: 60,
      expires: EPOCH_EXPIRES,
      sameSite: 'strict',
      partitioned: true,
    };
    expect(serializeCookie('a', 'b', attributes)).toBe(
      `a=b; Path=/; Domain=example.com; Max-Age=60; Expires=${EPOCH_EXPIRES}; Secure; HttpOnly; SameSite=Strict; Partitioned`,
    );
  });

  it('SC-01: refuses names and values with ";", ",", CR, LF, space, DQUOTE or "\\" (no header injection)', () => {
    for (const bad of [';', ',', '\r', '\n', ' ', '"', '\\']) {
      expect(
        codeOf(() => serializeCookie(`a${bad}b`, 'v')),
        JSON.stringify(bad),
      ).toBe('COOKIE_INVALID');
      expect(
        codeOf(() => serializeCookie('n', `a${bad}b`)),
        JSON.stringify(bad),
      ).toBe('COOKIE_INVALID');
    }
    expect(codeOf(() => serializeCookie('n', 'v', { path: '/\r\nSet-Cookie: x=y' }))).toBe('COOKIE_INVALID');
    expect(codeOf(() => serializeCookie('n', 'v', { domain: 'a.com; HttpOnly' }))).toBe('COOKIE_INVALID');
    expect(codeOf(() => serializeCookie('n', 'v', { expires: 'Thu, 01 Jan 1970\u0000' }))).toBe('COOKIE_INVALID');
  });

  it('SC-03/B4: name + value of 4096 bytes passes, 4097 throws COOKIE_TOO_LARGE; attributes over 1024 throw', () => {
    expect(serializeCookie('n', 'v'.repeat(4095))).toMatch(/^n=v{4095}; /);
    expect(codeOf(() => serializeCookie('n', 'v'.repeat(4096)))).toBe('COOKIE_TOO_LARGE');
    expect(codeOf(() => serializeCookie('n', 'v', { domain: `${'a'.repeat(1021)}.com` }))).toBe('COOKIE_TOO_LARGE');
    expect(codeOf(() => serializeCookie('n', 'v', { domain: `${'a'.repeat(1020)}.com` }))).toBeNull();
  });

  it('SC-05: Max-Age above 400 days is capped at 34 560 000; negative or fractional Max-Age throws', () => {
    expect(serializeCookie('n', 'v', { maxAge: 500 * 86_400 })).toContain('Max-Age=34560000;');
    expect(codeOf(() => serializeCookie('n', 'v', { maxAge: -1 }))).toBe('COOKIE_INVALID');
    expect(codeOf(() => serializeCookie('n', 'v', { maxAge: 1.5 }))).toBe('COOKIE_INVALID');
    expect(codeOf(() => serializeCookie('n', 'v', { maxAge: Number.NaN }))).toBe('COOKIE_INVALID');
  });

  it('refuses attributes a browser would ignore: a relative Path, an empty Domain or Expires', () => {
    expect(codeOf(() => serializeCookie('n', 'v', { path: 'app' }))).toBe('COOKIE_INVALID');
    expect(codeOf(() => serializeCookie('n', 'v', { path: '' }))).toBe('COOKIE_INVALID');
    expect(codeOf(() => serializeCookie('n', 'v', { domain: '' }))).toBe('COOKIE_INVALID');
    expect(codeOf(() => serializeCookie('n', 'v', { expires: '' }))).toBe('COOKIE_INVALID');
  });

  it('B1/B3: enforces prefix rules, SameSite=None and Partitioned only with Secure', () => {
    expect(codeOf(() => serializeCookie('__Host-x', 'v', { path: '/' }))).toBeNull();
    expect(codeOf(() => serializeCookie('__Host-x', 'v'))).toBe('COOKIE_INVALID');
    expect(codeOf(() => serializeCookie('__Host-x', 'v', { path: '/', domain: 'a.com' }))).toBe('COOKIE_INVALID');
    expect(codeOf(() => serializeCookie('__HoSt-x', 'v', { path: '/', secure: false }))).toBe('COOKIE_INVALID');
    expect(codeOf(() => serializeCookie('__Secure-x', 'v', { secure: false }))).toBe('COOKIE_INVALID');
    expect(codeOf(() => serializeCookie('x', 'v', { secure: false, sameSite: 'none' }))).toBe('COOKIE_INVALID');
    expect(codeOf(() => serializeCookie('x', 'v', { secure: false, partitioned: true }))).toBe('COOKIE_INVALID');
  });

  it('B5: fuzzed names, values and attributes either throw a coded error or match the grammar (property)', () => {
    const anyText = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), cookieValue);
    fc.assert(
      fc.property(
        fc.oneof(anyText, cookieName),
        anyText,
        fc.record(
          {
            path: fc.oneof(anyText, fc.constant('/')),
            domain: anyText,
            maxAge: fc.oneof(fc.integer(), fc.double()),
            expires: anyText,
            secure: fc.boolean(),
            httpOnly: fc.boolean(),
            sameSite: fc.constantFrom('lax', 'strict', 'none'),
            partitioned: fc.boolean(),
          },
          { requiredKeys: [] },
        ),
        (name, value, attributes) => {
          let header: string;
          try {
            header = serializeCookie(name, value, attributes as CookieAttributes);
          } catch (error) {
            expect(isSessionError(error, 'COOKIE_INVALID', 'COOKIE_TOO_LARGE')).toBe(true);
            return;
          }
          expect(header).toMatch(SET_COOKIE_GRAMMAR);
          expect(header.startsWith(`${name}=${value}`)).toBe(true);
          expect(isPrintableAscii(header)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('round-trips: what we serialize, a Cookie header gives back unchanged (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(cookieName, cookieValue), { minLength: 1, maxLength: 8 }), (pairs) => {
        const header = pairs.map(([name, value]) => serializeCookie(name, value).split('; ')[0]).join('; ');
        expect(parseCookieHeader(header)).toEqual(pairs);
        expect(parseCookieHeader(header.split('; '))).toEqual(pairs);
      }),
    );
  });
});

describe('isCookieName / isCookieValue', () => {
  it('follow the RFC 9110 token and RFC 6265bis cookie-octet grammars', () => {
    expect(isCookieName('__Host-sid')).toBe(true);
    expect(isCookieName(tokenChars)).toBe(true);
    for (const bad of ['', 'a b', 'a=b', 'a;b', '(a)', 'a/b', 'é']) expect(isCookieName(bad), bad).toBe(false);
    expect(isCookieValue('')).toBe(true);
    expect(isCookieValue(cookieOctets)).toBe(true);
    for (const bad of [' ', '"', ',', ';', '\\', '\u007f', 'é', '\t'])
      expect(isCookieValue(`a${bad}`), bad).toBe(false);
    expect(isCookieName(42 as unknown as string)).toBe(false);
    expect(isCookieValue(null as unknown as string)).toBe(false);
  });
});

describe('parseCookieHeader / getCookieValues', () => {
  const good = generateSessionToken().token;

  it('reads pairs in order, trimming spaces and tabs around names, values and separators', () => {
    expect(parseCookieHeader(' a = 1 ;\tb=2;;c=3 ')).toEqual([
      ['a', '1'],
      ['b', '2'],
      ['c', '3'],
    ]);
    expect(parseCookieHeader('a=b=c')).toEqual([['a', 'b=c']]);
    expect(parseCookieHeader('a=')).toEqual([['a', '']]);
  });

  it('CK-01/CK-02: no header, an empty value, no "=", a nameless pair or a bare word give no value', () => {
    for (const header of [undefined, null, '', ';', '__Host-sid=', '__Host-sid', '=tok', 'tok', ' = ']) {
      expect(getCookieValues(header, '__Host-sid'), JSON.stringify(header)).toEqual([]);
    }
    expect(parseCookieHeader('__Host-sid; =tok; tok')).toEqual([]);
  });

  it('CK-04/B10: neither strips quotes nor percent-decodes', () => {
    expect(getCookieValues(`__Host-sid="${good}"`, '__Host-sid')).toEqual([`"${good}"`]);
    expect(getCookieValues(`__Host-sid=${good.replace('.', '%2E')}`, '__Host-sid')).toEqual([good.replace('.', '%2E')]);
  });

  it('CK-05: skips pairs with control characters, NUL or non-ASCII, including homoglyph names', () => {
    expect(getCookieValues(`__\u0397ost-sid=${good}`, '__Host-sid')).toEqual([]);
    expect(parseCookieHeader(`__\u0397ost-sid=${good}`)).toEqual([]);
    expect(parseCookieHeader(`a=1\u0000; b=\u0001; c=é; d=4`)).toEqual([['d', '4']]);
    expect(parseCookieHeader('a=1\r\nb=2')).toEqual([]);
  });

  it('CK-06/B10: names are exact-case: __host-sid and __HOST-SID are other cookies', () => {
    expect(getCookieValues(`__host-sid=evil; __HOST-SID=evil2; __Host-sid=${good}`, '__Host-sid')).toEqual([good]);
  });

  it('CK-09/B10: keeps at most 4 candidates of one name, in order', () => {
    const header = Array.from({ length: 50 }, (_, i) => `__Host-sid=v${i}`).join('; ');
    expect(getCookieValues(header, '__Host-sid')).toEqual(['v0', 'v1', 'v2', 'v3']);
    expect(MAX_COOKIE_CANDIDATES).toBe(4);
    expect(getCookieValues(header, '__Host-sid', 2)).toEqual(['v0', 'v1']);
    expect(getCookieValues(header, '__Host-sid', 0)).toEqual([]);
  });

  it('CK-10: reads several Cookie header lines (HTTP/2 splits them) as one', () => {
    expect(getCookieValues(['a=1; b=2', `__Host-sid=${good}`], '__Host-sid')).toEqual([good]);
    expect(parseCookieHeader(['a=1', 'b=2'])).toEqual([
      ['a', '1'],
      ['b', '2'],
    ]);
  });

  it('CK-11: finds ours after 8 KiB of junk; skips a pair over 4096 bytes; reads at most 64 KiB', () => {
    const junk = Array.from({ length: 400 }, (_, i) => `junk${i}=${'x'.repeat(16)}`).join('; ');
    expect(junk.length).toBeGreaterThan(8 * 1024);
    expect(getCookieValues(`${junk}; __Host-sid=${good}`, '__Host-sid')).toEqual([good]);
    expect(getCookieValues(`big=${'x'.repeat(5000)}; __Host-sid=${good}`, '__Host-sid')).toEqual([good]);
    expect(getCookieValues(`__Host-sid=${'x'.repeat(4096)}`, '__Host-sid')).toEqual([]);
    const beyond = `${'a=1; '.repeat(MAX_COOKIE_HEADER_LENGTH / 5)}__Host-sid=${good}`;
    expect(getCookieValues(beyond, '__Host-sid')).toEqual([]);
    expect(
      getCookieValues([`pad=${'x'.repeat(MAX_COOKIE_HEADER_LENGTH)}`, `__Host-sid=${good}`], '__Host-sid'),
    ).toEqual([]);
  });

  it('ignores non-string entries in a list of header lines', () => {
    expect(parseCookieHeader(['a=1', 42 as unknown as string, 'b=2'])).toEqual([['a', '1']]);
  });

  const realisticSeeds = [
    `_ga=GA1.2.1234567890.1700000000; _gid=GA1.2.987654321.1700000000; __Host-sid=${good}`,
    'SID=31d4d96e407aad42; lang=en-US',
    `theme=dark; __Secure-pref="a,b"; __Host-sid=${good}; csrftoken=abc%3D%3D`,
    'session-id=132-5546548-9654321; session-token="VQ2pZ..."; ubid-main=130-1234567-7654321',
    'a=; b; =c; ;; d=e',
  ];

  it('CK-14: never throws, returns at most the limit, and agrees with parseCookieHeader on any input (property)', () => {
    const header = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.constantFrom(...realisticSeeds),
      fc
        .tuple(fc.constantFrom(...realisticSeeds), fc.string({ maxLength: 40 }), fc.nat(200))
        .map(([seed, noise, at]) => seed.slice(0, at) + noise + seed.slice(at)),
      fc
        .array(
          fc.tuple(fc.constantFrom('__Host-sid', '__host-sid', 'x', ' __Host-sid'), fc.string({ maxLength: 70 })),
          { maxLength: 10 },
        )
        .map((pairs) => pairs.map(([n, v]) => `${n}=${v}`).join('; ')),
    );
    fc.assert(
      fc.property(
        fc.oneof(header, fc.array(header, { maxLength: 3 })),
        fc.integer({ min: 1, max: 6 }),
        (input, limit) => {
          const pairs = parseCookieHeader(input);
          for (const [name, value] of pairs) {
            // Other cookies' names may hold inner spaces (browsers let scripts set those); never
            // "=", ";", controls, non-ASCII or surrounding whitespace.
            expect(name).toMatch(/^[\x21-\x3a\x3c\x3e-\x7e]([\x20-\x3a\x3c\x3e-\x7e]*[\x21-\x3a\x3c\x3e-\x7e])?$/);
            expect(value).not.toMatch(/^[ \t]|[ \t]$|;/);
            expect(isPrintableAscii(value)).toBe(true);
          }
          const values = getCookieValues(input, '__Host-sid', limit);
          const expected = pairs
            .filter(([name, value]) => name === '__Host-sid' && value !== '')
            .map(([, value]) => value);
          // Distinct values, in order of first appearance, then the limit.
          expect(values).toEqual([...new Set(expected)].slice(0, limit));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('getCookieValues agrees with parseCookieHeader for any name, token or not (property)', () => {
    const names = fc.oneof(
      cookieName,
      fc.constantFrom('', ' x', 'x ', 'a b', 'a=b', 'a;b', '__Host-sid', 'x', 'é', 'a\tb'),
      fc.string({ maxLength: 6 }),
    );
    const headers = fc
      .tuple(
        fc.array(
          fc.tuple(
            fc.oneof(names, fc.constantFrom(' ', '\t', '')),
            // Mixed tabs and spaces on either side of "=" once sent the fast path into a busy loop.
            fc.constantFrom('=', ' = ', '\t=', '', '==', '\t =', ' \t=', '=\t ', '= \t', '\t\t=\t\t'),
            fc.oneof(cookieValue, fc.string({ maxLength: 12 })),
          ),
          { maxLength: 8 },
        ),
        fc.constantFrom(';', '; ', ' ;'),
      )
      .map(([pairs, separator]) => pairs.map(([n, eq, v]) => `${n}${eq}${v}`).join(separator));
    fc.assert(
      fc.property(
        fc.oneof(headers, fc.array(headers, { maxLength: 3 })),
        names,
        fc.integer({ min: 1, max: 5 }),
        (input, name, limit) => {
          const expected = parseCookieHeader(input)
            .filter(([pairName, value]) => pairName === name && value !== '')
            .map(([, value]) => value);
          expect(getCookieValues(input, name, limit)).toEqual([...new Set(expected)].slice(0, limit));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('CK-05: tabs mixed with spaces around "=" are trimmed like spaces, and the scan ends (no busy loop)', () => {
    for (const [header, value] of [
      ['__Host-sid\t =x', 'x'],
      ['__Host-sid=\t x', 'x'],
      ['__Host-sid \t\t= x', 'x'],
      [`__Host-sid=\t ${good}`, good],
    ]) {
      expect(getCookieValues(header, '__Host-sid'), JSON.stringify(header)).toEqual([value]);
    }
    expect(getCookieValues(`__Host-sid\t =junk; __Host-sid=${good}`, '__Host-sid')).toEqual(['junk', good]);
    expect(getCookieValues(`__Host-sid = ${good}`, '__Host-sid')).toEqual([good]);
  });

  it('CK-14: hostile 64 KiB headers are read to the end of the budget without throwing', () => {
    const hostile = [
      'a;'.repeat(32 * 1024),
      '='.repeat(64 * 1024),
      ' '.repeat(64 * 1024),
      `a=${'"'.repeat(64 * 1024)}`,
    ];
    for (const header of hostile) {
      expect(() => parseCookieHeader(`${header}; __Host-sid=${good}`)).not.toThrow();
      expect(getCookieValues(`${header}`, '__Host-sid')).toEqual([]);
    }
    expect(getCookieValues(`${'a;'.repeat(16 * 1024)}__Host-sid=${good}`, '__Host-sid')).toEqual([good]);
  });
});

describe('hardening item 6: same-name cookies (cookie tossing)', () => {
  const real = generateSessionToken().token;

  it('item 6: duplicates are removed before the limit, so repeated junk cannot push the real value out', () => {
    const tossed = `${'__Host-sid=junk; '.repeat(4)}__Host-sid=${real}`;
    expect(getCookieValues(tossed, '__Host-sid')).toEqual(['junk', real]);
    expect(getCookieValues(['__Host-sid=junk', '__Host-sid=junk', `__Host-sid=${real}`], '__Host-sid')).toEqual([
      'junk',
      real,
    ]);
    // Names outside the token grammar take the general path: same rule.
    expect(getCookieValues('a b=1; a b=1; a b=1; a b=1; a b=2', 'a b')).toEqual(['1', '2']);
    expect(parseCookieHeader('a=1; a=1')).toEqual([
      ['a', '1'],
      ['a', '1'],
    ]);
  });

  it('item 6: asking for one more than the limit tells that more distinct values arrived', () => {
    const five = Array.from({ length: 5 }, (_, i) => `__Host-sid=v${i}`).join('; ');
    expect(getCookieValues(five, '__Host-sid', MAX_COOKIE_CANDIDATES + 1)).toHaveLength(MAX_COOKIE_CANDIDATES + 1);
    expect(getCookieValues(`${five}; ${five}`, '__Host-sid', 6)).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
  });

  describe('item 6: a production session cookie without __Host- is warned about once', () => {
    const warnings: string[] = [];
    afterEach(() => {
      vi.restoreAllMocks();
      warnings.length = 0;
    });
    // A spy that still calls the real console.warn: it only records what was written.
    const watch = () => vi.spyOn(console, 'warn').mockName('console.warn');

    it('warns for a Domain, a Path or a custom name in production, naming the cookie and the opt-out', () => {
      const warn = watch();
      resolveCookiePolicy({ domain: 'item6.example', name: '__Secure-item6a' });
      resolveCookiePolicy({ path: '/item6', name: '__Secure-item6b' });
      resolveCookiePolicy({ name: 'item6c' });
      warnings.push(...warn.mock.calls.map((call) => String(call[0])));
      expect(warnings).toHaveLength(3);
      expect(warnings[0]).toContain('"__Secure-item6a" has no __Host- prefix');
      expect(warnings[2]).toContain('cookie.allowWithoutHostPrefix: true');
      // Once per name: a manager built per request does not flood the log.
      resolveCookiePolicy({ name: 'item6c' });
      expect(warn).toHaveBeenCalledTimes(3);
    });

    it('stays quiet for __Host- names, in development mode, and when the risk is accepted', () => {
      const warn = watch();
      resolveCookiePolicy();
      resolveCookiePolicy({ name: '__Host-item6' });
      resolveCookiePolicy({ name: 'item6d' }, 'development');
      resolveCookiePolicy({ name: 'item6e', allowWithoutHostPrefix: true });
      expect(warn).not.toHaveBeenCalled();
      // The opt-out is configuration, not part of the resolved policy.
      expect(resolveCookiePolicy({ name: 'item6e', allowWithoutHostPrefix: true })).not.toHaveProperty(
        'allowWithoutHostPrefix',
      );
    });
  });
});

describe('hardening item 7: Cookie headers over 64 KiB', () => {
  const token = generateSessionToken().token;

  it('item 7: the pair crossing the 64 KiB cut is dropped whole, never returned cut short', () => {
    // 13 100 small pairs end 36 characters before the limit: the cut falls inside the token.
    const pad = Array.from({ length: 13_100 }, () => 'p=1').join('; ');
    const header = `${pad}; __Host-sid=${token}`;
    expect(header.length).toBeGreaterThan(MAX_COOKIE_HEADER_LENGTH);
    expect(header.indexOf(token)).toBeLessThan(MAX_COOKIE_HEADER_LENGTH);
    expect(getCookieValues(header, '__Host-sid')).toEqual([]);
    const pairs = parseCookieHeader(header);
    expect(pairs).toHaveLength(13_100);
    expect(pairs.at(-1)).toEqual(['p', '1']);
    // Split over header lines, the same.
    expect(getCookieValues([pad, `__Host-sid=${token}`], '__Host-sid')).toEqual([]);
    expect(parseCookieHeader([pad, `__Host-sid=${token}`])).toHaveLength(13_100);
    // Complete pairs before the cut are still read.
    const early = `__Host-sid=${token}; big=${'x'.repeat(MAX_COOKIE_HEADER_LENGTH)}; tail=${'y'.repeat(64)}`;
    expect(getCookieValues(early, '__Host-sid')).toEqual([token]);
    expect(parseCookieHeader(early).map(([name]) => name)).toEqual(['__Host-sid']);
  });

  it('item 7: a pair ending exactly at the limit is complete and read', () => {
    const pair = `__Host-sid=${token}`;
    const header = `${'a=1; '.repeat(2000)}${'b'.repeat(MAX_COOKIE_HEADER_LENGTH - 10_000 - pair.length - 4)}=1; ${pair}`;
    expect(header.length).toBe(MAX_COOKIE_HEADER_LENGTH);
    expect(getCookieValues(header, '__Host-sid')).toEqual([token]);
    expect(getCookieValues(`${header};more=1`, '__Host-sid')).toEqual([token]);
    expect(getCookieValues(`${header}x`, '__Host-sid')).toEqual([]);
  });
});

describe('hardening item 8: parser input and whitespace', () => {
  it('item 8: parseCookieHeader and getCookieValues never throw for values of the wrong type', () => {
    for (const input of [42, {}, true, false, 0, Symbol('x'), () => 'a=1', { length: 2, 0: 'a=1' }, new Map()]) {
      const header = input as unknown as string;
      expect(parseCookieHeader(header), String(typeof input)).toEqual([]);
      expect(getCookieValues(header, 'a'), String(typeof input)).toEqual([]);
      expect(getCookieValues(header, 'a b'), String(typeof input)).toEqual([]);
    }
  });

  it('item 8: a tab next to "=" is optional whitespace like a space (RFC 6265bis WSP), for both parsers', () => {
    for (const header of ['sid\t=1', 'sid=\t1', 'sid\t=\t1', 'sid \t=\t 1', '\tsid=1\t', 'sid = 1']) {
      expect(parseCookieHeader(header), JSON.stringify(header)).toEqual([['sid', '1']]);
      expect(getCookieValues(header, 'sid'), JSON.stringify(header)).toEqual(['1']);
    }
    expect(getCookieValues('a b\t=\t1', 'a b')).toEqual(['1']);
  });

  it('item 8: stricter on purpose: a tab or control character inside a name or value still skips the pair', () => {
    for (const header of ['s\tid=1', 'sid=1\t2', 'sid=1\u00002', 'sid=\u00011', 'sid\u0001=1']) {
      expect(parseCookieHeader(header), JSON.stringify(header)).toEqual([]);
      expect(getCookieValues(header, 'sid'), JSON.stringify(header)).toEqual([]);
    }
  });
});

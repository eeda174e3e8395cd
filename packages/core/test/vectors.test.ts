import { describe, expect, it } from 'vitest';
import { MAX_COOKIE_ATTRIBUTE_BYTES } from '../src/cookie.js';
import { base64urlEncode, fromHex, toHex, utf8 } from '../src/encoding.js';
import { base64urlDecode, parseCookieHeader, serializeCookie } from '../src/entries/adapter.js';
import { hmacSha256, sha256 } from '../src/hash.js';
import { MAX_COOKIE_LIFETIME_SECONDS } from '../src/policy.js';
import { base64urlRejected, base64urlVectors } from './vectors/base64url.js';
import {
  cookieHeaderExamples,
  invalidCookieNames,
  invalidCookieValues,
  MAX_ATTRIBUTE_VALUE_BYTES,
  MAX_LIFETIME_SECONDS,
  nameValueBoundaries,
  setCookieExamples,
} from './vectors/cookie-grammar.js';
import { hmacSha256Vectors } from './vectors/hmac-sha256.js';
import { sha256Vectors } from './vectors/sha256.js';

const bytesOf = (hex: string) => fromHex(hex) as Uint8Array;

describe('SHA-256 (FIPS 180-4)', () => {
  for (const vector of sha256Vectors) {
    it(vector.name, () => {
      expect(toHex(sha256(vector.message))).toBe(vector.digestHex);
      expect(toHex(sha256(utf8(vector.message)))).toBe(vector.digestHex);
    });
  }
});

describe('HMAC-SHA-256 (RFC 4231)', () => {
  for (const vector of hmacSha256Vectors) {
    it(vector.name, () => {
      expect(toHex(hmacSha256(bytesOf(vector.keyHex), bytesOf(vector.dataHex)))).toBe(vector.macHex);
    });
  }
});

describe('base64url (RFC 4648)', () => {
  for (const vector of base64urlVectors) {
    it(`encodes and decodes ${vector.name}`, () => {
      expect(base64urlEncode(Uint8Array.from(vector.bytes))).toBe(vector.encoded);
      expect(Array.from(base64urlDecode(vector.encoded) ?? [-1])).toEqual(vector.bytes);
    });
  }
  for (const vector of base64urlRejected) {
    it(`refuses ${vector.name}`, () => {
      expect(base64urlDecode(vector.encoded)).toBeNull();
    });
  }
});

describe('cookie grammar (RFC 6265bis)', () => {
  for (const example of setCookieExamples) {
    it(`serializes ${example.name}`, () => {
      expect(serializeCookie(example.cookieName, example.cookieValue, example.attributes)).toBe(example.setCookie);
    });
  }
  for (const example of cookieHeaderExamples) {
    it(`parses ${example.name}`, () => {
      expect(parseCookieHeader(example.header)).toEqual(example.pairs);
    });
  }
  it('refuses names that are not RFC 9110 tokens (section 4.1.1)', () => {
    for (const name of invalidCookieNames) {
      expect(() => serializeCookie(name, 'v'), JSON.stringify(name)).toThrow(
        expect.objectContaining({ code: 'COOKIE_INVALID' }),
      );
    }
  });
  it('refuses values outside cookie-octets (section 4.1.1)', () => {
    for (const value of invalidCookieValues) {
      expect(() => serializeCookie('n', value), JSON.stringify(value)).toThrow(
        expect.objectContaining({ code: 'COOKIE_INVALID' }),
      );
    }
  });
  for (const [nameLength, valueLength, accepted] of nameValueBoundaries) {
    it(`name ${nameLength} + value ${valueLength} bytes: ${accepted ? 'emitted and read back' : 'refused'} (section 5.6 step 5)`, () => {
      const name = 'n'.repeat(nameLength);
      const value = 'v'.repeat(valueLength);
      if (accepted) {
        expect(serializeCookie(name, value, { secure: false, httpOnly: false })).toBe(`${name}=${value}`);
        expect(parseCookieHeader(`${name}=${value}`)).toEqual([[name, value]]);
      } else {
        expect(() => serializeCookie(name, value)).toThrow(expect.objectContaining({ code: 'COOKIE_TOO_LARGE' }));
        expect(parseCookieHeader(`${name}=${value}`)).toEqual([]);
      }
    });
  }
  it('attribute values: 1024 bytes emitted, 1025 refused (section 5.6 step 6)', () => {
    expect(MAX_COOKIE_ATTRIBUTE_BYTES).toBe(MAX_ATTRIBUTE_VALUE_BYTES);
    const path = `/${'p'.repeat(MAX_ATTRIBUTE_VALUE_BYTES - 1)}`;
    expect(serializeCookie('n', 'v', { path })).toContain(`; Path=${path};`);
    expect(() => serializeCookie('n', 'v', { path: `${path}p` })).toThrow(
      expect.objectContaining({ code: 'COOKIE_TOO_LARGE' }),
    );
  });
  it('Max-Age is capped at 400 days (section 5.5)', () => {
    expect(MAX_COOKIE_LIFETIME_SECONDS).toBe(MAX_LIFETIME_SECONDS);
    expect(serializeCookie('n', 'v', { maxAge: MAX_LIFETIME_SECONDS })).toContain(`Max-Age=${MAX_LIFETIME_SECONDS};`);
    expect(serializeCookie('n', 'v', { maxAge: MAX_LIFETIME_SECONDS + 1 })).toContain(
      `Max-Age=${MAX_LIFETIME_SECONDS};`,
    );
  });
});

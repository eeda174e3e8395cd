import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64urlEncode } from '../src/encoding.js';
import { base64urlDecode } from '../src/entries/adapter.js';
import { hashSecret } from '../src/hash.js';
import type { RandomSource } from '../src/index.js';
import { randomBytes, randomString, webRandom } from '../src/random.js';
import {
  generateSessionToken,
  isSessionId,
  parseSessionToken,
  SESSION_ID_BYTES,
  SESSION_ID_LENGTH,
  SESSION_SECRET_BYTES,
  SESSION_SECRET_LENGTH,
  SESSION_TOKEN_LENGTH,
} from '../src/token.js';

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/;
const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A deterministic source for tests that need to know the bytes. */
function countingSource(): RandomSource {
  let next = 0;
  return (bytes) => {
    for (let i = 0; i < bytes.length; i++) bytes[i] = next++ & 255;
    return bytes;
  };
}

describe('randomBytes / randomString / webRandom', () => {
  it('fill the requested length from the given source', () => {
    expect(Array.from(randomBytes(4, countingSource()))).toEqual([0, 1, 2, 3]);
    expect(randomString(3, countingSource())).toBe(base64urlEncode(new Uint8Array([0, 1, 2])));
    expect(randomBytes(32)).toHaveLength(32);
    expect(randomString(32)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('webRandom fills and returns the same array', () => {
    const bytes = new Uint8Array(64);
    expect(webRandom(bytes)).toBe(bytes);
    expect(bytes.some((b) => b !== 0)).toBe(true);
  });
});

describe('generateSessionToken', () => {
  it('A1: 20 000 tokens have the exact shape, no duplicates, and uniformly distributed bytes', () => {
    const count = 20_000;
    const seen = new Set<string>();
    const byteCounts = new Array<number>(256).fill(0);
    let misshapen = 0;
    for (let i = 0; i < count; i++) {
      const generated = generateSessionToken();
      if (!TOKEN_SHAPE.test(generated.token)) misshapen++;
      seen.add(generated.token);
      for (const part of [generated.id, generated.secret]) {
        for (const b of base64urlDecode(part) ?? []) byteCounts[b] = (byteCounts[b] as number) + 1;
      }
    }
    expect(misshapen).toBe(0);
    expect(seen.size).toBe(count);
    // Chi-square over 256 byte values (255 degrees of freedom): the bound is the 1 - 1e-6 quantile
    // (Wilson-Hilferty), so a correct CSPRNG fails this about once in a million runs.
    const total = count * (SESSION_ID_BYTES + SESSION_SECRET_BYTES);
    const expected = total / 256;
    const chiSquare = byteCounts.reduce((sum, observed) => sum + (observed - expected) ** 2 / expected, 0);
    expect(byteCounts.reduce((a, b) => a + b, 0)).toBe(total);
    expect(chiSquare).toBeLessThan(377);
  });

  it('A1: id has 128 bits and secret 256 bits of CSPRNG output', () => {
    const { id, secret } = generateSessionToken();
    expect(base64urlDecode(id)).toHaveLength(16);
    expect(base64urlDecode(secret)).toHaveLength(32);
    expect(id).toHaveLength(SESSION_ID_LENGTH);
    expect(secret).toHaveLength(SESSION_SECRET_LENGTH);
  });

  it('A2: the token is only random bytes: it decodes to exactly the bytes the source produced', () => {
    const generated = generateSessionToken(countingSource());
    const bytes = [...(base64urlDecode(generated.id) ?? []), ...(base64urlDecode(generated.secret) ?? [])];
    expect(bytes).toEqual(Array.from({ length: 48 }, (_, i) => i));
  });

  it('A5: hands out the hash of the secret for the store, never deriving it from the id', () => {
    const generated = generateSessionToken();
    expect(generated.token).toBe(`${generated.id}.${generated.secret}`);
    expect(generated.secretHash).toBe(hashSecret(generated.secret));
    expect(generated.secretHash).not.toContain(generated.secret);
  });

  it('every generated token parses back to its parts (property over random sources)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 48, maxLength: 48 }), (bytes) => {
        const source: RandomSource = (target) => {
          target.set(bytes.subarray(0, target.length));
          return target;
        };
        const generated = generateSessionToken(source);
        expect(generated.token).toMatch(TOKEN_SHAPE);
        expect(parseSessionToken(generated.token)).toEqual({ id: generated.id, secret: generated.secret });
      }),
    );
  });
});

describe('parseSessionToken', () => {
  const valid = generateSessionToken().token;

  it('A4: returns the parts of a well-formed token', () => {
    const [id, secret] = valid.split('.');
    expect(parseSessionToken(valid)).toEqual({ id, secret });
  });

  it('A4: refuses every string that does not match the exact token shape (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        if (!TOKEN_SHAPE.test(text)) expect(parseSessionToken(text)).toBeNull();
      }),
    );
  });

  it('A4: refuses near misses built from a valid token (property)', () => {
    const mutations = fc.oneof(
      // one character replaced by anything outside the alphabet
      fc
        .tuple(fc.nat(SESSION_TOKEN_LENGTH - 1), fc.constantFrom('+', '/', '=', ' ', '%', '"', '\u0000', 'é', ';'))
        .map(([index, c]) => valid.slice(0, index) + c + valid.slice(index + 1)),
      // truncated or extended
      fc.nat(SESSION_TOKEN_LENGTH - 1).map((n) => valid.slice(0, n)),
      fc.string({ minLength: 1, maxLength: 5 }).map((extra) => valid + extra),
      // the dot moved or doubled
      fc
        .nat(SESSION_TOKEN_LENGTH - 2)
        .map((i) => `${valid.replace('.', '').slice(0, i)}.${valid.replace('.', '').slice(i)}`),
    );
    fc.assert(
      fc.property(mutations, (mutated) => {
        if (mutated !== valid && !TOKEN_SHAPE.test(mutated)) expect(parseSessionToken(mutated)).toBeNull();
      }),
    );
  });

  it('CK-03: refuses standard base64, padding, wrong lengths, 1 or 3 parts and inner whitespace', () => {
    const [id, secret] = valid.split('.') as [string, string];
    const bad = [
      `${id}.${secret.slice(0, 42)}+`,
      `${id.slice(0, 21)}/.${secret}`,
      `${id}==.${secret}`,
      `${id}.${secret}=`,
      `${id}.${secret.slice(1)}`,
      `${id}a.${secret}`,
      `${id}${secret}`,
      `${id}.${secret.slice(0, 20)}.${secret.slice(21)}`,
      `${id}. ${secret.slice(1)}`,
      ` ${valid}`,
      `${valid}\n`,
      '',
      '.',
    ];
    for (const token of bad) expect(parseSessionToken(token), JSON.stringify(token)).toBeNull();
  });

  it('refuses non-canonical encodings whose unused trailing bits are set', () => {
    const [id, secret] = valid.split('.') as [string, string];
    // The id's last character carries 2 data bits and 4 zero bits; the secret's 4 data bits and 2 zero bits.
    const idWithTrailingBit = id.slice(0, 21) + alphabet[(alphabet.indexOf(id[21] as string) | 1) % 64];
    const secretWithTrailingBit = secret.slice(0, 42) + alphabet[(alphabet.indexOf(secret[42] as string) | 1) % 64];
    expect(parseSessionToken(`${idWithTrailingBit}.${secret}`)).toBeNull();
    expect(parseSessionToken(`${id}.${secretWithTrailingBit}`)).toBeNull();
  });

  it('refuses values that are not strings', () => {
    for (const value of [undefined, null, 42, {}, [valid], new String(valid)]) {
      expect(parseSessionToken(value)).toBeNull();
    }
  });
});

describe('isSessionId', () => {
  it('accepts exactly the id half of a token', () => {
    const { id } = generateSessionToken();
    expect(isSessionId(id)).toBe(true);
    expect(isSessionId(`${id}A`)).toBe(false);
    expect(isSessionId(id.slice(1))).toBe(false);
    expect(isSessionId(`${id.slice(0, 21)}+`)).toBe(false);
    expect(isSessionId(42)).toBe(false);
    expect(isSessionId("' OR '1'='1")).toBe(false);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../src/encoding.js';
import { keyedIdHash } from '../src/entries/adapter.js';
import {
  constantTimeEqual,
  constantTimeEqualString,
  hashSecret,
  hmacSha256,
  secretMatchesBinding,
  secretMatchesHash,
  sha256,
} from '../src/hash.js';
import { sessionTokenBinding } from '../src/jwt/session-jwt.js';

/** A byte array whose element reads are counted: proof that a comparison walked every byte. */
function countingBytes(bytes: Uint8Array): { view: Uint8Array; reads: () => number } {
  let reads = 0;
  const view = new Proxy(bytes, {
    get(target, key) {
      if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
      // The typed array's own getters need the real array as receiver, not the proxy.
      return Reflect.get(target, key, target);
    },
  });
  return { view, reads: () => reads };
}

/** A string stand-in whose `charCodeAt` calls are counted. */
function countingString(text: string): { view: string; reads: () => number } {
  let reads = 0;
  const view = {
    length: text.length,
    charCodeAt(index: number) {
      reads++;
      return text.charCodeAt(index);
    },
  };
  return { view: view as unknown as string, reads: () => reads };
}

describe('sha256 / hmacSha256', () => {
  it('hash strings as their UTF-8 bytes', () => {
    expect(sha256('é')).toEqual(sha256(new Uint8Array([0xc3, 0xa9])));
    const key = new Uint8Array(32).fill(7);
    expect(hmacSha256(key, 'é')).toEqual(hmacSha256(key, new Uint8Array([0xc3, 0xa9])));
  });

  it('give 32-byte outputs that depend on the key and the data', () => {
    const key = new Uint8Array(32).fill(1);
    const other = new Uint8Array(32).fill(2);
    expect(sha256('x')).toHaveLength(32);
    expect(hmacSha256(key, 'x')).toHaveLength(32);
    expect(toHex(hmacSha256(key, 'x'))).not.toBe(toHex(hmacSha256(other, 'x')));
    expect(toHex(hmacSha256(key, 'x'))).not.toBe(toHex(hmacSha256(key, 'y')));
  });
});

describe('hashSecret', () => {
  it('is the hex SHA-256 of the secret', () => {
    expect(hashSecret('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hashSecret('a'.repeat(43))).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('secretMatchesHash', () => {
  it('agrees with comparing hashSecret outputs (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), fc.string({ maxLength: 60 }), (secret, other) => {
        expect(secretMatchesHash(secret, hashSecret(secret))).toBe(true);
        expect(secretMatchesHash(other, hashSecret(secret))).toBe(hashSecret(other) === hashSecret(secret));
      }),
    );
  });

  it('refuses a stored hash of the wrong length or in upper case', () => {
    const stored = hashSecret('s');
    expect(secretMatchesHash('s', stored.slice(0, 62))).toBe(false);
    expect(secretMatchesHash('s', stored.toUpperCase())).toBe(stored === stored.toUpperCase());
    expect(secretMatchesHash('s', `${stored.slice(0, 63)}\u0100`)).toBe(false);
  });
});

describe('secretMatchesBinding', () => {
  it('agrees with comparing sessionTokenBinding outputs (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.string({ maxLength: 80 }), (secret, other) => {
        expect(secretMatchesBinding(secret, sessionTokenBinding(secret))).toBe(true);
        expect(secretMatchesBinding(other, sessionTokenBinding(secret))).toBe(
          sessionTokenBinding(other) === sessionTokenBinding(secret),
        );
      }),
    );
  });

  it('refuses every one-character change, a wrong length and characters outside base64url', () => {
    const secret = 'k'.repeat(43);
    const binding = sessionTokenBinding(secret);
    expect(binding).toHaveLength(22);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let i = 0; i < binding.length; i++) {
      for (const replacement of [...alphabet, '=', '+', '/', '\u0100']) {
        if (replacement === binding[i]) continue;
        const changed = `${binding.slice(0, i)}${replacement}${binding.slice(i + 1)}`;
        expect(secretMatchesBinding(secret, changed)).toBe(false);
      }
    }
    expect(secretMatchesBinding(secret, binding.slice(0, 21))).toBe(false);
    expect(secretMatchesBinding(secret, `${binding}A`)).toBe(false);
  });
});

describe('constantTimeEqual / constantTimeEqualString', () => {
  it('answer like === (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }), (a, b) => {
        expect(constantTimeEqual(a, b)).toBe(toHex(a) === toHex(b));
        expect(constantTimeEqual(a, Uint8Array.from(a))).toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 }), (a, b) => {
        expect(constantTimeEqualString(a, b)).toBe(a === b);
        expect(constantTimeEqualString(a, `${a}`)).toBe(true);
      }),
    );
  });

  it('TM-01: the byte comparator reads all 32 bytes of both inputs, wherever they differ', () => {
    const secret = sha256('secret');
    const variants = {
      equal: Uint8Array.from(secret),
      firstByteDiffers: Uint8Array.from(secret, (b, i) => (i === 0 ? b ^ 1 : b)),
      lastByteDiffers: Uint8Array.from(secret, (b, i) => (i === 31 ? b ^ 1 : b)),
      allDiffer: Uint8Array.from(secret, (b) => b ^ 0xff),
    };
    const readCounts = Object.entries(variants).map(([name, candidate]) => {
      const left = countingBytes(secret);
      const right = countingBytes(candidate);
      const equal = constantTimeEqual(left.view, right.view);
      expect(equal).toBe(name === 'equal');
      return [left.reads(), right.reads()];
    });
    expect(readCounts).toEqual(Array(4).fill([32, 32]));
  });

  it('TM-01: the string comparator reads all 64 hex characters of both inputs, wherever they differ', () => {
    const stored = hashSecret('secret');
    const flip = (text: string, index: number) =>
      text.slice(0, index) + (text[index] === '0' ? '1' : '0') + text.slice(index + 1);
    const candidates = [stored, flip(stored, 0), flip(stored, 63), hashSecret('other')];
    const readCounts = candidates.map((candidate, i) => {
      const left = countingString(stored);
      const right = countingString(candidate);
      expect(constantTimeEqualString(left.view, right.view)).toBe(i === 0);
      return [left.reads(), right.reads()];
    });
    expect(readCounts).toEqual(Array(4).fill([64, 64]));
  });

  it('TM-01: the stored-hash check reads all 64 hex characters, wherever they differ', () => {
    const stored = hashSecret('secret');
    const counts = ['secret', 'secreT', 'a-completely-different-secret'].map((presented) => {
      const hash = countingString(stored);
      secretMatchesHash(presented, hash.view);
      return hash.reads();
    });
    expect(counts).toEqual([64, 64, 64]);
  });

  it('return false at once for different lengths (lengths of digests are public)', () => {
    expect(constantTimeEqual(new Uint8Array(31), new Uint8Array(32))).toBe(false);
    expect(constantTimeEqualString('ab', 'abc')).toBe(false);
  });
});

describe('keyedIdHash', () => {
  it('J1: is 16 hex chars of HMAC-SHA256(logKey, id), stable per key and different across keys', () => {
    const key = utf8('a log key of 32 bytes, not more!');
    const id = 'AAAAAAAAAAAAAAAAAAAAAA';
    const hash = keyedIdHash(key, id);
    expect(hash).toBe(toHex(hmacSha256(key, id)).slice(0, 16));
    expect(hash).toMatch(/^[0-9a-f]{16}$/);
    expect(keyedIdHash(key, id)).toBe(hash);
    expect(keyedIdHash(utf8('another log key of 32 bytes, ok!'), id)).not.toBe(hash);
    expect(hash).not.toContain(id);
  });
});

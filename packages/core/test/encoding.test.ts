import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64urlEncode, fromHex, isBase64url, toHex, utf8 } from '../src/encoding.js';
import { base64urlDecode } from '../src/entries/adapter.js';

describe('base64urlEncode / base64urlDecode', () => {
  it('round-trips every byte string (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const encoded = base64urlEncode(bytes);
        expect(encoded).toMatch(/^[A-Za-z0-9_-]*$/);
        expect(encoded.length).toBe(Math.ceil((bytes.length * 4) / 3));
        expect(base64urlDecode(encoded)).toEqual(bytes);
      }),
    );
  });

  it('accepts exactly one encoding per byte string: decode then encode gives the input back (property)', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'),
          maxLength: 64,
        }),
        (text) => {
          const decoded = base64urlDecode(text);
          if (decoded !== null) expect(base64urlEncode(decoded)).toBe(text);
        },
      ),
    );
  });

  it('never throws on arbitrary text and refuses anything outside the alphabet (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), (text) => {
        const decoded = base64urlDecode(text);
        if (!/^[A-Za-z0-9_-]*$/.test(text)) expect(decoded).toBeNull();
      }),
    );
  });

  it('matches the platform base64 after the alphabet swap (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const standard = btoa(String.fromCharCode(...bytes));
        expect(base64urlEncode(bytes)).toBe(standard.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''));
      }),
    );
  });
});

describe('isBase64url', () => {
  it('is true for the url alphabet only', () => {
    expect(isBase64url('')).toBe(true);
    expect(isBase64url('AZaz09-_')).toBe(true);
    for (const bad of ['+', '/', '=', ' ', '.', 'é', '\u0000', '\u{1F600}'])
      expect(isBase64url(`ab${bad}`)).toBe(false);
  });
});

describe('toHex / fromHex', () => {
  it('round-trips every byte string in lower case (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const hex = toHex(bytes);
        expect(hex).toMatch(/^[0-9a-f]*$/);
        expect(hex.length).toBe(bytes.length * 2);
        expect(fromHex(hex)).toEqual(bytes);
      }),
    );
  });

  it('encodes known values and refuses odd lengths, upper case and other characters', () => {
    expect(toHex(new Uint8Array([0, 1, 15, 16, 171, 255]))).toBe('00010f10abff');
    expect(fromHex('')).toEqual(new Uint8Array());
    expect(fromHex('abc')).toBeNull();
    expect(fromHex('AB')).toBeNull();
    expect(fromHex('0g')).toBeNull();
    expect(fromHex(' 00')).toBeNull();
  });
});

describe('utf8', () => {
  it('agrees with TextEncoder for every string, ASCII fast path or not (property)', () => {
    const encoder = new TextEncoder();
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 })), (text) => {
        expect(utf8(text)).toEqual(encoder.encode(text));
      }),
    );
  });

  it('encodes ASCII byte for byte and non-ASCII as UTF-8', () => {
    expect(Array.from(utf8('Az09-_.'))).toEqual([65, 122, 48, 57, 45, 95, 46]);
    expect(Array.from(utf8('é€'))).toEqual([0xc3, 0xa9, 0xe2, 0x82, 0xac]);
    expect(utf8('')).toEqual(new Uint8Array());
  });
});

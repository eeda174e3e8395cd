const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const alphabetCodes = /* @__PURE__ */ Uint8Array.from(alphabet, (c) => c.charCodeAt(0));

// Encoders fill bytes and decode them once: one flat string, where appending character by
// character leaves a chain of string pieces (~870 B for a 64-character hex digest) wherever the
// result is kept, and costs more CPU.
const ascii = /* @__PURE__ */ new TextDecoder();

// Reverse lookup over char codes; -1 marks a byte outside the base64url alphabet.
const lookup = /* @__PURE__ */ (() => {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
})();

/**
 * Encodes bytes as unpadded base64url (RFC 4648 section 5).
 *
 * @example
 * ```ts
 * base64urlEncode(new Uint8Array([0xfb, 0xff])) // '-_8'
 * ```
 */
export function base64urlEncode(bytes: Uint8Array): string {
  const out = new Uint8Array(Math.ceil((bytes.length * 4) / 3));
  let o = 0;
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    out[o++] = alphabetCodes[n >> 18] as number;
    out[o++] = alphabetCodes[(n >> 12) & 63] as number;
    out[o++] = alphabetCodes[(n >> 6) & 63] as number;
    out[o++] = alphabetCodes[n & 63] as number;
  }
  const rest = bytes.length - i;
  if (rest > 0) {
    const n = ((bytes[i] as number) << 16) | (rest === 2 ? (bytes[i + 1] as number) << 8 : 0);
    out[o++] = alphabetCodes[n >> 18] as number;
    out[o++] = alphabetCodes[(n >> 12) & 63] as number;
    if (rest === 2) out[o++] = alphabetCodes[(n >> 6) & 63] as number;
  }
  return ascii.decode(out);
}

/**
 * Decodes unpadded base64url. Returns null for any character outside the alphabet, for padding,
 * for an impossible length, or for non-zero trailing bits (so every byte string has exactly one
 * accepted encoding).
 *
 * @example
 * ```ts
 * base64urlDecode('Zm9v') // Uint8Array [102, 111, 111]
 * base64urlDecode('Zm9v+') // null
 * ```
 */
export function base64urlDecode(text: string): Uint8Array | null {
  const len = text.length;
  if (len % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((len * 3) / 4));
  let o = 0;
  let i = 0;
  for (; i + 3 < len; i += 4) {
    const a = sextet(text, i);
    const b = sextet(text, i + 1);
    const c = sextet(text, i + 2);
    const d = sextet(text, i + 3);
    if ((a | b | c | d) < 0) return null;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = n >> 16;
    out[o++] = (n >> 8) & 255;
    out[o++] = n & 255;
  }
  const rest = len - i;
  if (rest === 2) {
    const a = sextet(text, i);
    const b = sextet(text, i + 1);
    if ((a | b) < 0 || (b & 15) !== 0) return null;
    out[o++] = (a << 2) | (b >> 4);
  } else if (rest === 3) {
    const a = sextet(text, i);
    const b = sextet(text, i + 1);
    const c = sextet(text, i + 2);
    if ((a | b | c) < 0 || (c & 3) !== 0) return null;
    const n = (a << 18) | (b << 12) | (c << 6);
    out[o++] = n >> 16;
    out[o++] = (n >> 8) & 255;
  }
  return out;
}

function sextet(text: string, index: number): number {
  const code = text.charCodeAt(index);
  return code < 128 ? (lookup[code] as number) : -1;
}

/**
 * True when every character is in the base64url alphabet.
 *
 * @example
 * ```ts
 * isBase64url('abc-_') // true
 * isBase64url('a+b') // false
 * ```
 */
export function isBase64url(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (sextet(text, i) < 0) return false;
  }
  return true;
}

const hexCodes = /* @__PURE__ */ Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));

/**
 * Lower-case hex encoding.
 *
 * @example
 * ```ts
 * toHex(new Uint8Array([0, 171, 255])) // '00abff'
 * ```
 */
export function toHex(bytes: Uint8Array): string {
  const out = new Uint8Array(bytes.length * 2);
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    out[2 * i] = hexCodes[byte >> 4] as number;
    out[2 * i + 1] = hexCodes[byte & 15] as number;
  }
  return ascii.decode(out);
}

/**
 * Decodes lower-case hex; null for odd lengths or any other character.
 *
 * @example
 * ```ts
 * fromHex('00abff') // Uint8Array [0, 171, 255]
 * fromHex('ABFF') // null: upper case is not the canonical form
 * ```
 */
export function fromHex(text: string): Uint8Array | null {
  if (text.length % 2 !== 0 || !/^[0-9a-f]*$/.test(text)) return null;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

const encoder = /* @__PURE__ */ new TextEncoder();

/**
 * UTF-8 bytes of a string. Pure ASCII (every token and id) is copied directly: on Node 20 a
 * TextEncoder call costs about as much as hashing the result.
 *
 * @example
 * ```ts
 * utf8('é') // Uint8Array [195, 169]
 * ```
 */
export function utf8(text: string): Uint8Array {
  const length = text.length;
  if (length > 256) return encoder.encode(text);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return encoder.encode(text);
    out[i] = c;
  }
  return out;
}

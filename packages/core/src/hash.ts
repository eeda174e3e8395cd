import { hmac } from '@noble/hashes/hmac.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { toHex, utf8 } from './encoding.js';

// Hot paths hash synchronously: one crypto.subtle call costs ~25 us on Node 20 (a thread-pool
// hop). SHA-256 itself is done here (FIPS 180-4) rather than by @noble/hashes, whose per-call
// hasher, buffers and DataView cost more than the compression of a token's one block; HMAC (CSRF,
// refresh tokens, log hashes) stays with @noble/hashes.

/** The SHA-256 round constants: the first 32 bits of the cube roots of the first 64 primes. */
const ROUND_CONSTANTS = /* @__PURE__ */ Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);
/** The initial hash value: the first 32 bits of the square roots of the first 8 primes. */
const INITIAL_STATE = /* @__PURE__ */ Int32Array.from([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

// Working memory reused by every call (hashing is synchronous, so calls never overlap), and wiped
// after each: no per-call allocation on the read path, and no secret bytes left behind.
const state = new Int32Array(8);
const schedule = new Int32Array(64);
let scratch = new Uint8Array(64);

/** One 64-byte block (its 16 words already in `schedule`) into `state`. */
function compress(): void {
  const w = schedule;
  for (let t = 16; t < 64; t++) {
    const w15 = w[t - 15] as number;
    const w2 = w[t - 2] as number;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    w[t] = ((w[t - 16] as number) + s0 + (w[t - 7] as number) + s1) | 0;
  }
  let a = state[0] as number;
  let b = state[1] as number;
  let c = state[2] as number;
  let d = state[3] as number;
  let e = state[4] as number;
  let f = state[5] as number;
  let g = state[6] as number;
  let h = state[7] as number;
  for (let t = 0; t < 64; t++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + (ROUND_CONSTANTS[t] as number) + (w[t] as number)) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = ((state[0] as number) + a) | 0;
  state[1] = ((state[1] as number) + b) | 0;
  state[2] = ((state[2] as number) + c) | 0;
  state[3] = ((state[3] as number) + d) | 0;
  state[4] = ((state[4] as number) + e) | 0;
  state[5] = ((state[5] as number) + f) | 0;
  state[6] = ((state[6] as number) + g) | 0;
  state[7] = ((state[7] as number) + h) | 0;
}

/** SHA-256 of the first `length` bytes of `bytes` into `state`. */
function digestInto(bytes: Uint8Array, length: number): void {
  state.set(INITIAL_STATE);
  // Message, the 0x80 marker, zero padding, then the length in bits (64-bit big-endian).
  const blocks = Math.floor((length + 8) / 64) + 1;
  const lastBlock = (blocks - 1) * 64;
  for (let offset = 0; offset < blocks * 64; offset += 64) {
    for (let j = 0; j < 16; j++) {
      const p = offset + 4 * j;
      if (p + 3 < length) {
        schedule[j] =
          ((bytes[p] as number) << 24) |
          ((bytes[p + 1] as number) << 16) |
          ((bytes[p + 2] as number) << 8) |
          (bytes[p + 3] as number);
        continue;
      }
      let word = 0;
      for (let k = 0; k < 4; k++) {
        const q = p + k;
        word = (word << 8) | (q < length ? (bytes[q] as number) : q === length ? 0x80 : 0);
      }
      schedule[j] = word;
    }
    if (offset === lastBlock) {
      schedule[14] = Math.floor(length / 0x20000000) | 0;
      schedule[15] = (length << 3) | 0;
    }
    compress();
  }
  schedule.fill(0);
}

/** SHA-256 of a string's UTF-8 encoding into `state`, without allocating for ASCII text. */
function digestStringInto(text: string): void {
  const length = text.length;
  if (length > scratch.length) scratch = new Uint8Array(Math.max(length, 2 * scratch.length));
  const bytes = scratch;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) {
      bytes.fill(0, 0, i);
      const encoded = utf8(text);
      digestInto(encoded, encoded.length);
      encoded.fill(0);
      return;
    }
    bytes[i] = code;
  }
  digestInto(bytes, length);
  bytes.fill(0, 0, length);
}

/** The digest held in `state`, as 32 new bytes; wipes `state`. */
function takeDigest(): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    const word = state[i] as number;
    out[4 * i] = word >>> 24;
    out[4 * i + 1] = (word >>> 16) & 255;
    out[4 * i + 2] = (word >>> 8) & 255;
    out[4 * i + 3] = word & 255;
  }
  state.fill(0);
  return out;
}

/**
 * SHA-256 of bytes, or of a string's UTF-8 encoding.
 *
 * @example
 * ```ts
 * toHex(sha256('abc')) // 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
 * ```
 */
export function sha256(data: Uint8Array | string): Uint8Array {
  if (typeof data === 'string') digestStringInto(data);
  else digestInto(data, data.length);
  return takeDigest();
}

/**
 * HMAC-SHA256 of bytes, or of a string's UTF-8 encoding.
 *
 * @example
 * ```ts
 * const mac = hmacSha256(key, 'session-id') // 32 bytes
 * ```
 */
export function hmacSha256(key: Uint8Array, data: Uint8Array | string): Uint8Array {
  return hmac(nobleSha256, key, typeof data === 'string' ? utf8(data) : data);
}

/**
 * Hex SHA-256 of a token secret: what stores keep instead of the secret.
 *
 * @example
 * ```ts
 * const record = { secretHash: hashSecret(generated.secret) } // 64 hex characters
 * ```
 */
export function hashSecret(secret: string): string {
  return toHex(sha256(secret));
}

/**
 * Whether `secret` hashes to the stored hex digest, in time that depends only on the lengths.
 * Compares the digest's bytes to the hex characters directly, so the hot path builds no string.
 */
export function secretMatchesHash(secret: string, storedHash: string): boolean {
  digestStringInto(secret);
  // Every nibble of the digest against its hex character, straight from the state words.
  let diff = storedHash.length === 64 ? 0 : 1;
  for (let i = 0; i < 8; i++) {
    const word = state[i] as number;
    for (let k = 0; k < 8; k++) {
      diff |= hexValue(storedHash.charCodeAt(8 * i + k)) ^ ((word >>> (28 - 4 * k)) & 15);
    }
  }
  state.fill(0);
  return diff === 0;
}

/**
 * Whether `binding` is the base64url form (22 characters, no padding) of the first 16 bytes of
 * SHA-256(`secret`): the `sth` claim of a hybrid JWT cookie. Compared six bits at a time straight
 * from the digest, in time that depends only on the lengths, building no string and no array.
 */
export function secretMatchesBinding(secret: string, binding: string): boolean {
  digestStringInto(secret);
  let diff = binding.length === 22 ? 0 : 1;
  for (let i = 0; i < 22; i++) {
    const bit = 6 * i;
    const word = bit >>> 5;
    const shift = bit & 31;
    // Bits past the 128th are the zero padding of the last character.
    const high = word < 4 ? (state[word] as number) << shift : 0;
    const low = shift > 26 && word + 1 < 4 ? (state[word + 1] as number) >>> (32 - shift) : 0;
    diff |= base64urlValue(binding.charCodeAt(i)) ^ (((high | low) >>> 26) & 63);
  }
  state.fill(0);
  return diff === 0;
}

const base64urlValues = /* @__PURE__ */ (() => {
  const table = new Uint16Array(128).fill(0x100);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  for (let i = 0; i < 64; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
})();

function base64urlValue(code: number): number {
  return code < 128 ? (base64urlValues[code] as number) : 0x100;
}

// Lower-case hex digit value; 0x100 (which can never equal a nibble) for anything else. Branch-free
// lookup so that the comparison above does the same work for every input.
const hexValues = /* @__PURE__ */ (() => {
  const table = new Uint16Array(128).fill(0x100);
  for (let i = 0; i < 16; i++) table['0123456789abcdef'.charCodeAt(i)] = i;
  return table;
})();

function hexValue(code: number): number {
  return code < 128 ? (hexValues[code] as number) : 0x100;
}

/**
 * Compares two byte strings in time that depends only on their lengths. Unequal lengths return
 * false at once: the lengths we compare (digests) are public.
 *
 * @example
 * ```ts
 * constantTimeEqual(sha256(presented), expectedDigest)
 * ```
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

/**
 * {@link constantTimeEqual} for two strings of code units (hex digests, base64url MACs).
 *
 * @example
 * ```ts
 * constantTimeEqualString(hashSecret(secret), record.secretHash)
 * ```
 */
export function constantTimeEqualString(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * A keyed hash of a session id for logs and events (J1): the first 16 hex chars of
 * HMAC-SHA256(logKey, id). Correlates events without revealing the id.
 *
 * @example
 * ```ts
 * keyedIdHash(logKey, session.id) // e.g. '3f9a0c1d2b4e5f60'
 * ```
 */
export function keyedIdHash(logKey: Uint8Array, id: string): string {
  return toHex(hmacSha256(logKey, id)).slice(0, 16);
}

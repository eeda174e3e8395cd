import { hmac } from '@noble/hashes/hmac.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { toHex, utf8 } from './encoding.js';

// Hot paths hash synchronously with @noble/hashes: one crypto.subtle call costs ~25 us on Node 20
// (a thread-pool hop), noble's SHA-256 of 32 bytes about 1 us.

/**
 * SHA-256 of bytes, or of a string's UTF-8 encoding.
 *
 * @example
 * ```ts
 * toHex(sha256('abc')) // 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
 * ```
 */
export function sha256(data: Uint8Array | string): Uint8Array {
  return nobleSha256(typeof data === 'string' ? utf8(data) : data);
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
  const digest = sha256(secret);
  if (storedHash.length !== digest.length * 2) return false;
  let diff = 0;
  for (let i = 0; i < digest.length; i++) {
    const byte = digest[i] as number;
    diff |= hexValue(storedHash.charCodeAt(2 * i)) ^ (byte >> 4);
    diff |= hexValue(storedHash.charCodeAt(2 * i + 1)) ^ (byte & 15);
  }
  return diff === 0;
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

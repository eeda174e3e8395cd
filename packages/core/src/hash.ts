import { hmac } from '@noble/hashes/hmac.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { toHex, utf8 } from './encoding.js';

// Hot paths hash synchronously with @noble/hashes: one crypto.subtle call costs ~25 us on Node 20
// (a thread-pool hop), noble's SHA-256 of 32 bytes about 1 us.

export function sha256(data: Uint8Array | string): Uint8Array {
  return nobleSha256(typeof data === 'string' ? utf8(data) : data);
}

export function hmacSha256(key: Uint8Array, data: Uint8Array | string): Uint8Array {
  return hmac(nobleSha256, key, typeof data === 'string' ? utf8(data) : data);
}

/** Hex SHA-256 of a token secret: what stores keep instead of the secret. */
export function hashSecret(secret: string): string {
  return toHex(sha256(secret));
}

/**
 * Compares two byte strings in time that depends only on their lengths. Unequal lengths return
 * false at once: the lengths we compare (digests) are public.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

/** {@link constantTimeEqual} for two strings of code units (hex digests, base64url MACs). */
export function constantTimeEqualString(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * A keyed hash of a session id for logs and events (J1): the first 16 hex chars of
 * HMAC-SHA256(logKey, id). Correlates events without revealing the id.
 */
export function keyedIdHash(logKey: Uint8Array, id: string): string {
  return toHex(hmacSha256(logKey, id)).slice(0, 16);
}

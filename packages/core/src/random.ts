import { base64urlEncode } from './encoding.js';
import { SessionError } from './errors.js';

/** Fills `bytes` with cryptographically secure random values and returns it. */
export type RandomSource = (bytes: Uint8Array) => Uint8Array;

/**
 * The platform CSPRNG (`crypto.getRandomValues`), available in Node, Deno, Bun, browsers and edge workers.
 *
 * @example
 * ```ts
 * const key = webRandom(new Uint8Array(32))
 * ```
 */
export const webRandom: RandomSource = (bytes) => {
  const crypto = (globalThis as { crypto?: Crypto }).crypto;
  if (!crypto || typeof crypto.getRandomValues !== 'function') {
    throw new SessionError(
      'CRYPTO_UNAVAILABLE',
      'Web Crypto (crypto.getRandomValues) is not available in this runtime',
    );
  }
  // getRandomValues refuses more than 65536 bytes per call; our callers ask for at most 64.
  return crypto.getRandomValues(bytes);
};

/**
 * `length` random bytes.
 *
 * @example
 * ```ts
 * const logKey = randomBytes(32)
 * ```
 */
export function randomBytes(length: number, random: RandomSource = webRandom): Uint8Array {
  return random(new Uint8Array(length));
}

/**
 * `length` random bytes encoded as base64url.
 *
 * @example
 * ```ts
 * randomString(16) // 22 base64url characters, 128 bits
 * ```
 */
export function randomString(length: number, random: RandomSource = webRandom): string {
  return base64urlEncode(randomBytes(length, random));
}

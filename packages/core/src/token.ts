import { base64urlEncode } from './encoding.js';
import { hashSecret } from './hash.js';
import { type RandomSource, randomBytes, webRandom } from './random.js';

/** 16 random bytes: 128 bits, 22 base64url characters. */
export const SESSION_ID_BYTES = 16;
/** 32 random bytes: 256 bits, 43 base64url characters. */
export const SESSION_SECRET_BYTES = 32;
export const SESSION_ID_LENGTH = 22;
export const SESSION_SECRET_LENGTH = 43;
export const SESSION_TOKEN_LENGTH = SESSION_ID_LENGTH + 1 + SESSION_SECRET_LENGTH;

export interface SessionTokenParts {
  /** Public identifier: the store key. */
  id: string;
  /** Never stored; only its SHA-256 is. */
  secret: string;
}

export interface GeneratedSessionToken extends SessionTokenParts {
  /** `<id>.<secret>`: what the client holds. */
  token: string;
  /** Hex SHA-256 of the secret: what the store holds. */
  secretHash: string;
}

/**
 * A fresh `<id>.<secret>` token from the CSPRNG, with the hash the store keeps.
 *
 * @example
 * ```ts
 * const { token, id, secretHash } = generateSessionToken()
 * await store.create({ id, secretHash, ... }, now) // the client gets `token`, the store never sees the secret
 * ```
 */
export function generateSessionToken(random: RandomSource = webRandom): GeneratedSessionToken {
  // One CSPRNG call for both parts: each getRandomValues call costs about 5 us on Node 20.
  const bytes = randomBytes(SESSION_ID_BYTES + SESSION_SECRET_BYTES, random);
  const id = base64urlEncode(bytes.subarray(0, SESSION_ID_BYTES));
  const secret = base64urlEncode(bytes.subarray(SESSION_ID_BYTES));
  return { id, secret, token: `${id}.${secret}`, secretHash: hashSecret(secret) };
}

/**
 * Strictly parses a session token: exactly 22 + 1 + 43 characters, base64url on both sides of the
 * one dot, canonical trailing bits. Returns null for anything else, before any store call.
 *
 * @example
 * ```ts
 * const parts = parseSessionToken(cookieValue)
 * if (!parts) return 'malformed' // no store call for junk
 * ```
 */
export function parseSessionToken(token: unknown): SessionTokenParts | null {
  if (!isSessionToken(token)) return null;
  return { id: token.slice(0, SESSION_ID_LENGTH), secret: token.slice(SESSION_ID_LENGTH + 1) };
}

/**
 * Package-private: whether {@link parseSessionToken} would accept `token`, without building its
 * parts (the manager's read path slices the two it needs itself).
 */
export function isSessionToken(token: unknown): token is string {
  return (
    typeof token === 'string' &&
    token.length === SESSION_TOKEN_LENGTH &&
    token.charCodeAt(SESSION_ID_LENGTH) === 0x2e /* . */ &&
    // With the length and the dot's place fixed, "one dot between base64url runs" is the exact
    // shape: a pattern without counts runs about twice as fast as `{22}` and `{43}`.
    TOKEN_PARTS.test(token) &&
    // The last character of each part carries unused bits that must be zero (one encoding per value).
    hasZeroTrailingBits(token, SESSION_ID_LENGTH - 1, 15) &&
    hasZeroTrailingBits(token, SESSION_TOKEN_LENGTH - 1, 3)
  );
}

/**
 * True when `id` has the exact shape of a session id (used to vet ids from URLs and forms).
 *
 * @example
 * ```ts
 * if (!isSessionId(request.params.id)) return notFound()
 * ```
 */
export function isSessionId(id: unknown): id is string {
  return typeof id === 'string' && ID_SHAPE.test(id) && hasZeroTrailingBits(id, SESSION_ID_LENGTH - 1, 15);
}

// Linear patterns, compiled to native code (faster than a character loop).
const TOKEN_PARTS = /^[\w-]+\.[\w-]+$/;
const ID_SHAPE = /^[A-Za-z0-9_-]{22}$/;

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const sextets = /* @__PURE__ */ (() => {
  const table = new Int8Array(128);
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
})();

// 16 and 32 bytes leave 4 and 2 unused bits in the last character (masks 15 and 3). The shape was
// checked first, so the character is in the alphabet.
function hasZeroTrailingBits(text: string, index: number, mask: number): boolean {
  return ((sextets[text.charCodeAt(index)] as number) & mask) === 0;
}

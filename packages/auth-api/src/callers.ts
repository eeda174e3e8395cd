import type { Clock } from '@org/session-core';
import { SessionError } from '@org/session-core';
import { base64urlDecode } from '@org/session-core/adapter';

/** A token bucket: `capacity` requests at once, refilled at `refillPerSecond`. */
export interface RateLimit {
  capacity: number;
  refillPerSecond: number;
}

/** Default bucket per calling service: bursts of 200, 100 requests per second sustained. */
export const DEFAULT_RATE_LIMIT: Readonly<RateLimit> = Object.freeze({ capacity: 200, refillPerSecond: 100 });

/** One calling service: its id and the SHA-256 of its API key, never the key itself. */
export interface ApiCaller {
  /** The caller's id, sent as the user name of `Authorization: Basic`. Letters, digits, `.`, `_`, `-`. */
  id: string;
  /** {@link hashApiKey} of the caller's key: base64url of its SHA-256. */
  keyHash: string;
  /** This caller's own bucket; default the API's `rateLimit`. */
  rateLimit?: RateLimit;
}

const CALLER_ID = /^[A-Za-z0-9._-]{1,64}$/;
const HASH_BYTES = 32;
/** A key shorter than this (characters) is refused at hashing: API keys are random, not passwords. */
export const MIN_API_KEY_LENGTH = 32;

/**
 * The stored form of an API key: base64url of its SHA-256. The key is 32 or more random bytes,
 * so one unsalted hash is enough (nothing to guess), and a leaked configuration holds no key.
 *
 * @example
 * ```ts
 * const keyHash = await hashApiKey(process.env.ORDERS_API_KEY)
 * ```
 */
export async function hashApiKey(key: string): Promise<string> {
  if (typeof key !== 'string' || key.length < MIN_API_KEY_LENGTH || key.length > 512) {
    throw new SessionError('KEY_WEAK', 'An API key must be 32 to 512 characters of random data');
  }
  return toBase64url(await sha256(key));
}

/**
 * A new API key: 32 random bytes, base64url (43 characters).
 *
 * @example
 * ```ts
 * const key = generateApiKey() // give it to the calling service; store only hashApiKey(key)
 * ```
 */
export function generateApiKey(): string {
  return toBase64url(crypto.getRandomValues(new Uint8Array(32)));
}

interface Bucket {
  tokens: number;
  at: number;
}

/** The callers of one API: authentication and token buckets. */
export class CallerRegistry {
  readonly #callers = new Map<string, { hash: Uint8Array; limit: RateLimit; bucket: Bucket | null }>();
  readonly #clock: Clock;

  constructor(callers: readonly ApiCaller[], defaults: RateLimit, clock: Clock) {
    this.#clock = clock;
    if (!Array.isArray(callers) || callers.length === 0) {
      throw new SessionError('CONFIG_INVALID', 'At least one caller is required');
    }
    checkLimit(defaults, 'rateLimit');
    for (const caller of callers) {
      if (!caller || typeof caller.id !== 'string' || !CALLER_ID.test(caller.id)) {
        throw new SessionError('CONFIG_INVALID', 'A caller id is 1 to 64 letters, digits, ".", "_" or "-"');
      }
      if (this.#callers.has(caller.id))
        throw new SessionError('CONFIG_INVALID', `Caller "${caller.id}" is listed twice`);
      const hash = typeof caller.keyHash === 'string' ? base64urlDecode(caller.keyHash) : null;
      if (hash === null || hash.length !== HASH_BYTES) {
        throw new SessionError('CONFIG_INVALID', `Caller "${caller.id}": keyHash must be hashApiKey(key)`);
      }
      const limit = caller.rateLimit ?? defaults;
      checkLimit(limit, `caller "${caller.id}" rateLimit`);
      this.#callers.set(caller.id, { hash, limit, bucket: null });
    }
  }

  /**
   * The caller id behind an `Authorization: Basic` header, or a `CALLER_UNAUTHENTICATED` error.
   * An unknown id and a wrong key cost the same hash and compare and give the same answer.
   */
  async authenticate(authorization: string | null): Promise<string> {
    const parsed = parseBasic(authorization);
    const entry = parsed ? this.#callers.get(parsed.id) : undefined;
    const presented = await sha256(parsed?.key ?? '');
    const matches = constantTimeEqual(presented, entry ? entry.hash : UNKNOWN_CALLER_HASH);
    if (!parsed || !entry || !matches) throw new SessionError('CALLER_UNAUTHENTICATED');
    return parsed.id;
  }

  /** Takes one token from the caller's bucket; returns 0, or the seconds until one is there. */
  take(id: string): number {
    const entry = this.#callers.get(id);
    if (!entry) return 1;
    const now = this.#clock.now();
    const { capacity, refillPerSecond } = entry.limit;
    const bucket = entry.bucket ?? { tokens: capacity, at: now };
    // A clock stepped back refills nothing.
    const elapsed = Math.max(0, now - bucket.at) / 1000;
    bucket.tokens = Math.min(capacity, bucket.tokens + elapsed * refillPerSecond);
    bucket.at = now;
    entry.bucket = bucket;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / refillPerSecond));
  }
}

const UNKNOWN_CALLER_HASH = new Uint8Array(HASH_BYTES);

function checkLimit(limit: RateLimit, name: string): void {
  const ok =
    limit &&
    Number.isFinite(limit.capacity) &&
    limit.capacity >= 1 &&
    Number.isFinite(limit.refillPerSecond) &&
    limit.refillPerSecond > 0;
  if (!ok) throw new SessionError('CONFIG_INVALID', `${name} needs capacity >= 1 and refillPerSecond > 0`);
}

function parseBasic(header: string | null): { id: string; key: string } | null {
  if (typeof header !== 'string' || header.length > 2048) return null;
  const match = /^[Bb][Aa][Ss][Ii][Cc] ([A-Za-z0-9+/]+={0,2})$/.exec(header.trim());
  if (!match) return null;
  let text: string;
  try {
    text = atob(match[1] as string);
  } catch {
    return null;
  }
  const colon = text.indexOf(':');
  if (colon <= 0) return null;
  return { id: text.slice(0, colon), key: text.slice(colon + 1) };
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

function toBase64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';
import { SessionError } from '@org/session-core';

/**
 * scrypt parameters: N = 2^15, r = 8, p = 1 (about 32 MiB and tens of milliseconds per hash),
 * the OWASP Password Storage Cheat Sheet's minimum for scrypt. Stored with each hash, so they can be
 * raised later without breaking existing users.
 */
const PARAMETERS = { N: 2 ** 15, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
// 128 * N * r bytes of memory, plus headroom; Node's default ceiling (32 MiB) is exactly too small.
const MAX_MEMORY = 64 * 1024 * 1024;

/**
 * Each scrypt holds ~32 MiB: at most MAX_HASHING run at once and MAX_WAITING wait for a turn; any
 * more are refused at once (429 with Retry-After), so a flood of logins cannot exhaust memory.
 */
export const MAX_HASHING = 4;
export const MAX_WAITING = 16;
let hashing = 0;
const waiting: Array<() => void> = [];

/** Scrypt computations running now (for tests of the cap). */
export function hashingInFlight(): number {
  return hashing;
}

async function withHashingSlot<T>(work: () => Promise<T>): Promise<T> {
  if (hashing >= MAX_HASHING) {
    if (waiting.length >= MAX_WAITING) {
      throw new SessionError('RATE_LIMITED', 'Too many password checks at once', {
        reason: 'hashing_busy',
        retryAfterSeconds: 1,
      });
    }
    await new Promise<void>((resolve) => waiting.push(resolve));
  } else {
    hashing++;
  }
  try {
    return await work();
  } finally {
    // Hand the slot straight to the next waiter, or give it back.
    const next = waiting.shift();
    if (next) next();
    else hashing--;
  }
}

function derive(password: string, salt: Buffer, options: ScryptOptions & { N: number }): Promise<Buffer> {
  return withHashingSlot(() => deriveNow(password, salt, options));
}

function deriveNow(password: string, salt: Buffer, options: ScryptOptions & { N: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, { ...options, maxmem: MAX_MEMORY }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

/**
 * Hashes a password with scrypt and a fresh 16-byte salt. The result is self-describing:
 * `scrypt$N$r$p$<salt b64url>$<hash b64url>`.
 *
 * @example
 * ```ts
 * const stored = await hashPassword('correct horse battery staple');
 * await verifyPassword('correct horse battery staple', stored); // true
 * ```
 */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await derive(password, salt, PARAMETERS);
  return [
    'scrypt',
    PARAMETERS.N,
    PARAMETERS.r,
    PARAMETERS.p,
    salt.toString('base64url'),
    key.toString('base64url'),
  ].join('$');
}

/**
 * Checks a password against a stored hash in constant time. A malformed stored value is a
 * mismatch, never an exception.
 *
 * @example
 * ```ts
 * if (!(await verifyPassword(input, user.passwordHash))) return showLoginError();
 * ```
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4] as string, 'base64url');
  const expected = Buffer.from(parts[5] as string, 'base64url');
  if (![N, r, p].every(Number.isSafeInteger) || expected.length !== KEY_LENGTH) return false;
  const actual = await derive(password, salt, { N, r, p }).catch((error: unknown) => {
    if (error instanceof SessionError) throw error; // busy: not a wrong password
    return null; // parameters scrypt refuses (N not a power of two, too much memory)
  });
  return actual !== null && timingSafeEqual(actual, expected);
}

let decoy: Promise<string> | undefined;

/**
 * A hash of a random password, checked against when the account does not exist, so that a login
 * for an unknown email costs the same scrypt work as one for a known email (no user enumeration
 * by timing).
 *
 * @example
 * ```ts
 * const matches = await verifyPassword(input, user?.passwordHash ?? (await decoyPasswordHash()));
 * ```
 */
export function decoyPasswordHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(16).toString('base64url'));
  return decoy;
}

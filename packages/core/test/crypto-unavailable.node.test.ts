/**
 * A runtime without Web Crypto: token generation must fail with a clear CRYPTO_UNAVAILABLE, never
 * fall back to a weaker source. Node-only because it removes and restores `globalThis.crypto`.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isSessionError, MemoryStore } from '../src/index.js';
import { SessionManager } from '../src/manager.js';
import { randomBytes, webRandom } from '../src/random.js';
import { generateSessionToken } from '../src/token.js';

let saved: PropertyDescriptor | undefined;

function removeWebCrypto(replacement?: unknown): void {
  Object.defineProperty(globalThis, 'crypto', { value: replacement, configurable: true, writable: true });
}

describe('CRYPTO_UNAVAILABLE: Web Crypto missing', () => {
  beforeEach(() => {
    saved = Object.getOwnPropertyDescriptor(globalThis, 'crypto');
    expect(saved).toBeDefined();
  });

  afterEach(() => {
    Object.defineProperty(globalThis, 'crypto', saved as PropertyDescriptor);
    expect(typeof globalThis.crypto.getRandomValues).toBe('function');
  });

  it('token generation throws CRYPTO_UNAVAILABLE (500) with a message that says what is missing', () => {
    removeWebCrypto(undefined);
    let thrown: unknown;
    try {
      generateSessionToken();
    } catch (error) {
      thrown = error;
    }
    expect(isSessionError(thrown, 'CRYPTO_UNAVAILABLE')).toBe(true);
    expect((thrown as { status: number }).status).toBe(500);
    expect((thrown as Error).message).toMatch(/getRandomValues/);
  });

  it('a crypto object without getRandomValues is refused the same way', () => {
    removeWebCrypto({ subtle: {} });
    expect(() => webRandom(new Uint8Array(8))).toThrow(expect.objectContaining({ code: 'CRYPTO_UNAVAILABLE' }));
    expect(() => randomBytes(8)).toThrow(expect.objectContaining({ code: 'CRYPTO_UNAVAILABLE' }));
  });

  it('a manager cannot be created without a CSPRNG (it draws its event key), nor issue sessions', async () => {
    const store = new MemoryStore();
    const withKey = new SessionManager({ store, logKey: new Uint8Array(32).fill(1) });
    removeWebCrypto(undefined);
    expect(() => new SessionManager({ store })).toThrow(expect.objectContaining({ code: 'CRYPTO_UNAVAILABLE' }));
    const refused = await withKey.create({ userId: 'u1' }).catch((e: unknown) => e);
    expect(isSessionError(refused, 'CRYPTO_UNAVAILABLE')).toBe(true);
    expect(store.size).toBe(0);
  });

  it('generation works again once Web Crypto is back (the module captured nothing at load)', () => {
    removeWebCrypto(undefined);
    expect(() => generateSessionToken()).toThrow();
    Object.defineProperty(globalThis, 'crypto', saved as PropertyDescriptor);
    expect(generateSessionToken().token).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
  });
});

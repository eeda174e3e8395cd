import type { JwtKey } from './keys.js';

interface Entry<V> {
  value: V;
  /** Milliseconds: the token's `exp`. The entry is never served at or after it. */
  expiresAt: number;
  /** The key that verified the token: a retired or replaced key invalidates the entry. */
  key: JwtKey;
}

/**
 * A bounded LRU of verified tokens, keyed by the exact token string. A repeated token costs a map
 * lookup instead of a signature check (~40-125 us). Entries end at the token's `exp`, never later,
 * and only while the key that verified them is still in the key set. It never answers whether a
 * session was revoked: strict mode asks the store on every call.
 */
export class VerifiedTokenCache<V> {
  private readonly entries = new Map<string, Entry<V>>();

  constructor(readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(token: string, now: number, currentKey: (kid: string) => JwtKey | undefined): V | undefined {
    const entry = this.entries.get(token);
    if (entry === undefined) return undefined;
    if (now >= entry.expiresAt || currentKey(entry.key.kid) !== entry.key) {
      this.entries.delete(token);
      return undefined;
    }
    // Re-insertion moves the entry to the young end of the Map's insertion order.
    this.entries.delete(token);
    this.entries.set(token, entry);
    return entry.value;
  }

  set(token: string, value: V, expiresAt: number, key: JwtKey): void {
    if (this.maxEntries === 0) return;
    this.entries.delete(token);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(token, { value, expiresAt, key });
  }

  clear(): void {
    this.entries.clear();
  }
}

import type { JwtKey } from './keys.js';

interface Entry<V> {
  token: string;
  value: V;
  /** Milliseconds: the token's `exp`. The entry is never served at or after it. */
  expiresAt: number;
  /** The key that verified the token: a retired or replaced key invalidates the entry. */
  key: JwtKey;
  newer: Entry<V> | null;
  older: Entry<V> | null;
}

/** Characters of the token's end that key the map: 192 bits of its signature. */
const KEY_LENGTH = 32;

function keyOf(token: string): string {
  return token.length > KEY_LENGTH ? token.slice(token.length - KEY_LENGTH) : token;
}

/**
 * A bounded LRU of verified tokens. A repeated token costs a map lookup instead of a signature
 * check (~40-125 us). Entries end at the token's `exp`, never later, and only while the key that
 * verified them is still in the key set. It never answers whether a session was revoked: strict
 * mode asks the store on every call.
 *
 * The map is keyed by the token's last {@link KEY_LENGTH} characters (signature bytes), not the
 * whole token: a request's token is a fresh string, and hashing all of it for the lookup cost more
 * than the rest of a cache hit. A hit still needs the whole token to equal the one verified.
 *
 * Recency lives in a linked list, not in the Map's insertion order: re-inserting a key into a
 * large V8 Map on every hit costs tens of microseconds, a pointer swap costs nothing.
 */
export class VerifiedTokenCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private newest: Entry<V> | null = null;
  private oldest: Entry<V> | null = null;

  constructor(readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(token: string, now: number, currentKey: (kid: string) => JwtKey | undefined): V | undefined {
    const entry = this.entries.get(keyOf(token));
    if (entry === undefined || entry.token !== token) return undefined;
    if (now >= entry.expiresAt || currentKey(entry.key.kid) !== entry.key) {
      this.remove(entry);
      return undefined;
    }
    this.touch(entry);
    return entry.value;
  }

  set(token: string, value: V, expiresAt: number, jwtKey: JwtKey): void {
    if (this.maxEntries === 0) return;
    const key = keyOf(token);
    const known = this.entries.get(key);
    if (known) {
      // Another token with the same end (never two tokens this server verified): the newer wins.
      known.token = token;
      known.value = value;
      known.expiresAt = expiresAt;
      known.key = jwtKey;
      this.touch(known);
      return;
    }
    if (this.entries.size >= this.maxEntries && this.oldest) this.remove(this.oldest);
    const entry: Entry<V> = { token, value, expiresAt, key: jwtKey, newer: null, older: this.newest };
    if (this.newest) this.newest.newer = entry;
    this.newest = entry;
    if (!this.oldest) this.oldest = entry;
    this.entries.set(key, entry);
  }

  clear(): void {
    this.entries.clear();
    this.newest = null;
    this.oldest = null;
  }

  /** Moves an entry to the young end. */
  private touch(entry: Entry<V>): void {
    if (entry === this.newest) return;
    this.unlink(entry);
    entry.older = this.newest;
    entry.newer = null;
    if (this.newest) this.newest.newer = entry;
    this.newest = entry;
    if (!this.oldest) this.oldest = entry;
  }

  private remove(entry: Entry<V>): void {
    this.unlink(entry);
    this.entries.delete(keyOf(entry.token));
  }

  private unlink(entry: Entry<V>): void {
    if (entry.newer) entry.newer.older = entry.older;
    else this.newest = entry.older;
    if (entry.older) entry.older.newer = entry.newer;
    else this.oldest = entry.newer;
    entry.newer = null;
    entry.older = null;
  }
}

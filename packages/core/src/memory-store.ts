import { SessionError } from './errors.js';
import {
  EXPIRED_RETENTION_MS,
  type ExpiredSweep,
  isRevokedByEpoch,
  type MarkOnceStore,
  type RefreshFamilyStore,
  type SessionStore,
  type UserEpoch,
} from './store.js';
import { type RefreshFamilyRecord, recordExpiresAt, type SessionData, type SessionRecord } from './types.js';

export interface MemoryStoreOptions {
  /**
   * Upper bound on stored sessions (default 10 000). At the bound, expired records are swept; if
   * the store is still full, the new session's own user gives up their least recently written
   * session, and a user with none is refused (`STORE_UNAVAILABLE`). One account logging in over
   * and over can therefore never push other users' sessions out.
   */
  maxSessions?: number;
  /** Upper bound on refresh families (default: `maxSessions`). */
  maxRefreshFamilies?: number;
  /**
   * Upper bound on `markOnce` keys, the DPoP replay cache (default 100 000). At the bound expired
   * keys are dropped; if it is still full, new keys are refused (`RATE_LIMITED`) rather than an
   * unexpired key forgotten, which would let its proof be replayed.
   */
  maxOnceKeys?: number;
}

// Set by MemoryStore's static block: the one way into its private maps (see dumpMemoryStore).
let readContents: (store: MemoryStore) => Record<string, unknown>;

/**
 * An in-process store, bounded in size. It is honest about what it is: sessions live in this
 * process only, vanish on restart and are not shared between instances. Use it for tests, demos
 * and single-process tools; use Redis, PostgreSQL or SQLite for anything else.
 *
 * Records are copied and frozen on write, so nothing outside can change what is stored, and reads
 * hand out the stored record itself (no copy per read).
 *
 * @example
 * ```ts
 * const sessions = createSessionManager({ store: new MemoryStore({ maxSessions: 1000 }) })
 * ```
 */
export class MemoryStore<D extends SessionData = SessionData>
  implements SessionStore<D>, RefreshFamilyStore, MarkOnceStore
{
  static {
    readContents = (store) => ({
      sessions: [...store.sessions],
      byUser: [...store.byUser].map(([userId, ids]) => [userId, typeof ids === 'string' ? [ids] : [...ids]]),
      families: [...store.families],
      epochs: [...store.epochs],
    });
  }

  readonly maxSessions: number;
  readonly maxRefreshFamilies: number;
  readonly maxOnceKeys: number;
  /** markOnce keys and when each expires, in insertion order. */
  private readonly onceKeys = new Map<string, number>();
  private readonly sessions = new Map<string, SessionRecord<D>>();
  /** Session ids per user: the id itself while the user has one (most do), a Set from two on. */
  private readonly byUser = new Map<string, string | Set<string>>();
  private readonly families = new Map<string, RefreshFamilyRecord>();
  private readonly epochs = new Map<string, { epoch: UserEpoch; expiresAt: number }>();
  // Creates since the last full sweep: at the bound a sweep (O(n)) runs at most once per n/16
  // creates, so a full store costs O(1) amortised per create instead of O(n).
  private createsSinceSweep = 0;

  constructor(options: MemoryStoreOptions = {}) {
    const max = options.maxSessions ?? 10_000;
    const maxFamilies = options.maxRefreshFamilies ?? max;
    for (const [name, value] of [
      ['maxSessions', max],
      ['maxRefreshFamilies', maxFamilies],
    ] as const) {
      if (!Number.isInteger(value) || value < 1)
        throw new SessionError('CONFIG_INVALID', `${name} must be a positive integer`);
    }
    this.maxSessions = max;
    this.maxRefreshFamilies = maxFamilies;
    const maxOnce = options.maxOnceKeys ?? 100_000;
    if (!Number.isInteger(maxOnce) || maxOnce < 1) {
      throw new SessionError('CONFIG_INVALID', 'maxOnceKeys must be a positive integer');
    }
    this.maxOnceKeys = maxOnce;
  }

  async markOnce(key: string, ttlMs: number, now: number): Promise<boolean> {
    const expiresAt = this.onceKeys.get(key);
    if (expiresAt !== undefined && expiresAt > now) return false;
    this.onceKeys.delete(key);
    if (this.onceKeys.size >= this.maxOnceKeys) {
      for (const [held, until] of this.onceKeys) if (until <= now) this.onceKeys.delete(held);
      if (this.onceKeys.size >= this.maxOnceKeys) {
        throw new SessionError('RATE_LIMITED', 'The replay cache is full', { reason: 'once_keys_full' });
      }
    }
    this.onceKeys.set(key, now + ttlMs);
    return true;
  }

  /** Number of records held, expired ones included until swept. */
  get size(): number {
    return this.sessions.size;
  }

  async create(record: SessionRecord<D>, now: number): Promise<void> {
    if (this.sessions.has(record.id)) throw new SessionError('STORE_CONFLICT', 'Session id already exists');
    this.createsSinceSweep++;
    if (this.sessions.size >= this.maxSessions) this.makeRoom(record.userId, now);
    this.put(record, undefined);
  }

  async get(id: string, now: number): Promise<SessionRecord<D> | null> {
    return this.getSync(id, now);
  }

  /** {@link get} without the promise: the manager's read path uses it (no I/O to wait for). */
  getSync(id: string, now: number): SessionRecord<D> | null {
    const record = this.sessions.get(id);
    if (!record || recordExpiresAt(record) <= now) return null;
    // Most users never had an epoch: skip the lookup while none is held.
    if (this.epochs.size > 0 && isRevokedByEpoch(record, this.epochFor(record.userId, now))) return null;
    return record;
  }

  async rotate(oldId: string, expectedVersion: number, successor: SessionRecord<D>, now: number): Promise<boolean> {
    if (this.sessions.has(successor.id)) throw new SessionError('STORE_CONFLICT', 'Session id already exists');
    const current = this.sessions.get(oldId);
    if (!current || current.version !== expectedVersion || recordExpiresAt(current) <= now) return false;
    // Synchronous from here on: no reader can see both records, or neither.
    this.remove(current);
    this.put(successor, current);
    return true;
  }

  async update(record: SessionRecord<D>, expectedVersion: number, now: number): Promise<boolean> {
    const current = this.sessions.get(record.id);
    if (!current || current.version !== expectedVersion || recordExpiresAt(current) <= now) return false;
    if (current.userId !== record.userId) this.unindex(current);
    // Set in place, not deleted and added again: V8 leaves a deleted Map entry in its key's chain
    // until the table is rebuilt, so a session written over and over got slower to write each time
    // (13-33 us a write with 10 000 held). Eviction never follows the map's order (see makeRoom).
    this.put(record, current);
    return true;
  }

  async delete(id: string): Promise<boolean> {
    const record = this.sessions.get(id);
    if (!record) return false;
    this.remove(record);
    return true;
  }

  async listByUser(userId: string, now: number): Promise<SessionRecord<D>[]> {
    const ids = this.byUser.get(userId);
    if (!ids) return [];
    const epoch = this.epochFor(userId, now);
    const live: SessionRecord<D>[] = [];
    for (const id of typeof ids === 'string' ? [ids] : ids) {
      const record = this.sessions.get(id);
      // Expired records stay until the retention has passed (see EXPIRED_RETENTION_MS).
      if (record && recordExpiresAt(record) > now && !isRevokedByEpoch(record, epoch)) live.push(record);
    }
    return live;
  }

  async deleteByUser(userId: string, exceptId?: string): Promise<number> {
    const ids = this.byUser.get(userId);
    if (!ids) return 0;
    let count = 0;
    for (const id of typeof ids === 'string' ? [ids] : [...ids]) {
      if (id === exceptId) continue;
      const record = this.sessions.get(id);
      if (record) {
        this.remove(record);
        count++;
      }
    }
    return count;
  }

  async setUserEpoch(userId: string, epoch: UserEpoch, expiresAt: number, now: number): Promise<void> {
    const held = this.epochFor(userId, now);
    if (held && held.validAfter > epoch.validAfter) return;
    this.epochs.set(userId, { epoch: Object.freeze({ validAfter: epoch.validAfter, keep: epoch.keep }), expiresAt });
  }

  async getUserEpoch(userId: string, now: number): Promise<UserEpoch | null> {
    return this.epochFor(userId, now);
  }

  async deleteAll(): Promise<number> {
    const count = this.sessions.size;
    this.clearAll();
    return count;
  }

  async createRefreshFamily(family: RefreshFamilyRecord, now: number): Promise<void> {
    if (this.families.has(family.id)) throw new SessionError('STORE_CONFLICT', 'Refresh family id already exists');
    if (this.families.size >= this.maxRefreshFamilies) {
      for (const [id, f] of this.families) if (recordExpiresAt(f) <= now) this.families.delete(id);
      if (this.families.size >= this.maxRefreshFamilies) {
        const first = this.families.keys().next();
        if (!first.done) this.families.delete(first.value);
      }
    }
    this.families.set(family.id, frozenCopy(family, undefined));
  }

  async getRefreshFamily(id: string, now: number): Promise<RefreshFamilyRecord | null> {
    const family = this.families.get(id);
    if (!family) return null;
    if (recordExpiresAt(family) <= now) {
      this.families.delete(id);
      return null;
    }
    return family;
  }

  async updateRefreshFamily(family: RefreshFamilyRecord, expectedGeneration: number, now: number): Promise<boolean> {
    const current = this.families.get(family.id);
    if (!current || current.generation !== expectedGeneration || recordExpiresAt(current) <= now) return false;
    this.families.set(family.id, frozenCopy(family, current));
    return true;
  }

  /**
   * Drops every record past its deadline plus the retention (`EXPIRED_RETENTION_MS`) and every
   * epoch past its own; returns how many records. Runs by itself when the store is full.
   *
   * @example
   * ```ts
   * setInterval(() => store.sweep(Date.now()), 60_000) // optional: free memory between creates
   * ```
   */
  sweep(now: number): number {
    return this.dropExpired(now - EXPIRED_RETENTION_MS, now);
  }

  /**
   * {@link sweep} for `startSweeper`: one process holds the store, so there is nothing to
   * coordinate and everything goes in one pass.
   */
  async deleteExpired(now: number): Promise<ExpiredSweep> {
    const families = this.families.size;
    const removed = this.sweep(now);
    const refreshFamilies = families - this.families.size;
    return { sessions: removed - refreshFamilies, refreshFamilies, done: true, skipped: false };
  }

  /** Drops sessions and families expired at `before`, and epochs expired at `now`. */
  private dropExpired(before: number, now: number): number {
    this.createsSinceSweep = 0;
    let removed = 0;
    for (const record of this.sessions.values()) {
      if (recordExpiresAt(record) <= before) {
        this.remove(record);
        removed++;
      }
    }
    for (const [userId, held] of this.epochs) if (held.expiresAt <= now) this.epochs.delete(userId);
    for (const [key, until] of this.onceKeys) if (until <= now) this.onceKeys.delete(key);
    for (const [id, family] of this.families) {
      if (recordExpiresAt(family) <= before) {
        this.families.delete(id);
        removed++;
      }
    }
    return removed;
  }

  async close(): Promise<void> {
    this.clearAll();
  }

  private clearAll(): void {
    this.sessions.clear();
    this.byUser.clear();
    this.families.clear();
    this.epochs.clear();
    this.onceKeys.clear();
    this.createsSinceSweep = 0;
  }

  private makeRoom(userId: string, now: number): void {
    // Under pressure, records past their deadline go at once, retention or not. A full sweep is
    // O(n): at most once per n/16 creates, unless the store would otherwise refuse.
    let swept = false;
    if (this.createsSinceSweep >= Math.max(1, this.maxSessions >> 4)) {
      this.dropExpired(now, now);
      swept = true;
    }
    // Only the user's own sessions may make room, oldest created first.
    const own = this.byUser.get(userId);
    if (own) {
      for (const id of typeof own === 'string' ? [own] : [...own]) {
        if (this.sessions.size < this.maxSessions) return;
        const record = this.sessions.get(id);
        if (record) this.remove(record);
      }
    }
    if (this.sessions.size >= this.maxSessions && !swept) this.dropExpired(now, now);
    if (this.sessions.size >= this.maxSessions) {
      throw new SessionError('STORE_UNAVAILABLE', 'The memory store is full', { reason: 'full' });
    }
  }

  private epochFor(userId: string, now: number): UserEpoch | null {
    const held = this.epochs.get(userId);
    if (!held) return null;
    if (held.expiresAt <= now) {
      this.epochs.delete(userId);
      return null;
    }
    return held.epoch;
  }

  /** Stores a frozen copy of `record`; `previous` is the record it replaces, whose parts it may share. */
  private put(record: SessionRecord<D>, previous: SessionRecord<D> | undefined): void {
    const stored = frozenRecord(record, previous);
    this.sessions.set(stored.id, stored);
    // An update of the same session for the same user: indexed already.
    if (previous !== undefined && previous.id === stored.id && previous.userId === stored.userId) return;
    const ids = this.byUser.get(stored.userId);
    if (ids === undefined) this.byUser.set(stored.userId, stored.id);
    else if (typeof ids !== 'string') ids.add(stored.id);
    else if (ids !== stored.id) this.byUser.set(stored.userId, new Set([ids, stored.id]));
  }

  private remove(record: SessionRecord<D>): void {
    this.sessions.delete(record.id);
    this.unindex(record);
  }

  private unindex(record: SessionRecord<D>): void {
    const ids = this.byUser.get(record.userId);
    if (ids === undefined) return;
    if (typeof ids === 'string') {
      if (ids === record.id) this.byUser.delete(record.userId);
      return;
    }
    ids.delete(record.id);
    if (ids.size === 1) this.byUser.set(record.userId, ids.values().next().value as string);
    else if (ids.size === 0) this.byUser.delete(record.userId);
  }
}

/**
 * Testing hook, not exported from the package: everything `store` holds (its sessions, its
 * per-user index, refresh families and user epochs, expired ones not yet swept included) as JSON.
 * The store conformance suite's `dumpRaw` for `MemoryStore`, so that its secret-at-rest check (A5)
 * reads what is really stored rather than what `get` chooses to return.
 *
 * @example
 * ```ts
 * runStoreConformance({ name: 'MemoryStore', createStore, dumpRaw: (s) => dumpMemoryStore(s as MemoryStore) })
 * ```
 */
export function dumpMemoryStore(store: MemoryStore<SessionData>): string {
  return JSON.stringify(readContents(store));
}

/**
 * A deep-frozen copy of `record`, field by field (one object shape for every stored record). Parts
 * of `previous` (a record this store froze) that `record` still holds are shared, not copied again:
 * a write pays for what it changed.
 */
function frozenRecord<D extends SessionData>(
  record: SessionRecord<D>,
  previous: SessionRecord<D> | undefined,
): SessionRecord<D> {
  return Object.freeze({
    id: text(record.id, previous?.id),
    secretHash: text(record.secretHash, previous?.secretHash),
    userId: text(record.userId, previous?.userId),
    createdAt: record.createdAt,
    lastSeenAt: record.lastSeenAt,
    idleExpiresAt: record.idleExpiresAt,
    absoluteExpiresAt: record.absoluteExpiresAt,
    authenticatedAt: record.authenticatedAt,
    persistent: record.persistent,
    data: frozenCopy(record.data, previous?.data),
    metadata: frozenCopy(record.metadata, previous?.metadata),
    version: record.version,
  });
}

/** Thrown by {@link copyPlain} for anything it does not copy itself. */
const NOT_PLAIN: unique symbol = Symbol('not plain');
/** Nesting depth and node count past which structuredClone copies instead (cycles, shared subtrees). */
const MAX_DEPTH = 64;
const MAX_NODES = 10_000;

/**
 * A deep-frozen copy of `value`, as structuredClone would copy it. Plain objects, arrays and
 * primitives are copied here (about ten times cheaper than structuredClone); for anything else
 * (a Date, a Map, a cycle, a function...) the whole value goes through structuredClone, so
 * that it is copied (or refused) exactly as before. `previous` is what this store froze at the
 * same place: an identical object there is shared.
 */
function frozenCopy<T>(value: T, previous: unknown): T {
  if (typeof value !== 'object' || value === null) return value;
  try {
    return copyPlain(value, previous, { nodes: 0 }, 0) as T;
  } catch (error) {
    if (error !== NOT_PLAIN) throw error;
    return deepFreeze(structuredClone(value));
  }
}

function copyPlain(value: unknown, previous: unknown, budget: { nodes: number }, depth: number): unknown {
  if (value === previous) return previous;
  if (typeof value !== 'object' || value === null) {
    if (typeof value === 'string') return flat(value);
    if (typeof value === 'function' || typeof value === 'symbol') throw NOT_PLAIN;
    return value;
  }
  if (depth > MAX_DEPTH || ++budget.nodes > MAX_NODES) throw NOT_PLAIN;
  const proto = Object.getPrototypeOf(value);
  const before = typeof previous === 'object' && previous !== null ? (previous as Record<string, unknown>) : undefined;
  if (proto === Array.prototype) {
    const array = value as unknown[];
    const copy = new Array<unknown>(array.length);
    for (let i = 0; i < array.length; i++) copy[i] = copyPlain(array[i], before?.[i], budget, depth + 1);
    return Object.freeze(copy);
  }
  if (proto !== Object.prototype && proto !== null) throw NOT_PLAIN;
  const object = value as Record<string, unknown>;
  const copy: Record<string, unknown> = {};
  const keys = Object.keys(object);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    // Assigning __proto__ would set the prototype, not a property.
    if (key === '__proto__') throw NOT_PLAIN;
    copy[key] = copyPlain(object[key], before?.[key], budget, depth + 1);
  }
  return Object.freeze(copy);
}

/** `value`, or `previous` when equal (a string this store keeps already). */
function text(value: string, previous: string | undefined): string {
  return value === previous ? previous : flat(value);
}

/**
 * `value` as one flat string. Core's own encoders already return flat strings (ids, hashes); this
 * guards the strings an app built by concatenation (a user id), which V8 keeps as a tree of their
 * pieces (about 870 B for 64 characters instead of 88). trim() hands back the flattened string
 * (elsewhere the same string), and costs ~20 ns.
 */
function flat(value: string): string {
  if (value.length < 13) return value; // V8 concatenates shorter strings flat
  const trimmed = value.trim();
  return trimmed.length === value.length ? trimmed : value;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}

import type { RefreshFamilyRecord, SessionData, SessionRecord } from './types.js';

/**
 * How long a store keeps a session record readable after its deadline (idle or absolute). Stores
 * set their TTLs and sweeps to `recordExpiresAt(record) + EXPIRED_RETENTION_MS`, so that a session
 * that expired a moment ago is reported the same way on every store: status `expired`, code
 * `SESSION_EXPIRED`, event `session.expired` (never `unknown` on one store and `expired` on another).
 * The manager asks `get(id, now - EXPIRED_RETENTION_MS)` and decides expiry itself with `now`.
 */
export const EXPIRED_RETENTION_MS = 60 * 60_000;

/**
 * A user's "valid after" epoch, written by "log out everywhere" (E3) before any session is deleted.
 * Every session of the user whose `createdAt` is earlier than `validAfter` counts as revoked, except
 * the one named by `keep` ("log out everywhere else"). Rotation keeps `createdAt`, so a successor
 * created by a rotation that raced the revocation is revoked too.
 */
export interface UserEpoch {
  /** Sessions created before this time (ms, the manager's clock) are revoked. */
  validAfter: number;
  /** The one session id the epoch spares, or null. */
  keep: string | null;
}

/**
 * Whether `record` is revoked by its user's epoch (the one rule every store applies).
 *
 * @example
 * ```ts
 * if (isRevokedByEpoch(record, epoch)) return null // inside a store's get()
 * ```
 */
export function isRevokedByEpoch(
  record: { id: string; createdAt: number },
  epoch: UserEpoch | null | undefined,
): boolean {
  return epoch != null && record.createdAt < epoch.validAfter && record.id !== epoch.keep;
}

/** What one {@link SessionStore.deleteExpired} call did. */
export interface ExpiredSweep {
  /** Sessions deleted. */
  sessions: number;
  /** Refresh families deleted (0 for a store that keeps none). */
  refreshFamilies: number;
  /** False when the call stopped at its batch limit with more to delete: call again soon. */
  done: boolean;
  /** True when another instance was sweeping the same store, so this call deleted nothing. */
  skipped: boolean;
}

/**
 * The contract every session store implements: sessions, per-user epochs, rotation and
 * `deleteAll`. All methods but {@link SessionStore.getSync} are async and keyed by session id.
 * `now` is the manager's clock (ms since epoch): stores compute TTLs and filter expired records
 * with it, never with their own clock, so that one clock decides expiry everywhere.
 *
 * Failures to reach the backing service must reject with a `SessionError` whose code is
 * `STORE_UNAVAILABLE`; the manager then fails closed (no session), never open.
 *
 * Refresh-token families are the other half of the contract, {@link RefreshFamilyStore}: a store
 * may implement both (every store we ship does), and {@link isRefreshFamilyStore} tells which.
 * A store of sessions alone serves cookie and hybrid sessions; refresh tokens refuse it.
 *
 * Run `runStoreConformance` from `@org/session-core/testing/vitest` against your store to check it.
 *
 * @example
 * ```ts
 * class MyStore implements SessionStore, RefreshFamilyStore {
 *   // ...
 * }
 * ```
 */
export interface SessionStore<D extends SessionData = SessionData> {
  /** Inserts a new record. Rejects with `STORE_CONFLICT` if the id already exists. */
  create(record: SessionRecord<D>, now: number): Promise<void>;
  /**
   * The record, or null when unknown, expired at `now`, or revoked by its user's epoch
   * ({@link isRevokedByEpoch}). Records must stay readable for {@link EXPIRED_RETENTION_MS} past
   * their deadline: the manager reads with `now` set that far back to tell expired from unknown.
   */
  get(id: string, now: number): Promise<SessionRecord<D> | null>;
  /**
   * Optional fast path, for stores that hold records in this process (like `MemoryStore`): the
   * same answer as {@link get}, synchronously. The manager then validates without an event-loop
   * round trip and without a timeout, which could not interrupt synchronous code anyway. Stores
   * that do I/O must not offer it: a store without it loses nothing but this shortcut.
   */
  getSync?(id: string, now: number): SessionRecord<D> | null;
  /**
   * Compare-and-set: replaces the record only if the stored version equals `expectedVersion`.
   * The new record carries its own (incremented) version. Returns false on a version mismatch or
   * when the record no longer exists. (A record revoked by its user's epoch may still be updated:
   * `get` and `listByUser` keep hiding it.)
   */
  update(record: SessionRecord<D>, expectedVersion: number, now: number): Promise<boolean>;
  /**
   * Optional fast path for a touch (the sliding idle deadline a read writes): the same
   * compare-and-set and refusals as {@link update}, for a `record` that differs from the stored
   * one only in `version`, `lastSeenAt` and `idleExpiresAt`, so a store may write just those and
   * leave the rest (the data) as it is. A store without it gets `update` with the whole record.
   */
  touch?(record: SessionRecord<D>, expectedVersion: number, now: number): Promise<boolean>;
  /**
   * Rotation as one atomic step (D1, E3): replaces the record `oldId` with `successor` (a new id,
   * the same user, `version` 1) if, and only if, the stored old record still has version
   * `expectedVersion` and is live at `now`. Readers never see both records live, and never see
   * neither once this resolves true: concurrent rotations of one session have exactly one winner,
   * and a failure (rejection) leaves the old record in place. The successor is in the user's
   * index before the old record is gone, so a concurrent `deleteByUser` sees one of the two.
   * Returns false, changing nothing, when the old record is gone, changed or expired; rejects
   * with `STORE_CONFLICT` if the successor's id exists.
   */
  rotate(oldId: string, expectedVersion: number, successor: SessionRecord<D>, now: number): Promise<boolean>;
  /** Deletes one record. Returns whether it existed. */
  delete(id: string): Promise<boolean>;
  /**
   * Live records of one user (any order): never expired ones, never ones revoked by the user's
   * epoch. Not bounded by the manager's request timeout: a user with many sessions is read in
   * batches, each bounded by the store's own timeout.
   */
  listByUser(userId: string, now: number): Promise<SessionRecord<D>[]>;
  /**
   * Deletes every record of one user except `exceptId`, and returns how many were deleted. Works
   * in batches each bounded by the store's own timeout (the manager sets no overall bound), and
   * an id leaves any per-user index only once its record is gone.
   */
  deleteByUser(userId: string, exceptId?: string): Promise<number>;
  /**
   * Writes the user's epoch unless the store holds one with a later `validAfter` (epochs never move
   * back; an equal one is replaced). Kept at least until `expiresAt` (by then every session it could
   * revoke has expired), then dropped like any expired record.
   */
  setUserEpoch(userId: string, epoch: UserEpoch, expiresAt: number, now: number): Promise<void>;
  /** The user's epoch, or null when none is held (or it passed its `expiresAt`). */
  getUserEpoch(userId: string, now: number): Promise<UserEpoch | null>;
  /**
   * Deletes every session this store holds (and, in a store that is a {@link RefreshFamilyStore}
   * too, every refresh family), and nothing else: only what lies under its own key prefix, schema
   * or tables, never a neighbour's data on the same server. Returns how many sessions were deleted
   * (records past their deadline but not yet swept may be counted). An administrative operation
   * ("log everyone out", E3), never on a request path: it may take many round trips, in batches
   * short enough not to block requests.
   */
  deleteAll(): Promise<number>;

  /**
   * Optional, for stores whose backend does not expire records by itself (SQL tables; Redis does
   * and needs none): deletes sessions and refresh families whose deadline is
   * {@link EXPIRED_RETENTION_MS} or more before `now`, and user epochs past their own expiry, in
   * short batches. Where the store can coordinate instances it sweeps on one at a time and answers
   * `skipped: true` on the others. Driven by `startSweeper`; a store without it loses nothing but
   * the sweeper.
   */
  deleteExpired?(now: number): Promise<ExpiredSweep>;

  /**
   * Optional, read once when a manager is built: the store's promise that every call of its per-key
   * methods (`create`, `get`, `update`, `touch`, `rotate`, `delete`, `setUserEpoch`,
   * `getUserEpoch`, and the {@link RefreshFamilyStore} and {@link MarkOnceStore} methods) settles,
   * or rejects with a coded error (`STORE_UNAVAILABLE`, reason `timeout` when it gave up waiting),
   * within this many ms, end to end: every round trip, the wait for a first connection, and any
   * step after the first (a coarse deadline timer may fire up to an eighth of it late, as the
   * manager's own does). `rotate` may take twice as long, so that it can still find out whether a
   * step that got no answer took effect. The batched methods (`listByUser`, `deleteByUser`,
   * `deleteAll`, `deleteExpired`) are not covered: they bound each round, not the whole call.
   *
   * A manager whose `storeTimeoutMs` is at least this sets no deadline of its own on those calls
   * (it still turns uncoded errors into `STORE_UNAVAILABLE`: fail closed); with a smaller
   * `storeTimeoutMs`, or without this member, it bounds each call itself. A positive finite
   * number; anything else is refused with `CONFIG_INVALID` when the manager is built. Declare it
   * only when it holds: a store that overstays it keeps a request waiting as long as it does.
   *
   * @example
   * ```ts
   * class MyStore implements SessionStore {
   *   readonly settlesWithinMs = 500 // every per-key call bounded by one 500 ms deadline
   *   // ...
   * }
   * ```
   */
  readonly settlesWithinMs?: number;

  /** Releases what the store itself opened (never a client the user passed in). */
  close?(): Promise<void>;
}

/**
 * The store half that rotating refresh tokens (API and mobile mode) need: one record per refresh
 * family, compare-and-set on its generation. Same rules as {@link SessionStore}: `now` is the
 * manager's clock, and an unreachable backing service rejects with `STORE_UNAVAILABLE`. A store
 * that holds sessions too deletes its families in `deleteAll`.
 *
 * @example
 * ```ts
 * if (isRefreshFamilyStore(store)) await store.getRefreshFamily(familyId, Date.now())
 * ```
 */
export interface RefreshFamilyStore {
  /** Inserts a refresh family. Rejects with `STORE_CONFLICT` if the id already exists. */
  createRefreshFamily(family: RefreshFamilyRecord, now: number): Promise<void>;
  /** The family, or null when unknown or expired at `now`. Revoked families are returned. */
  getRefreshFamily(id: string, now: number): Promise<RefreshFamilyRecord | null>;
  /** Compare-and-set on `generation`, as {@link SessionStore.update} does on `version`. */
  updateRefreshFamily(family: RefreshFamilyRecord, expectedGeneration: number, now: number): Promise<boolean>;
}

/**
 * Whether `store` implements {@link RefreshFamilyStore} (all three methods), checked at run time
 * so that a store written in JavaScript is judged by what it has, not by what it declares.
 *
 * @example
 * ```ts
 * if (!isRefreshFamilyStore(store)) throw new Error('refresh tokens need a RefreshFamilyStore')
 * ```
 */
export function isRefreshFamilyStore<S extends object>(store: S): store is S & RefreshFamilyStore {
  const candidate = store as Partial<RefreshFamilyStore>;
  return (
    typeof candidate.createRefreshFamily === 'function' &&
    typeof candidate.getRefreshFamily === 'function' &&
    typeof candidate.updateRefreshFamily === 'function'
  );
}

/**
 * An optional store capability: remember a key once, for a while, across every instance that
 * shares the store (DPoP proof ids). Third-party stores without it keep working; only features
 * that need it (a DPoP verifier) refuse them, at construction.
 *
 * @example
 * ```ts
 * if (isMarkOnceStore(store)) await store.markOnce('dpop:ab12', 65_000, Date.now())
 * ```
 */
export interface MarkOnceStore {
  /**
   * Records `key` until `now + ttlMs`. Resolves true if it was not recorded (or its record had
   * expired), false if it was: one caller in any number of concurrent ones gets true.
   */
  markOnce(key: string, ttlMs: number, now: number): Promise<boolean>;
}

/**
 * Whether `store` implements {@link MarkOnceStore}.
 *
 * @example
 * ```ts
 * if (!isMarkOnceStore(store)) throw new Error('this store cannot hold a replay cache')
 * ```
 */
export function isMarkOnceStore(store: unknown): store is MarkOnceStore {
  return (
    typeof store === 'object' && store !== null && typeof (store as Partial<MarkOnceStore>).markOnce === 'function'
  );
}

import type { RefreshFamilyRecord, SessionData, SessionRecord } from './types.js';

/**
 * The contract every session store implements. All methods are async and keyed by session id.
 * `now` is the manager's clock (ms since epoch): stores compute TTLs and filter expired records
 * with it, never with their own clock, so that one clock decides expiry everywhere.
 *
 * Failures to reach the backing service must reject with a `SessionError` whose code is
 * `STORE_UNAVAILABLE`; the manager then fails closed (no session), never open.
 *
 * Run `runStoreConformance` from `@org/session-core/testing` against your store to check it.
 */
export interface SessionStore<D extends SessionData = SessionData> {
  /** Inserts a new record. Rejects with `STORE_CONFLICT` if the id already exists. */
  create(record: SessionRecord<D>, now: number): Promise<void>;
  /** The record, or null when unknown or already expired at `now`. */
  get(id: string, now: number): Promise<SessionRecord<D> | null>;
  /**
   * Optional, for stores that hold records in this process (like `MemoryStore`): the same answer
   * as {@link get}, synchronously. The manager then validates without an event-loop round trip and
   * without a timeout, which could not interrupt synchronous code anyway. Stores that do I/O must
   * not offer it.
   */
  getSync?(id: string, now: number): SessionRecord<D> | null;
  /**
   * Compare-and-set: replaces the record only if the stored version equals `expectedVersion`.
   * The new record carries its own (incremented) version. Returns false on a version mismatch or
   * when the record no longer exists.
   */
  update(record: SessionRecord<D>, expectedVersion: number, now: number): Promise<boolean>;
  /** Deletes one record. Returns whether it existed. */
  delete(id: string): Promise<boolean>;
  /** Live records of one user (any order). Never returns expired records. */
  listByUser(userId: string, now: number): Promise<SessionRecord<D>[]>;
  /** Deletes every record of one user except `exceptId`. Returns how many were deleted. */
  deleteByUser(userId: string, exceptId?: string): Promise<number>;
  /**
   * Deletes every session and every refresh family this store holds, and nothing else: only
   * what lies under its own key prefix, schema or tables, never a neighbour's data on the same
   * server. Returns how many sessions were deleted (records past their deadline but not yet
   * swept may be counted). An administrative operation ("log everyone out", E3), never on a
   * request path: it may take many round trips, in batches short enough not to block requests.
   */
  deleteAll(): Promise<number>;

  /** Inserts a refresh family. Rejects with `STORE_CONFLICT` if the id already exists. */
  createRefreshFamily(family: RefreshFamilyRecord, now: number): Promise<void>;
  /** The family, or null when unknown or expired at `now`. Revoked families are returned. */
  getRefreshFamily(id: string, now: number): Promise<RefreshFamilyRecord | null>;
  /** Compare-and-set on `generation`, as {@link update} does on `version`. */
  updateRefreshFamily(family: RefreshFamilyRecord, expectedGeneration: number, now: number): Promise<boolean>;

  /** Releases what the store itself opened (never a client the user passed in). */
  close?(): Promise<void>;
}

import {
  type RefreshFamilyRecord,
  type RefreshFamilyStore,
  recordExpiresAt,
  type SessionData,
  type SessionRecord,
  type SessionStore,
  type UserEpoch,
} from '@org/session-core';
import type { MarkOnceStore } from '@org/session-core/dpop';
import { type Pause, type SweepOptions, type SweepResult, sweepTables } from './batches.js';
import { type Dialect, type Row, type RowCodec, rowCodec } from './codec.js';
import { type SharedStatement, SWEEP } from './statements.js';

/** What a statement answered: its rows (reads), or how many rows it changed (writes). */
export interface QueryAnswer {
  rows: Row[];
  changes: number;
}

/**
 * The part of a SQL session store that is the same in every dialect: each method is one of the
 * statements of `sharedStatements`, run through {@link SqlStore.query}. A store adds what its
 * dialect does its own way: opening and closing the connection, migrations, rotation, and the
 * batched deletes of `deleteByUser` and `deleteAll`. Updates are compare-and-set on `version` or
 * `generation`; expiry uses the `now` the manager passes, never the database clock.
 */
export abstract class SqlStore<D extends SessionData = SessionData>
  implements SessionStore<D>, RefreshFamilyStore, MarkOnceStore
{
  /** Rows per statement when `listByUser` and `deleteByUser` walk one user's sessions. */
  protected abstract readonly userBatchSize: number;
  protected readonly codec: RowCodec;

  protected constructor(dialect: Dialect) {
    this.codec = rowCodec(dialect);
  }

  /** Runs one shared statement; any failure rejects with a `SessionError` (`STORE_UNAVAILABLE`, `STORE_CONFLICT`). */
  protected abstract query(statement: SharedStatement, values: unknown[]): Promise<QueryAnswer>;

  /** Between two batches of a multi-statement walk (none by default). */
  protected readonly pause: Pause = () => {};

  abstract rotate(oldId: string, expectedVersion: number, successor: SessionRecord<D>, now: number): Promise<boolean>;
  abstract deleteByUser(userId: string, exceptId?: string): Promise<number>;
  abstract deleteAll(): Promise<number>;

  async create(record: SessionRecord<D>, _now: number): Promise<void> {
    await this.query('createSession', this.codec.sessionValues(record));
  }

  /** One statement: the user's epoch is joined in, so a revoked record costs no second round trip. */
  async get(id: string, now: number): Promise<SessionRecord<D> | null> {
    const { rows } = await this.query('getSession', [id, now]);
    return rows[0] ? this.codec.toSession<D>(rows[0]) : null;
  }

  async update(record: SessionRecord<D>, expectedVersion: number, now: number): Promise<boolean> {
    const { changes } = await this.query('updateSession', [...this.codec.sessionValues(record), expectedVersion, now]);
    return changes === 1;
  }

  /**
   * The sliding-expiry write of a read: the same compare-and-set as {@link update}, but one UPDATE
   * of the deadline and version columns only. The data column is neither serialised nor sent nor
   * rewritten, so a touch costs the same whatever the session holds.
   */
  async touch(record: SessionRecord<D>, expectedVersion: number, now: number): Promise<boolean> {
    const values = [
      record.id,
      record.lastSeenAt,
      record.idleExpiresAt,
      recordExpiresAt(record),
      record.version,
      expectedVersion,
      now,
    ];
    return (await this.query('touchSession', values)).changes === 1;
  }

  async delete(id: string): Promise<boolean> {
    return (await this.query('deleteSession', [id])).changes === 1;
  }

  /**
   * Walks the user's rows in id order, `userBatchSize` per statement, and keeps the live ones that
   * the user's epoch does not revoke. Expired and revoked rows count towards a batch too, so no
   * statement reads more than a batch; a user with fewer rows than a batch costs one statement.
   * SQLite yields to the event loop between batches. The batches are not one snapshot: a session
   * created or rotated during the walk may be missed.
   */
  async listByUser(userId: string, now: number): Promise<SessionRecord<D>[]> {
    const live: SessionRecord<D>[] = [];
    let after = '';
    for (;;) {
      const { rows } = await this.query('listByUser', [userId, now, this.userBatchSize, after]);
      for (const row of rows) if (this.codec.flag(row.live)) live.push(this.codec.toSession<D>(row));
      if (rows.length < this.userBatchSize) return live;
      after = rows[rows.length - 1]?.id as string;
      await this.pause();
    }
  }

  /**
   * One upsert: writes the epoch unless the one held has a later `validAfter` and has not expired
   * at `now` (an equal `validAfter` replaces it, `keep` and `expiresAt` included). Two concurrent
   * calls end with the later epoch, whatever their order.
   */
  async setUserEpoch(userId: string, epoch: UserEpoch, expiresAt: number, now: number): Promise<void> {
    await this.query('setUserEpoch', [userId, epoch.validAfter, epoch.keep ?? null, expiresAt, now]);
  }

  async getUserEpoch(userId: string, now: number): Promise<UserEpoch | null> {
    const { rows } = await this.query('getUserEpoch', [userId, now]);
    return rows[0] ? this.codec.toEpoch(rows[0]) : null;
  }

  async createRefreshFamily(family: RefreshFamilyRecord, _now: number): Promise<void> {
    await this.query('createFamily', this.codec.familyValues(family));
  }

  async getRefreshFamily(id: string, now: number): Promise<RefreshFamilyRecord | null> {
    const { rows } = await this.query('getFamily', [id, now]);
    return rows[0] ? this.codec.toFamily(rows[0]) : null;
  }

  async updateRefreshFamily(family: RefreshFamilyRecord, expectedGeneration: number, now: number): Promise<boolean> {
    const values = [...this.codec.familyValues(family), expectedGeneration, now];
    return (await this.query('updateFamily', values)).changes === 1;
  }

  /**
   * The replay cache of DPoP proofs and DBSC challenges, shared by every instance on the database:
   * one upsert that inserts `key` until `now + ttlMs`, or takes over its row if that expired at
   * `now`. Exactly one of any number of concurrent callers, on any instance, gets true. Expired
   * keys are deleted by the sweep (`sweep()`, `deleteExpired()`), so the table holds about the
   * keys marked within the last TTL plus one sweep interval; `deleteAll` leaves them.
   */
  async markOnce(key: string, ttlMs: number, now: number): Promise<boolean> {
    // Whole milliseconds: the column is an integer, and a key must live at least 1 ms.
    const at = Math.floor(now);
    const expiresAt = at + Math.max(1, Math.ceil(ttlMs));
    return (await this.query('markOnce', [key, expiresAt, at])).changes === 1;
  }

  /** The batches of `sweep()`, which each store documents for its dialect. */
  protected sweepExpired(options: SweepOptions): Promise<SweepResult> {
    return sweepTables(
      options,
      async (table, cutOff, batchSize) => (await this.query(SWEEP[table], [cutOff, batchSize])).changes,
      this.pause,
    );
  }
}

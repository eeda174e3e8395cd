import { SessionError } from './errors.js';
import { expiryStatus } from './expiry.js';
import type { RandomSource } from './random.js';
import { asStoreError, type SessionRuntime } from './runtime.js';
import type { SessionData, SessionRecord } from './types.js';

/**
 * Session writes with one store round trip in the common case, and no failure when requests of
 * one browser write the same session at the same time.
 *
 * - The record a request validated is the base of its write: the compare-and-set runs on the
 *   version already read, with no second read.
 * - Merging writes (a change applied to whatever the session holds at write time) to one session
 *   from this process are combined: while one is in flight, the next ones queue and go out
 *   together as one compare-and-set on the record just written. Ten parallel writers cost two
 *   round trips, not ten, and none of them conflicts.
 * - A write that loses the compare-and-set to another process reads the record again and
 *   re-applies its changes, after a short random delay, a bounded number of times.
 */

/** How a write changes a record; must not change its id, secret hash or version. */
export type RecordChange<D extends SessionData> = (record: SessionRecord<D>, now: number) => SessionRecord<D>;

/** Attempts of one merging write before it gives up with `STORE_CONFLICT` (other processes kept winning). */
export const MAX_WRITE_ATTEMPTS = 8;

/** Records this process wrote last, per session id, at most this many (the base of the next write). */
const LAST_WRITTEN_LIMIT = 1024;

/** The queue of a session whose write is in flight and no merge waits (shared, never pushed to). */
// biome-ignore lint/suspicious/noExplicitAny: one marker for queues of every session data type.
const IN_FLIGHT: Pending<any>[] = [];

interface Pending<D extends SessionData> {
  change: RecordChange<D>;
  resolve: (record: SessionRecord<D>) => void;
  reject: (error: unknown) => void;
}

export interface SessionWriter<D extends SessionData> {
  /**
   * Applies `change` to the session `id` as it stands when the write runs (never fails for a
   * concurrent write: merges). `known` is a record of it read earlier, if any.
   */
  merge(id: string, known: SessionRecord<D> | undefined, change: RecordChange<D>): Promise<SessionRecord<D>>;
  /**
   * Applies `change` only if the session is still at `expectedVersion` (`STORE_CONFLICT`
   * otherwise): one round trip when `known` is that version.
   */
  replace(
    id: string,
    expectedVersion: number | undefined,
    known: SessionRecord<D> | undefined,
    change: RecordChange<D>,
  ): Promise<SessionRecord<D>>;
}

export function createSessionWriter<D extends SessionData>(rt: SessionRuntime<D>): SessionWriter<D> {
  /**
   * Per session id with a write in flight: the merges queued behind it ({@link IN_FLIGHT} while
   * none is). No entry: no write in flight, and the next merge goes out alone, with no queue.
   */
  const queued = new Map<string, Pending<D>[]>();
  const lastWritten = new Map<string, SessionRecord<D>>();
  const store = rt.store;

  /**
   * Keeps `record` as the base of the next write of its session, in place: deleting and adding a
   * key again leaves a dead entry in its V8 hash chain until the table is rebuilt, and a session
   * written over and over walked a longer chain each time (1.5 us per write with 1024 held). At
   * the limit the session first written goes (a write from a stale copy of it then loses one
   * compare-and-set and reads, as a write from another process would make it).
   */
  const remember = (record: SessionRecord<D>) => {
    if (lastWritten.size >= LAST_WRITTEN_LIMIT && !lastWritten.has(record.id)) {
      const oldest = lastWritten.keys().next();
      if (!oldest.done) lastWritten.delete(oldest.value);
    }
    lastWritten.set(record.id, record);
  };

  /**
   * The record a write starts from without a store call: for a store that reads synchronously,
   * none (its read costs no promise and is always the newest); else the newest of `known` and the
   * record this process wrote last.
   */
  const startOf = (id: string, known: SessionRecord<D> | undefined): SessionRecord<D> | undefined => {
    if (typeof store.getSync === 'function') return undefined;
    const written = lastWritten.get(id);
    if (!written) return known;
    return !known || written.version > known.version ? written : known;
  };

  /**
   * The live record of `id` (`SESSION_NOT_FOUND` when there is none), read from the store: with
   * no promise from a store that reads synchronously, which holds its records in this process
   * (store.ts: a store doing I/O offers no `getSync`).
   */
  const read = (id: string, now: number): SessionRecord<D> | Promise<SessionRecord<D>> => {
    if (typeof store.getSync !== 'function') return readAsync(id, now);
    let record: SessionRecord<D> | null;
    try {
      record = store.getSync(id, now);
    } catch (error) {
      throw asStoreError(error);
    }
    return live(id, record && expiryStatus(record, now) === 'valid' ? record : null);
  };

  const readAsync = async (id: string, now: number): Promise<SessionRecord<D>> =>
    live(id, await rt.lookupLive(id, now));

  const live = (id: string, record: SessionRecord<D> | null): SessionRecord<D> => {
    if (record) return record;
    lastWritten.delete(id);
    throw new SessionError('SESSION_NOT_FOUND');
  };

  /**
   * One compare-and-set of `next` over `base`; true when it landed. A store that reads
   * synchronously holds its records in this process: its write has nothing to wait for, so it is
   * called without a deadline (as its reads are), and no promise is added around it; any other
   * store's within the manager's deadline, or its own when it declares one (`callStore`). Not async: the caller awaits it and codes its errors.
   */
  const put = (base: SessionRecord<D>, next: SessionRecord<D>, now: number): Promise<boolean> =>
    typeof store.getSync === 'function'
      ? store.update(next, base.version, now)
      : rt.callStore(() => store.update(next, base.version, now));

  /** Whether the compare-and-set of `next` over `base` landed: its outcome, `ok`, noted. */
  const landed = (base: SessionRecord<D>, next: SessionRecord<D>, ok: boolean): boolean => {
    // A store that reads synchronously is read again at no cost: nothing to remember.
    if (typeof store.getSync === 'function') return ok;
    if (ok) remember(next);
    else if (lastWritten.get(base.id) === base) lastWritten.delete(base.id);
    return ok;
  };

  /** {@link put} awaited: whether it landed, or a coded store error. */
  const settle = async (base: SessionRecord<D>, next: SessionRecord<D>, now: number): Promise<boolean> => {
    let ok: boolean;
    try {
      ok = await put(base, next, now);
    } catch (error) {
      throw asStoreError(error);
    }
    return landed(base, next, ok);
  };

  /** `change` applied to `record` (`base` or a change of it), as the version after `base`, with its id and secret hash. */
  const build = (
    base: SessionRecord<D>,
    record: SessionRecord<D>,
    change: RecordChange<D>,
    now: number,
  ): SessionRecord<D> => ({
    ...change(record, now),
    id: base.id,
    secretHash: base.secretHash,
    version: base.version + 1,
  });

  /**
   * `batch`'s changes applied in order over `base`; null when none is left. A change that throws
   * (its own bad input) fails alone: it is rejected and leaves the batch.
   */
  const buildBatch = (base: SessionRecord<D>, batch: Pending<D>[], now: number): SessionRecord<D> | null => {
    let next = base;
    for (let i = 0; i < batch.length; i++) {
      const pending = batch[i] as Pending<D>;
      try {
        next = build(base, next, pending.change, now);
      } catch (error) {
        batch.splice(i--, 1);
        pending.reject(error);
      }
    }
    return batch.length === 0 ? null : next;
  };

  /**
   * The merging write of `id` in flight: `changes` (one, or a queued batch) over the session as it
   * stands, starting from `start` when that is live; a compare-and-set lost to another process is
   * retried on a fresh read after a short random delay. Resolves to the record written (null when
   * every change of a batch failed). Once it settles, the merges queued meanwhile go out together.
   */
  const write = async (
    id: string,
    start: SessionRecord<D> | undefined,
    changes: RecordChange<D> | Pending<D>[],
  ): Promise<SessionRecord<D> | null> => {
    try {
      let base = start;
      for (let attempt = 1; ; attempt++) {
        const now = rt.clock.now();
        if (base === undefined || expiryStatus(base, now) !== 'valid') {
          const got = read(id, now);
          base = got instanceof Promise ? await got : got;
        }
        const next = typeof changes === 'function' ? build(base, base, changes, now) : buildBatch(base, changes, now);
        if (next === null) return null;
        let ok: boolean;
        try {
          ok = await put(base, next, now);
        } catch (error) {
          throw asStoreError(error);
        }
        if (landed(base, next, ok)) return next;
        if (attempt >= MAX_WRITE_ATTEMPTS) {
          throw new SessionError('STORE_CONFLICT', 'The session kept changing; the write was not applied');
        }
        // Another process won: back off a little (random, growing) so that retries do not collide.
        await jitter(attempt, rt.random);
        base = undefined;
      }
    } finally {
      const waiting = queued.get(id);
      if (waiting === IN_FLIGHT || waiting === undefined) queued.delete(id);
      else {
        // The marker of a write in flight: later merges start the next batch.
        queued.set(id, IN_FLIGHT);
        void runBatch(id, waiting);
      }
    }
  };

  /** Writes a batch of queued merges as one, on the record this process knows newest. */
  const runBatch = (id: string, batch: Pending<D>[]): Promise<void> =>
    write(id, startOf(id, undefined), batch).then(
      (next) => {
        if (next !== null) for (const pending of batch) pending.resolve(next);
      },
      (error: unknown) => {
        for (const pending of batch) pending.reject(error);
      },
    );

  return {
    merge(id, known, change) {
      const waiting = queued.get(id);
      if (waiting === undefined) {
        // Alone (the usual case): no queue, no batch. Merges arriving meanwhile queue behind it.
        queued.set(id, IN_FLIGHT);
        // One change is never dropped: it lands or the write rejects.
        return write(id, startOf(id, known), change) as Promise<SessionRecord<D>>;
      }
      return new Promise<SessionRecord<D>>((resolve, reject) => {
        const pending = { change, resolve, reject };
        if (waiting === IN_FLIGHT) queued.set(id, [pending]);
        else waiting.push(pending);
      });
    },

    async replace(id, expectedVersion, known, change) {
      const now = rt.clock.now();
      // The record read at that version (by this request, or written by this process) is the base.
      let base = known !== undefined && matches(known, expectedVersion, now) ? known : undefined;
      if (base === undefined) {
        const written = startOf(id, undefined);
        if (written !== undefined && matches(written, expectedVersion, now)) base = written;
        else {
          const got = read(id, now);
          base = got instanceof Promise ? await got : got;
        }
      }
      if (expectedVersion !== undefined && base.version !== expectedVersion) throw new SessionError('STORE_CONFLICT');
      const next = build(base, base, change, now);
      let ok: boolean;
      try {
        ok = await put(base, next, now);
      } catch (error) {
        throw asStoreError(error);
      }
      if (landed(base, next, ok)) return next;
      // Refused: changed meanwhile (a conflict), or gone (not found). One read tells which.
      const current = read(id, now);
      const found = current instanceof Promise ? await current : current;
      if (expectedVersion === undefined) {
        const retried = build(found, found, change, now);
        if (await settle(found, retried, now)) return retried;
      }
      throw new SessionError('STORE_CONFLICT');
    },
  };
}

function matches<D extends SessionData>(record: SessionRecord<D>, expectedVersion: number | undefined, now: number) {
  return (expectedVersion === undefined || record.version === expectedVersion) && expiryStatus(record, now) === 'valid';
}

function jitter(attempt: number, random: RandomSource): Promise<void> {
  // Up to 2, 4, 8 ... ms, capped at 50 ms: enough to let the winner's write land first.
  const ceiling = Math.min(50, 2 ** attempt);
  const fraction = (random(new Uint8Array(1))[0] as number) / 256;
  return new Promise((resolve) => setTimeout(resolve, fraction * ceiling));
}

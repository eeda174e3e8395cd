import { SessionError } from './errors.js';
import { expiryStatus } from './expiry.js';
import type { RandomSource } from './random.js';
import type { SessionRuntime } from './runtime.js';
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
  /** Queued merges per session id whose write has not started yet (one write in flight per id). */
  const queued = new Map<string, Pending<D>[]>();
  const lastWritten = new Map<string, SessionRecord<D>>();

  const remember = (record: SessionRecord<D>) => {
    lastWritten.delete(record.id);
    lastWritten.set(record.id, record);
    if (lastWritten.size > LAST_WRITTEN_LIMIT) {
      const oldest = lastWritten.keys().next();
      if (!oldest.done) lastWritten.delete(oldest.value);
    }
  };

  /** The newest record of `id` this process knows, without a store call. */
  const newest = (id: string, known: SessionRecord<D> | undefined): SessionRecord<D> | undefined => {
    const written = lastWritten.get(id);
    if (!written) return known;
    return !known || written.version > known.version ? written : known;
  };

  const read = async (id: string, now: number): Promise<SessionRecord<D>> => {
    const record = await rt.lookupLive(id, now);
    if (!record) {
      lastWritten.delete(id);
      throw new SessionError('SESSION_NOT_FOUND');
    }
    return record;
  };

  /** One compare-and-set of `next` over `base`; true when it landed. */
  const put = async (base: SessionRecord<D>, next: SessionRecord<D>, now: number): Promise<boolean> => {
    const ok = await rt.call(() => rt.store.update(next, base.version, now));
    if (ok) remember(next);
    else if (lastWritten.get(base.id) === base) lastWritten.delete(base.id);
    return ok;
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

  /** Writes one batch of merges: each change in order over the current record, retried on conflict. */
  const runBatch = async (id: string, batch: Pending<D>[], start: SessionRecord<D> | undefined): Promise<void> => {
    let base = start;
    for (let attempt = 1; ; attempt++) {
      const now = rt.clock.now();
      try {
        if (!base || expiryStatus(base, now) !== 'valid') base = await read(id, now);
        // Apply every change; one that throws (its own bad input) fails alone.
        let next = base;
        let applied = batch;
        for (const pending of batch) {
          try {
            next = build(base, next, pending.change, now);
          } catch (error) {
            applied = applied.filter((p) => p !== pending);
            pending.reject(error);
          }
        }
        batch = applied;
        if (batch.length === 0) return;
        if (await put(base, next, now)) {
          for (const pending of batch) pending.resolve(next);
          return;
        }
      } catch (error) {
        for (const pending of batch) pending.reject(error);
        return;
      }
      if (attempt >= MAX_WRITE_ATTEMPTS) {
        const error = new SessionError('STORE_CONFLICT', 'The session kept changing; the write was not applied');
        for (const pending of batch) pending.reject(error);
        return;
      }
      // Another process won: back off a little (random, growing) so that retries do not collide.
      await jitter(attempt, rt.random);
      base = undefined;
    }
  };

  /** Runs the queued merges of `id` one batch at a time until none is left. */
  const drain = async (id: string, start: SessionRecord<D> | undefined): Promise<void> => {
    let base = start;
    for (;;) {
      const batch = queued.get(id);
      if (!batch || batch === IN_FLIGHT) {
        queued.delete(id);
        return;
      }
      // The marker of a write in flight: later merges start the next batch.
      queued.set(id, IN_FLIGHT);
      await runBatch(id, batch, newest(id, base));
      base = undefined;
    }
  };

  return {
    merge(id, known, change) {
      return new Promise<SessionRecord<D>>((resolve, reject) => {
        const waiting = queued.get(id);
        const pending = { change, resolve, reject };
        if (waiting === IN_FLIGHT) {
          queued.set(id, [pending]);
          return;
        }
        if (waiting) {
          waiting.push(pending);
          return;
        }
        queued.set(id, [pending]);
        void drain(id, known);
      });
    },

    async replace(id, expectedVersion, known, change) {
      const now = rt.clock.now();
      // The record read at that version (by this request, or written by this process) is the base.
      const written = lastWritten.get(id);
      let base = [known, written].find((r) => r !== undefined && matches(r, expectedVersion, now));
      base ??= await read(id, now);
      if (expectedVersion !== undefined && base.version !== expectedVersion) throw new SessionError('STORE_CONFLICT');
      const next = build(base, base, change, now);
      if (await put(base, next, now)) return next;
      // Refused: changed meanwhile (a conflict), or gone (not found). One read tells which.
      const current = await read(id, now);
      if (expectedVersion === undefined) {
        const retried = build(current, current, change, now);
        if (await put(current, retried, now)) return retried;
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

import { EXPIRED_RETENTION_MS, SessionError } from '@org/session-core';
import type { SessionTable, Table } from './statements.js';

export const DEFAULT_SWEEP_BATCH_SIZE = 500;
export const DEFAULT_SWEEP_MAX_BATCHES = 100;
export const DEFAULT_DELETE_ALL_BATCH_SIZE = 500;

export interface SweepOptions {
  /**
   * The manager's clock. Sessions and refresh families are deleted once their deadline is
   * `EXPIRED_RETENTION_MS` (1 h) or more before it, user epochs and `markOnce` keys once their own
   * `expires_at` is at or before it. Default `Date.now()`.
   */
  now?: number;
  /** Rows deleted per statement (each its own short transaction). Default 500. */
  batchSize?: number;
  /** Upper bound on batches per table in one call. Default 100. */
  maxBatches?: number;
}

export interface SweepResult {
  sessions: number;
  refreshFamilies: number;
  userEpochs: number;
  /** `markOnce` keys past their expiry. */
  onceKeys: number;
  /** Statements run, over the four tables. */
  batches: number;
  /** False when `maxBatches` stopped the sweep before the end: call again. */
  done: boolean;
}

export interface DeleteAllOptions {
  /** Rows deleted per statement (each its own short transaction). Default 500. */
  batchSize?: number;
}

/** `value`, or `fallback` when it is undefined; `CONFIG_INVALID` unless a positive integer. */
export function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback;
  if (!Number.isInteger(result) || result <= 0) {
    throw new SessionError('CONFIG_INVALID', `${name} must be a positive integer`);
  }
  return result;
}

/** What one batch of a walk did, and where the next one starts. */
export interface Batch {
  /** Rows the batch deleted. */
  deleted: number;
  /** The walk is over. */
  over: boolean;
  /** The key after which the next batch starts, or null: from the first row. */
  after: string | null;
}

/** Called between two batches: SQLite yields to the event loop there (its driver never does). */
export type Pause = () => void | Promise<void>;

/**
 * A batch of a walk whose every statement starts from the first row left (rows it deleted are
 * gone): the walk is over at the first batch short of `batchSize`.
 */
export function fromStart(deleted: number, batchSize: number): Batch {
  return { deleted, over: deleted < batchSize, after: null };
}

/**
 * Runs `step` from the first row until a batch says the walk is over, or `maxBatches` batches
 * have run (then `done` is false). Each batch is its own statement, so no lock is held, and no
 * statement runs, longer than one batch takes; `pause` runs between two.
 */
export async function walk(
  step: (after: string | null) => Batch | Promise<Batch>,
  options: { maxBatches?: number; pause?: Pause } = {},
): Promise<{ deleted: number; batches: number; done: boolean }> {
  let deleted = 0;
  let batches = 0;
  let after: string | null = null;
  for (;;) {
    if (batches === options.maxBatches) return { deleted, batches, done: false };
    const batch = await step(after);
    batches++;
    deleted += batch.deleted;
    if (batch.over) return { deleted, batches, done: true };
    after = batch.after;
    await options.pause?.();
  }
}

/**
 * `deleteAll`: walks the sessions, the refresh families and the user epochs in turn, and answers
 * how many sessions it deleted. The `markOnce` keys stay (see {@link SessionTable}).
 */
export async function deleteAllTables(
  step: (table: SessionTable, after: string | null) => Batch | Promise<Batch>,
  pause?: Pause,
): Promise<number> {
  let sessions = 0;
  for (const table of ['sessions', 'refreshFamilies', 'userEpochs'] as const) {
    const { deleted } = await walk((after) => step(table, after), { pause });
    if (table === 'sessions') sessions = deleted;
  }
  return sessions;
}

/**
 * `sweep`: deletes sessions and refresh families whose deadline is `EXPIRED_RETENTION_MS` or more
 * before `now` (the manager reads that far back to tell expired from unknown), and user epochs and
 * `markOnce` keys past their own expiry, `batchSize` rows per statement (`step` runs one and answers how many it
 * deleted), at most `maxBatches` statements per table.
 */
export async function sweepTables(
  options: SweepOptions,
  step: (table: Table, cutOff: number, batchSize: number) => number | Promise<number>,
  pause?: Pause,
): Promise<SweepResult> {
  const now = options.now ?? Date.now();
  const batchSize = positiveInteger('batchSize', options.batchSize, DEFAULT_SWEEP_BATCH_SIZE);
  const maxBatches = positiveInteger('maxBatches', options.maxBatches, DEFAULT_SWEEP_MAX_BATCHES);
  const result: SweepResult = {
    sessions: 0,
    refreshFamilies: 0,
    userEpochs: 0,
    onceKeys: 0,
    batches: 0,
    done: true,
  };
  const retained = now - EXPIRED_RETENTION_MS;
  const plan = [
    ['sessions', retained],
    ['refreshFamilies', retained],
    ['userEpochs', now],
    ['onceKeys', now],
  ] as const;
  for (const [table, cutOff] of plan) {
    const swept = await walk(async () => fromStart(await step(table, cutOff, batchSize), batchSize), {
      maxBatches,
      pause,
    });
    result[table] = swept.deleted;
    result.batches += swept.batches;
    if (!swept.done) result.done = false;
  }
  return result;
}

import { type Clock, systemClock } from './clock.js';
import { SessionError } from './errors.js';
import { type RandomSource, randomBytes, webRandom } from './random.js';
import type { ExpiredSweep, SessionStore } from './store.js';

export interface SweeperOptions {
  /** Mean time between two sweeps, in ms (at least 1 000). */
  intervalMs: number;
  /**
   * Fraction of `intervalMs` drawn at random for each wait (default 0.2, from 0 to 1): each wait is
   * between `intervalMs * (1 - jitter / 2)` and `intervalMs * (1 + jitter / 2)`, so instances
   * started together drift apart instead of sweeping in lockstep.
   */
  jitter?: number;
  /** The clock whose `now` the store sweeps with: the manager's (default `Date.now()`). */
  clock?: Clock;
  /** Where the jitter comes from (default the Web Crypto CSPRNG, like every random draw of core). */
  random?: RandomSource;
  /** Called after every sweep, skipped ones included. */
  onSweep?: (result: ExpiredSweep) => void;
  /** Called when a sweep fails (an outage, say); the sweeper carries on at the next interval. */
  onError?: (error: unknown) => void;
}

/** A running sweeper; see {@link startSweeper}. */
export interface Sweeper {
  /** Sweeps now, unless a sweep is in flight, whose result it then returns. Rejects after `stop()`. */
  sweepNow(): Promise<ExpiredSweep>;
  /** Stops the timer and waits for a sweep in flight to end. Idempotent. */
  stop(): Promise<void>;
  /** Whether `stop()` has not been called. */
  readonly running: boolean;
}

// A sweep that hit its batch limit continues after this pause rather than a full interval.
const CONTINUE_AFTER_MS = 1_000;

/**
 * Deletes expired sessions and refresh families from `store` on a jittered timer, through the
 * store's optional `deleteExpired` (the PostgreSQL and SQLite stores and `MemoryStore` have it;
 * Redis expires keys by itself and needs no sweeper). One sweep at a time per sweeper: the next
 * wait starts when a sweep ends. Across instances the store coordinates where it can (PostgreSQL
 * takes an advisory lock, and the other instances report `skipped`). The timer never keeps a
 * process alive. A store without `deleteExpired` is refused with `CONFIG_INVALID`.
 *
 * @example
 * ```ts
 * const sweeper = startSweeper(store, { intervalMs: 5 * 60_000, onError: (e) => log.warn(e) })
 * // on shutdown
 * await sweeper.stop()
 * ```
 */
export function startSweeper(store: Pick<SessionStore, 'deleteExpired'>, options: SweeperOptions): Sweeper {
  if (typeof store?.deleteExpired !== 'function') {
    throw new SessionError('CONFIG_INVALID', 'The store has no deleteExpired method to sweep with');
  }
  const deleteExpired = store.deleteExpired.bind(store);
  const intervalMs = options?.intervalMs;
  if (typeof intervalMs !== 'number' || !Number.isInteger(intervalMs) || intervalMs < 1_000) {
    throw new SessionError('CONFIG_INVALID', 'intervalMs must be a whole number of ms, at least 1000');
  }
  const jitter = options.jitter ?? 0.2;
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) {
    throw new SessionError('CONFIG_INVALID', 'jitter must be a number from 0 to 1');
  }
  const clock = options.clock ?? systemClock;
  const random = options.random ?? webRandom;
  /** A uniform draw from [0, 1). */
  const draw = () => new DataView(randomBytes(4, random).buffer).getUint32(0) / 2 ** 32;

  let running = true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: Promise<ExpiredSweep> | null = null;

  const schedule = (delayMs: number) => {
    if (!running) return;
    timer = setTimeout(() => {
      timer = undefined;
      sweep().then(
        (result) => schedule(result.done ? nextWait() : CONTINUE_AFTER_MS),
        () => schedule(nextWait()),
      );
    }, delayMs);
    // Runtimes with unref (Node, Bun, Deno) let the process exit while the sweeper waits.
    (timer as { unref?: () => void }).unref?.();
  };
  const nextWait = () => Math.round(intervalMs * (1 - jitter / 2 + draw() * jitter));

  const sweep = (): Promise<ExpiredSweep> => {
    if (inFlight) return inFlight;
    const current = (async () => {
      try {
        const result = await deleteExpired(clock.now());
        options.onSweep?.(result);
        return result;
      } catch (error) {
        options.onError?.(error);
        throw error;
      } finally {
        inFlight = null;
      }
    })();
    inFlight = current;
    return current;
  };

  // The first sweep comes anywhere in the first interval, so a fleet restarted at once spreads out.
  schedule(Math.round(draw() * intervalMs));

  return {
    sweepNow() {
      if (!running) return Promise.reject(new SessionError('CONFIG_INVALID', 'The sweeper is stopped'));
      return sweep();
    },
    async stop() {
      running = false;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await inFlight?.catch(() => {});
    },
    get running() {
      return running;
    },
  };
}

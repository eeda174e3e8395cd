import type { Clock } from './clock.js';
import type { CookiePolicy } from './cookie.js';
import { Deadlines } from './deadlines.js';
import { isSessionError, SessionError } from './errors.js';
import type { SessionEvent } from './events.js';
import { expiryStatus, needsTouch, slideIdle } from './expiry.js';
import { keyedIdHash } from './hash.js';
import type { SessionPolicy } from './policy.js';
import type { RandomSource } from './random.js';
import type { SessionStore } from './store.js';
import type { SessionData, SessionRecord } from './types.js';

/**
 * The capabilities a session manager shares with the modules built on it (session JWTs, hybrid
 * sessions, refresh tokens, CSRF protection, the request context), and with nobody else: the
 * store, the clock, the random source, event emission, the keyed session-id hash, store calls
 * with deadlines, and the two session rules every module must apply alike (is this session live,
 * and when does a read write the sliding idle deadline).
 *
 * This module is never exported from an entry point. A module reaches a manager's runtime through
 * `runtimeOf` (manager.ts), so the manager itself has no public member that hands out its store,
 * clock or event hook, and a user cannot plant events, read records around the expiry rules or
 * skip the store deadline.
 */
export interface SessionRuntime<D extends SessionData = SessionData> {
  readonly store: SessionStore<D>;
  readonly policy: SessionPolicy;
  readonly cookie: CookiePolicy;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly emit: (event: SessionEvent) => void;
  /**
   * Whether `emit` reaches a listener. Hot paths test it before building an event, which may read
   * the request's address or hash a session id for nobody.
   */
  readonly listening: boolean;
  /** Bound on one store call on a request path, in ms. */
  readonly storeTimeoutMs: number;
  /** The keyed hash under which events name a session id. */
  sidHash(id: string): string;
  /**
   * Runs a store call with a deadline, turning anything unexpected into `STORE_UNAVAILABLE` (fail
   * closed); errors that already carry a code pass through. No retries. `timeoutMs` defaults to
   * {@link storeTimeoutMs}; `null` sets no bound, for administrative calls that the store bounds
   * step by step itself.
   */
  call<T>(operation: () => Promise<T>, timeoutMs?: number | null): Promise<T>;
  /**
   * {@link call} for one call of a per-key method of {@link store} (every method but the batched
   * `listByUser`, `deleteByUser`, `deleteAll` and `deleteExpired`, see
   * {@link SessionStore.settlesWithinMs}). When the store declares a `settlesWithinMs` not above
   * {@link storeTimeoutMs}, it already bounds the call, and the runtime adds no deadline of its own:
   * it only turns uncoded errors into `STORE_UNAVAILABLE`. Otherwise it is {@link call} itself.
   * `rotate` is given twice the request timeout: a store that bounds itself answers within twice its
   * own bound there, as the contract says.
   */
  callStore<T>(operation: () => Promise<T>, timeoutMs?: number | null): Promise<T>;
  /** Whether the store bounds its per-key calls itself, within {@link storeTimeoutMs} (see {@link callStore}). */
  readonly storeSettles: boolean;
  /**
   * The session `id` if it is live at `now` (and, given `userId`, that user's), else null. A store
   * failure rejects: callers fail closed.
   */
  lookupLive(id: string, now: number, userId?: string): Promise<SessionRecord<D> | null>;
  /**
   * Activity on a live session at `now`: slides the idle deadline with a compare-and-set write,
   * but only once a touch interval has passed (null, synchronously, when none is due). Never
   * rejects: a lost race or a failed write leaves the deadline where it was, which is the safe side.
   */
  touch(record: SessionRecord<D>, now: number): Promise<Touched<D>> | null;
}

/** The outcome of {@link SessionRuntime.touch}. */
export interface Touched<D extends SessionData> {
  /** The record as it now stands (the written one when `written`). */
  record: SessionRecord<D>;
  /** Whether this call wrote the new idle deadline. */
  written: boolean;
}

export interface RuntimeParts<D extends SessionData> {
  store: SessionStore<D>;
  policy: SessionPolicy;
  cookie: CookiePolicy;
  clock: Clock;
  random: RandomSource;
  emit: (event: SessionEvent) => void;
  listening: boolean;
  logKey: Uint8Array;
  storeTimeoutMs: number;
}

/** Builds the runtime of a manager (which registers it for `runtimeOf`, in manager.ts). */
export function createRuntime<D extends SessionData>(parts: RuntimeParts<D>): SessionRuntime<D> {
  const { store, policy, clock, logKey, storeTimeoutMs } = parts;
  // One coarse timer bounds every store call of this manager (deadlines.ts).
  const deadlines = new Deadlines(storeTimeoutMs, storeTimeoutError);
  const call = <T>(operation: () => Promise<T>, timeoutMs: number | null = storeTimeoutMs): Promise<T> =>
    withTimeout(operation, timeoutMs, deadlines);
  // A store that settles every per-key call within the manager's bound needs no second deadline
  // (two promises, a closure and a deadline entry per call): its own answers first.
  const settles = store.settlesWithinMs;
  const storeSettles = settles !== undefined && settles <= storeTimeoutMs;
  const callStore = storeSettles
    ? <T>(operation: () => Promise<T>, _timeoutMs?: number | null): Promise<T> => unbounded(operation)
    : call;
  const runtime: SessionRuntime<D> = Object.freeze({
    store,
    policy,
    cookie: parts.cookie,
    clock,
    random: parts.random,
    emit: parts.emit,
    listening: parts.listening,
    storeTimeoutMs,
    sidHash: (id: string) => keyedIdHash(logKey, id),
    call,
    callStore,
    storeSettles,
    async lookupLive(id: string, now: number, userId?: string) {
      const record = await callStore(() => store.get(id, now));
      if (!record || (userId !== undefined && record.userId !== userId)) return null;
      return expiryStatus(record, now) === 'valid' ? record : null;
    },
    touch(record: SessionRecord<D>, now: number) {
      if (!needsTouch(record, now, policy)) return null;
      // slideIdle returns a new object: setting its version costs less than another spread.
      const touched: SessionRecord<D> = slideIdle(record, now, policy);
      touched.version = record.version + 1;
      // A lost race means another request touched it first; either way the session stays valid.
      // Only the deadline moves: a store that can write just that (Redis) does.
      const write = store.touch
        ? () => (store.touch as NonNullable<typeof store.touch>)(touched, record.version, now)
        : () => store.update(touched, record.version, now);
      return callStore(write).then(
        (written) => (written ? { record: touched, written } : { record, written }),
        () => ({ record, written: false }),
      );
    },
  });
  return runtime;
}

/** Turns a store failure into a coded error; coded errors pass through. */
export function asStoreError(error: unknown): SessionError {
  return isSessionError(error) ? error : new SessionError('STORE_UNAVAILABLE', undefined, { cause: error });
}

const storeTimeoutError = () =>
  new SessionError('STORE_UNAVAILABLE', 'The session store did not answer in time', { reason: 'timeout' });

/**
 * A store call with no deadline of the runtime's: failures turned into coded errors, no promise
 * added around the store's own when it keeps its promise (a rejection is mapped in one `catch`).
 */
function unbounded<T>(operation: () => Promise<T>): Promise<T> {
  let settled: Promise<T>;
  try {
    settled = operation();
  } catch (error) {
    return Promise.reject(asStoreError(error));
  }
  // A store written in JavaScript may answer with a thenable or a value.
  return (settled instanceof Promise ? settled : Promise.resolve(settled)).catch(rejectCoded);
}

const rejectCoded = (error: unknown): never => {
  throw asStoreError(error);
};

/**
 * Bounds one store call by `timeoutMs` (`null`: no bound), turning failures into coded errors.
 */
function withTimeout<T>(operation: () => Promise<T>, timeoutMs: number | null, deadlines: Deadlines): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled: Promise<T>;
    try {
      settled = Promise.resolve(operation());
    } catch (error) {
      reject(asStoreError(error));
      return;
    }
    if (timeoutMs === null) {
      settled.then(resolve, (error: unknown) => reject(asStoreError(error)));
      return;
    }
    const call = deadlines.add(reject, timeoutMs);
    settled.then(
      (value) => {
        call.reject = null;
        resolve(value);
      },
      (error: unknown) => {
        call.reject = null;
        reject(asStoreError(error));
      },
    );
  });
}

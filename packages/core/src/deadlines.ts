/** An operation in flight: how to fail it, and the tick at which it times out. */
export interface PendingCall {
  /** Null once the operation settled by itself. */
  reject: ((error: unknown) => void) | null;
  due: number;
}

/** The list length below which settled operations wait for the next tick to be dropped. */
const MIN_COMPACT = 64;

/**
 * The deadlines of pending operations (a manager's store calls, a store's commands), watched by
 * one coarse timer instead of a timer per operation: under socket I/O, arming and clearing a
 * timer per command measured ~10 us of client CPU, a quarter of a Redis read.
 *
 * Time is counted in ticks of an eighth of the timeout by the timer itself: timers run on
 * monotonic time (a wall clock stepped back cannot stretch them) and follow fake timers in tests.
 * An operation fails no earlier than its timeout and at most a tick after it. A settled operation
 * is only marked (`call.reject = null`); each tick drops the marked ones. The timer runs only
 * while operations are pending, and is unref'd where the runtime allows it: waiting never keeps a
 * process alive by itself (the operation's own I/O does).
 *
 * @example
 * ```ts
 * const deadlines = new Deadlines(2_000, () => new Error('timeout'))
 * const answer = new Promise((resolve, reject) => {
 *   const call = deadlines.add(reject)
 *   send(command).then((value) => { call.reject = null; resolve(value) })
 * })
 * ```
 */
export class Deadlines {
  private readonly tickMs: number;
  private calls: PendingCall[] = [];
  private ticks = 0;
  /** The number of the armed timer (0: none). A timer that was replaced does nothing when it fires. */
  private armed = 0;
  private generation = 0;
  /** The setTimeout the timer was armed with: fake timers installed or removed since replace it. */
  private armedWith: unknown;
  /**
   * Settled operations are dropped at each tick, and on an add once the list doubled since it was
   * last compacted: thousands of operations per tick keep a short list.
   */
  private compactAt = MIN_COMPACT;

  /** `timeoutMs`: the usual timeout, which sets the tick (an eighth of it). */
  constructor(
    private readonly timeoutMs: number,
    private readonly timeoutError: () => unknown,
  ) {
    this.tickMs = Math.max(1, timeoutMs / 8);
  }

  /**
   * Watches an operation: `reject` is called with the timeout error once `timeoutMs` (default: the
   * usual timeout) passed, unless `call.reject` was cleared first.
   */
  add(reject: (error: unknown) => void, timeoutMs = this.timeoutMs): PendingCall {
    if (this.calls.length >= this.compactAt) this.compact();
    // The next tick comes within tickMs, exactly tickMs from now when the timer is armed here.
    const idle = this.armed === 0;
    const call: PendingCall = { reject, due: this.ticks + Math.ceil(timeoutMs / this.tickMs) + (idle ? 0 : 1) };
    this.calls.push(call);
    // A timer armed under fake timers that are gone since would never run: arm another.
    if (idle || this.armedWith !== globalThis.setTimeout) this.arm();
    return call;
  }

  /**
   * `pending`, or a rejection with the timeout error once `timeoutMs` (default: the usual timeout)
   * has passed without an answer; a later answer or failure is then ignored.
   */
  settle<T>(pending: Promise<T>, timeoutMs = this.timeoutMs): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const call = this.add(reject, timeoutMs);
      pending.then(
        (value) => {
          call.reject = null;
          resolve(value);
        },
        (error: unknown) => {
          const fail = call.reject;
          call.reject = null;
          fail?.(error);
        },
      );
    });
  }

  /** Operations watched until the next tick, settled or not (for tests). */
  get size(): number {
    return this.calls.length;
  }

  private arm(): void {
    const mine = ++this.generation;
    this.armed = mine;
    this.armedWith = globalThis.setTimeout;
    const timer: unknown = setTimeout(() => this.sweep(mine), this.tickMs);
    (timer as { unref?: () => void }).unref?.();
  }

  private sweep(mine: number): void {
    if (mine !== this.armed) return;
    this.ticks++;
    const due = this.calls;
    this.calls = [];
    for (const call of due) {
      const reject = call.reject;
      if (reject === null) continue;
      if (call.due > this.ticks) this.calls.push(call);
      else {
        call.reject = null;
        reject(this.timeoutError());
      }
    }
    this.compactAt = Math.max(MIN_COMPACT, 2 * this.calls.length);
    if (this.calls.length > 0) this.arm();
    else this.armed = 0;
  }

  private compact(): void {
    const calls = this.calls;
    let kept = 0;
    for (const call of calls) if (call.reject !== null) calls[kept++] = call;
    calls.length = kept;
    this.compactAt = Math.max(MIN_COMPACT, 2 * kept);
  }
}

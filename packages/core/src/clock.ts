/** Time source in milliseconds since the Unix epoch. Inject one in tests so expiry never sleeps. */
export interface Clock {
  now(): number;
}

/**
 * The real time, `Date.now()`: the manager's default clock.
 *
 * @example
 * ```ts
 * createSessionManager({ store, clock: systemClock }) // the default
 * ```
 */
export const systemClock: Clock = { now: () => Date.now() };

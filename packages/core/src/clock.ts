/** Time source in milliseconds since the Unix epoch. Inject one in tests so expiry never sleeps. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

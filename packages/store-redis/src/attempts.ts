import { SessionError } from '@org/session-core';
import { Deadlines } from '@org/session-core/adapter';
import type { AttemptCounter, AttemptVerdict, ThrottleRule } from '@org/session-core/throttle';
import { type AnyRedisClient, driverFor, type RedisDriver, sendScript } from './client.js';
import { countAttempt } from './scripts.js';

export interface RedisAttemptCounterOptions {
  /**
   * The client that runs the counting script; required. Any client the store accepts: an ioredis
   * 5 or 6 `Redis` or `Cluster`, or a connected node-redis 5+ client from `createClient()` or
   * `createCluster()` (a `RedisStore`'s `client` will do).
   */
  client: AnyRedisClient;
  /** Prefix of the counter keys. Default `throttle:`. */
  prefix?: string;
  /**
   * Bound in ms on each `attempt` and `reset` (default 1000): past it the call fails (and the
   * throttle answers 503 `STORE_UNAVAILABLE`), and on a Cluster the client reads its slot map
   * again, in case the master it waits on hangs while a replica took over.
   */
  commandTimeoutMs?: number;
}

/**
 * Login-throttle counters in Redis: one hash per (hashed) key, updated by one Lua script (sent by
 * its SHA), so every instance of the app sees the same counts and parallel attempts never pass
 * beyond the rule. Each key is a single key, so a Redis Cluster routes it like any other.
 *
 * @example
 * ```ts
 * const throttle = createLoginThrottle({ counter: new RedisAttemptCounter({ client: redis }), key })
 * ```
 */
export class RedisAttemptCounter implements AttemptCounter {
  readonly #driver: RedisDriver;
  readonly #prefix: string;
  readonly #deadlines: Deadlines;

  constructor(options: RedisAttemptCounterOptions) {
    if (options?.client === undefined) throw new SessionError('CONFIG_INVALID', 'client is required');
    this.#driver = driverFor(options.client);
    const prefix = options.prefix ?? 'throttle:';
    if (typeof prefix !== 'string') throw new SessionError('CONFIG_INVALID', 'prefix must be a string');
    this.#prefix = prefix;
    const timeout = options.commandTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
      throw new SessionError('CONFIG_INVALID', 'commandTimeoutMs must be a positive number');
    }
    this.#deadlines = new Deadlines(timeout, () => {
      this.#driver.stalled();
      return new Error(`The attempt counter got no answer from Redis within ${timeout} ms`);
    });
  }

  async attempt(key: string, rule: ThrottleRule, now: number): Promise<AttemptVerdict> {
    const args = [now, rule.freeAttempts, rule.baseDelayMs, rule.maxDelayMs, rule.windowMs];
    const keys = [this.#prefix + key];
    const reply = (await new Promise<unknown>((resolve, reject) => {
      sendScript(this.#driver, countAttempt, keys, args, this.#deadlines.add(reject), resolve, asIs);
    })) as unknown[];
    const [allowed, count, locked] = reply.map(Number) as [number, number, number];
    return { allowed: allowed === 1, count, retryAt: locked === 0 ? null : locked };
  }

  async reset(key: string): Promise<void> {
    await this.#deadlines.settle(this.#driver.del(this.#prefix + key));
  }
}

const DEFAULT_TIMEOUT_MS = 1000;

/** Driver errors reach the counter's caller as they are. */
function asIs(error: unknown): unknown {
  return error;
}

import type { AttemptCounter, AttemptVerdict, ThrottleRule } from '@org/session-core/throttle';

/** What the counter needs of a Redis client: `EVAL` as ioredis spells it. */
export interface RedisEvalClient {
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  del(...keys: string[]): Promise<number>;
}

export interface RedisAttemptCounterOptions {
  /** The Redis client that runs the counting script (`eval` and `del`, see {@link RedisEvalClient}); required. */
  client: RedisEvalClient;
  /** Prefix of the counter keys. Default `throttle:`. */
  prefix?: string;
}

// The same arithmetic as core's nextAttemptState, in one atomic script: a key in its wait is refused
// unchanged; otherwise the attempt counts and, from the freeAttempts-th on, starts a doubling wait.
// The key expires with its window (PEXPIREAT), so Redis holds no counter longer than it matters.
const ATTEMPT_SCRIPT = `
local now = tonumber(ARGV[1])
local free = tonumber(ARGV[2])
local base = tonumber(ARGV[3])
local max = tonumber(ARGV[4])
local window = tonumber(ARGV[5])
local state = redis.call('HMGET', KEYS[1], 'count', 'locked', 'expires')
local count = tonumber(state[1]) or 0
local locked = tonumber(state[2]) or 0
local expires = tonumber(state[3]) or 0
if expires <= now then count = 0; locked = 0 end
if locked > now then return {0, count, locked} end
count = count + 1
locked = 0
if count >= free then
  local step = math.min(count - free, 40)
  locked = now + math.min(max, base * (2 ^ step))
end
expires = math.max(locked, now) + window
redis.call('HSET', KEYS[1], 'count', count, 'locked', locked, 'expires', expires)
redis.call('PEXPIREAT', KEYS[1], expires)
return {1, count, locked}
`;

/**
 * Login-throttle counters in Redis: one hash per (hashed) key, updated by one Lua script, so every
 * instance of the app sees the same counts and parallel attempts never pass beyond the rule.
 *
 * @example
 * ```ts
 * const throttle = createLoginThrottle({ counter: new RedisAttemptCounter({ client: redis }), key })
 * ```
 */
export class RedisAttemptCounter implements AttemptCounter {
  readonly #client: RedisEvalClient;
  readonly #prefix: string;

  constructor(options: RedisAttemptCounterOptions) {
    if (typeof options?.client?.eval !== 'function') throw new TypeError('client must be a Redis client with eval');
    this.#client = options.client;
    this.#prefix = options.prefix ?? 'throttle:';
  }

  async attempt(key: string, rule: ThrottleRule, now: number): Promise<AttemptVerdict> {
    const reply = (await this.#client.eval(
      ATTEMPT_SCRIPT,
      1,
      this.#prefix + key,
      now,
      rule.freeAttempts,
      rule.baseDelayMs,
      rule.maxDelayMs,
      rule.windowMs,
    )) as [number, number, number];
    const [allowed, count, locked] = reply.map(Number) as [number, number, number];
    return { allowed: allowed === 1, count, retryAt: locked === 0 ? null : locked };
  }

  async reset(key: string): Promise<void> {
    await this.#client.del(this.#prefix + key);
  }
}

/**
 * Redis store section: validate and create through the SessionManager with the RedisStore, next
 * to the floor measured in the same run on the same server and connection: one bare GET round
 * trip. Targets (issue 4): a validate that needs no touch costs about one round trip (<= 1.3x a
 * GET); a touch adds at most one more.
 *
 * Needs Redis at REDIS_URL (default redis://127.0.0.1:6379); every key it writes is removed after.
 */
import { createSessionManager } from '@org/session-core';
import { randomString } from '@org/session-core/testing';
import { RedisStore } from '@org/session-store-redis';
import { type BenchResult, bench, printTable, printTarget } from './lib.ts';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export async function run(): Promise<void> {
  const prefix = `bench:${randomString(6)}:`;
  const store = new RedisStore({ url, prefix });
  try {
    // Through the store: it waits for the first connection (the client itself queues nothing).
    await store.get(randomString(16), Date.now());
  } catch {
    console.log(`\n### Redis store\n\nSkipped: no Redis answers at ${url}.`);
    await store.close();
    return;
  }
  try {
    await measure(store);
  } finally {
    await removeKeys(store);
    await store.close();
  }
}

async function measure(store: RedisStore): Promise<void> {
  const redis = store.client;
  // A fixed clock: validations never reach the touch interval, so "validate" is the plain read.
  const frozenAt = Date.now();
  const sessions = createSessionManager({ store, clock: { now: () => frozenAt } });
  const seed = await sessions.create({ userId: 'bench-user', data: { role: 'member' } });

  // The floor: a GET of a value of the same size on the same connection.
  const floorKey = `${store.prefix}floor`;
  await redis.set(floorKey, (await redis.get(store.sessionKey(seed.session.id))) ?? '', 'PX', 600_000);

  // Clocks that move one touch interval per call, so every validation touches the store. With a
  // 1 s interval the index headroom (one idle span) lasts ~1800 touches: the common touch, one
  // script. With the default 30 min idle / 5 min touch interval, one touch in six also raises the
  // user index first (one more round trip): the mix a real session sees.
  const year = 365 * 24 * 3_600_000;
  const touchCase = async (touchIntervalMs: number) => {
    let now = frozenAt;
    const manager = createSessionManager({
      store,
      clock: { now: () => now },
      policy: { idleTimeoutMs: 30 * 60_000, absoluteTimeoutMs: year, touchIntervalMs },
    });
    const { token } = await manager.create({ userId: 'bench-user' });
    return () => {
      now += touchIntervalMs;
      return manager.validateToken(token);
    };
  };
  const commonTouch = await touchCase(1000);
  const mixedTouch = await touchCase(5 * 60_000);
  let counter = 0;

  const cases: [string, () => Promise<unknown>][] = [
    ['bare GET', () => redis.get(floorKey)],
    ['RedisStore.get alone', () => store.get(seed.session.id, frozenAt)],
    ['validateToken (no touch)', () => sessions.validateToken(seed.token)],
    ['validateToken + touch', commonTouch],
    ['validateToken + touch, default policy mix', mixedTouch],
    ['bare SET PX NX', () => redis.set(`${store.prefix}floor:${randomString(8)}`, 'x', 'PX', 600_000, 'NX')],
    ['create', () => sessions.create({ userId: `bench-user-${counter++ % 100}` })],
  ];
  // Loopback round trips are noisy on a shared machine: run short slices of every case in turn,
  // twelve rounds, and keep each case's median slice, so that load drifts hit all cases alike.
  const slices = new Map<string, BenchResult[]>();
  for (let round = 0; round < 12; round++) {
    for (const [name, fn] of cases) {
      const result = await bench(name, fn, { warmupMs: round === 0 ? 200 : 20, timeMs: 150 });
      slices.set(name, [...(slices.get(name) ?? []), result]);
    }
  }
  const best = new Map<string, BenchResult>();
  for (const [name, results] of slices) {
    const sorted = [...results].sort((a, b) => a.nsPerOp - b.nsPerOp);
    best.set(name, sorted[Math.floor(sorted.length / 2)] as BenchResult);
  }
  const [get, storeGet, validate, touch, touchMix, set, create] = cases.map(([name]) => best.get(name));
  if (!get || !storeGet || !validate || !touch || !touchMix || !set || !create) return;
  get.note = 'floor: same connection, same value size';
  validate.note = 'one GET';
  touch.note = 'GET, then one compare-and-set script';
  touchMix.note = '1 in 6 also raises the user index first';
  create.note = 'SET NX, then the user index: two round trips';

  printTable(
    'Redis store through SessionManager (loopback Redis, one connection)',
    [get, storeGet, validate, touch, touchMix, set, create],
    get.name,
  );
  printTarget('validate without touch, in GET round trips', validate.nsPerOp / get.nsPerOp, 1.3);
  printTarget(
    'a touch, extra over a plain validate, in GET round trips',
    (touch.nsPerOp - validate.nsPerOp) / get.nsPerOp,
    1.3,
  );
  printTarget(
    'a touch with the default policy mix, extra over a plain validate, in GET round trips',
    (touchMix.nsPerOp - validate.nsPerOp) / get.nsPerOp,
    1.3,
  );
}

/** Deletes every key the run wrote (SCAN is fine here: this is not a request path). */
async function removeKeys(store: RedisStore): Promise<void> {
  const redis = store.client;
  let cursor = '0';
  for (let round = 0; round < 1_000_000; round++) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${store.prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
    if (cursor === '0') break;
  }
}

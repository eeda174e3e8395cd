/**
 * Redis store section: validate and create through the SessionManager with the RedisStore, next
 * to the floor measured in the same run on the same server and connection: one bare GET round
 * trip. Targets (issue 4): a validate that needs no touch costs about one round trip (<= 1.3x a
 * GET); a touch adds at most one more.
 *
 * Needs Redis at REDIS_URL (default redis://127.0.0.1:6379); every key it writes is removed after.
 */
import { randomString, SessionManager } from '@org/session-core';
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
  const fixedClock = { now: () => frozenAt };
  const sessions = new SessionManager({ store, clock: fixedClock });
  const seed = await sessions.create({ userId: 'bench-user', data: { role: 'member' } });

  // The floor: a GET of a value of the same size on the same connection.
  const floorKey = `${store.prefix}floor`;
  await redis.set(floorKey, (await redis.get(store.sessionKey(seed.session.id))) ?? '', 'PX', 600_000);

  // A clock that moves one touch interval per call: every validation touches the store.
  let now = frozenAt;
  const touchInterval = 1000;
  const touching = new SessionManager({
    store,
    clock: { now: () => now },
    policy: { idleTimeoutMs: 30 * 60_000, absoluteTimeoutMs: 365 * 24 * 3_600_000, touchIntervalMs: touchInterval },
  });
  const touched = await touching.create({ userId: 'bench-user' });
  let counter = 0;

  const cases: [string, () => Promise<unknown>][] = [
    ['bare GET', () => redis.get(floorKey)],
    ['RedisStore.get alone', () => store.get(seed.session.id, frozenAt)],
    ['validateToken (no touch)', () => sessions.validateToken(seed.token)],
    [
      'validateToken (touch on every call)',
      () => {
        now += touchInterval;
        return touching.validateToken(touched.token);
      },
    ],
    [
      'bare SET PX NX (same client)',
      () => redis.set(`${store.prefix}floor:${randomString(8)}`, 'x', 'PX', 600_000, 'NX'),
    ],
    ['create (record SET NX, then user index)', () => sessions.create({ userId: `bench-user-${counter++ % 100}` })],
  ];
  // Loopback round trips are noisy on a shared machine: interleave three rounds, keep each best.
  const best = new Map<string, BenchResult>();
  for (let round = 0; round < 3; round++) {
    for (const [name, fn] of cases) {
      const result = await bench(name, fn, { timeMs: 700 });
      const previous = best.get(name);
      if (!previous || result.nsPerOp < previous.nsPerOp) best.set(name, result);
    }
  }
  const result = (name: string) => best.get(name) as BenchResult;
  const [get, storeGet, validate, validateTouch, set, create] = cases.map(([name]) => result(name)) as BenchResult[];
  if (!get || !storeGet || !validate || !validateTouch || !set || !create) return;
  get.note = 'floor: same connection, same value size';
  validate.note = 'one GET';
  validateTouch.note = 'GET, then record and index scripts together';
  create.note = 'SET NX, then the index: two round trips by design';

  printTable(
    'Redis store through SessionManager (loopback Redis, one connection)',
    [get, storeGet, validate, validateTouch, set, create],
    get.name,
  );
  printTarget('validate without touch, in GET round trips', validate.nsPerOp / get.nsPerOp, 1.3);
  printTarget(
    'a touch, extra cost over a plain validate, in GET round trips',
    (validateTouch.nsPerOp - validate.nsPerOp) / get.nsPerOp,
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

/**
 * Redis store section.
 *
 * 1. Reads: validate and create through the SessionManager with the RedisStore, next to the floor
 *    measured in the same run on the same server and connection: one bare GET round trip. Targets
 *    (issue 4): a validate that needs no touch costs about one round trip (<= 1.3x a GET); a touch
 *    adds at most one more.
 * 2. Writes (issue 11): a request that validates and then updates its session, our touch and our
 *    compare-and-set beside a bare GET and SET and connect-redis's own get and set, all through
 *    node-redis (the client connect-redis takes), and ours again through ioredis (the client the
 *    store opens from a `url`), on a private redis-server so that the server's
 *    figures count this run's commands only. The client's time and its CPU per op (process.cpuUsage
 *    over each slice, which waiting does not inflate); the server's CPU per op (getrusage), the
 *    time of the commands clients sent per op (scripts from commandstats, which counts a script's own commands inside
 *    its time; other commands from SLOWLOG at 0 us in a separate pass, which also counts commands
 *    per op, so that logging does not weigh on the other figures).
 *
 * `BENCH_REDIS_BASELINE=<path to another checkout's packages/store-redis/src/index.ts>` adds that
 * store's write-path cases (prefixed `baseline:`) to the same interleaved rounds, for a before and
 * after of a change in one run (give that checkout's package a node_modules, e.g. a symlink to
 * this one's, so that both stores run on the same core and drivers).
 *
 * Needs Redis at REDIS_URL (default redis://127.0.0.1:6379) and, for the write section, the
 * `redis-server` binary; every key it writes is removed after.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSessionManager, type SessionData } from '@org/session-core';
import { randomString } from '@org/session-core/testing';
import { type AnyRedisClient, RedisStore } from '@org/session-store-redis';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
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
  await measureWrites();
}

async function measure(store: RedisStore): Promise<void> {
  const redis = store.client;
  // A fixed clock: validations never reach the touch interval, so "validate" is the plain read.
  const frozenAt = Date.now();
  const sessions = createSessionManager({ store, clock: { now: () => frozenAt } });
  const seed = await sessions.create({ userId: 'bench-user', data: { role: 'member' } });

  // The floor: a GET of a value of the same size on the same connection.
  const floorKey = `${store.prefix}floor`;
  await redis.set(floorKey, (await redis.hget(store.sessionKey(seed.session.id), 'record')) ?? '', 'PX', 600_000);

  // Clocks that move one touch interval per call, so every validation touches the store. With a
  // 1 s interval the index headroom (one idle span) lasts ~1800 touches: the common touch, one
  // script. With the default 30 min idle / 5 min touch interval, one touch in six also raises the
  // user index (in the same script on a single server): the mix a real session sees.
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
  touchMix.note = '1 in 6 also raises the user index, in the same script';
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

/** A private redis-server on a spare loopback port (no persistence), and how to stop it. */
async function privateServer(): Promise<{ url: string; stop: () => Promise<void> } | null> {
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) return null;
  const port = await new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
  const dir = mkdtempSync(join(tmpdir(), 'bench-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'];
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // Bounded wait for the server to answer.
  for (let attempt = 0; attempt < 50; attempt++) {
    const probe = createClient({ url, socket: { reconnectStrategy: false } });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.ping();
      probe.destroy();
      return { url, stop };
    } catch {
      // A connection that failed leaves the client closed already, and destroy() throws then.
      if (probe.isOpen) probe.destroy();
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await stop();
  return null;
}

/**
 * What the server has spent so far: command calls, counting those scripts run (commandstats counts
 * them on their own line too), usec in scripts (EVALSHA and EVAL, their commands included), and its
 * CPU in us.
 */
interface ServerSnapshot {
  calls: number;
  scriptUsec: number;
  cpuUs: number;
}

async function serverSnapshot(admin: ReturnType<typeof createClient>): Promise<ServerSnapshot> {
  const stats = await admin.info('commandstats');
  const cpu = await admin.info('cpu');
  let calls = 0;
  let scriptUsec = 0;
  for (const match of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    if (match[1] === 'info') continue;
    calls += Number(match[2]);
    if (match[1] === 'evalsha' || match[1] === 'eval') scriptUsec += Number(match[3]);
  }
  const seconds = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? 0);
  return { calls, scriptUsec, cpuUs: (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1e6 };
}

/** One case of the write section: the client's cost and the server's, per operation. */
interface WriteCase {
  name: string;
  note: string;
  run: () => Promise<unknown>;
  /** Commands the server ran, those clients sent and those scripts ran. */
  calls: number;
  scriptUsec: number;
  serverCpuUs: number;
  ops: number;
  slices: BenchResult[];
  /** This process's CPU time per op of each slice, in us (what the client spends, not what it waits). */
  cpuSlices: number[];
  /** From the SLOWLOG pass: commands clients sent, the time of those that are not scripts in us, and the ops. */
  sent: number;
  sentUsec: number;
  sentOps: number;
}

async function measureWrites(): Promise<void> {
  const server = await privateServer();
  if (!server) {
    console.log('\n### Redis store: the write path\n\nSkipped: no redis-server binary to start a private server.');
    return;
  }
  // One node-redis connection for the peer, one for ours, one for the probes: same library, same server.
  const connect = async () => {
    const client = createClient({ url: server.url });
    client.on('error', () => {});
    await client.connect();
    return client;
  };
  const [peerClient, ourClient, bareClient, admin] = await Promise.all([connect(), connect(), connect(), connect()]);
  const ioClient = new Redis(server.url);
  try {
    await writeCases(peerClient, ourClient, bareClient, admin, ioClient);
  } finally {
    for (const client of [peerClient, ourClient, bareClient, admin]) client.destroy();
    ioClient.disconnect();
    await server.stop();
  }
}

async function writeCases(
  peerClient: ReturnType<typeof createClient>,
  ourClient: ReturnType<typeof createClient>,
  bareClient: ReturnType<typeof createClient>,
  admin: ReturnType<typeof createClient>,
  ioClient: Redis,
): Promise<void> {
  type Data = SessionData & { role: string; cart: string[]; visits?: number };
  const data: Data = { role: 'member', cart: ['sku-1', 'sku-2', 'sku-3'] };
  const store = new RedisStore<Data, AnyRedisClient>({ client: ourClient, prefix: 'ours:' });
  const frozenAt = Date.now();
  const sessions = createSessionManager<Data>({ store, clock: { now: () => frozenAt } });
  const seed = await sessions.create({ userId: 'bench-user', data });
  // A second manager whose clock moves one touch interval per call: every validation touches.
  let touchNow = frozenAt;
  const toucher = createSessionManager<Data>({
    store,
    clock: { now: () => touchNow },
    policy: { idleTimeoutMs: 30 * 60_000, absoluteTimeoutMs: 365 * 24 * 3_600_000, touchIntervalMs: 1000 },
  });
  const touched = await toucher.create({ userId: 'bench-user', data });
  // A session written by the compare-and-set alone, from the record this process holds.
  const casSession = await sessions.create({ userId: 'bench-user', data });
  let casBase = (await store.get(casSession.session.id, frozenAt)) as NonNullable<
    Awaited<ReturnType<typeof store.get>>
  >;

  // The peer: connect-redis as express-session drives it for a request that changes the session
  // (load, then save the whole session with its TTL).
  const peer = new ConnectRedisStore({ client: peerClient, prefix: 'peer:' });
  const peerId = randomString(24);
  const peerSession = {
    cookie: { originalMaxAge: 86_400_000, expires: new Date(frozenAt + 86_400_000), httpOnly: true, path: '/' },
    ...data,
  };
  await peer.set(peerId, peerSession as never);
  const peerGet = () => peer.get(peerId) as Promise<unknown>;
  const peerSet = (session: unknown) => peer.set(peerId, session as never) as Promise<unknown>;

  // The floor: a bare GET and SET of a value of our record's size.
  const value = (await bareClient.hGet(store.sessionKey(seed.session.id), 'record')) ?? '';
  await bareClient.set('bare:key', value, { expiration: { type: 'EX', value: 86_400 } });

  let visits = 0;
  const baseline = await baselineCases(ourClient, data, frozenAt, () => ++visits);
  const viaIoredis = await storeCases(
    'ours (ioredis)',
    'the store on an ioredis connection',
    RedisStore,
    ioClient,
    'io:',
    data,
    frozenAt,
    () => ++visits,
  );
  const cases: WriteCase[] = [
    ['bare GET', 'floor: one round trip', () => bareClient.get('bare:key')],
    ['bare GET (ioredis)', 'floor of the ioredis cases', () => ioClient.get('bare:key')],
    [
      'bare SET EX',
      'floor: one round trip, the same value',
      () => bareClient.set('bare:key', value, { expiration: { type: 'EX', value: 86_400 } }),
    ],
    ['connect-redis get', 'GET + JSON.parse', peerGet],
    ['connect-redis set', 'JSON.stringify + SET EX', () => peerSet({ ...peerSession, visits: ++visits })],
    [
      'connect-redis request write',
      'get, then set (express-session saving a changed session)',
      async () => peerSet({ ...((await peerGet()) as object), visits: ++visits }),
    ],
    ['ours: validate', 'the record and the epoch, one write, one round trip', () => sessions.validateToken(seed.token)],
    [
      'ours: request write',
      'validate, then patch: the read, then one compare-and-set',
      async () => {
        const result = await sessions.validateToken(seed.token);
        if (result.status !== 'valid') throw new Error(`expected a valid session, got ${result.status}`);
        return sessions.patch(result.session, { visits: ++visits });
      },
    ],
    [
      'ours: compare-and-set alone',
      'RedisStore.update on the version held: one EVALSHA',
      async () => {
        const next = { ...casBase, version: casBase.version + 1, data: { ...casBase.data, visits: ++visits } };
        if (!(await store.update(next, casBase.version, frozenAt))) throw new Error('compare-and-set refused');
        casBase = next;
      },
    ],
    [
      'ours: validate + touch',
      'the read, then the touch script (no record JSON)',
      () => {
        touchNow += 1000;
        return toucher.validateToken(touched.token);
      },
    ],
    ...viaIoredis.cases,
    ...baseline.cases,
  ].map(([name, note, run]) => ({
    name: name as string,
    note: note as string,
    run: run as () => Promise<unknown>,
    calls: 0,
    scriptUsec: 0,
    serverCpuUs: 0,
    ops: 0,
    slices: [],
    cpuSlices: [],
    sent: 0,
    sentUsec: 0,
    sentOps: 0,
  }));

  // Interleaved rounds (the machine is shared: load drifts hit every case alike); the client's
  // figure is each case's median slice, the server's the total over all its slices.
  const rounds = process.env.BENCH_QUICK ? 4 : 10;
  for (let round = 0; round < rounds; round++) {
    for (const c of cases) {
      let ops = 0;
      const counted = () => {
        ops++;
        return c.run();
      };
      const before = await serverSnapshot(admin);
      const cpuBefore = process.cpuUsage();
      c.slices.push(await bench(c.name, counted, { warmupMs: round === 0 ? 200 : 20, timeMs: 150 }));
      const cpu = process.cpuUsage(cpuBefore);
      c.cpuSlices.push((cpu.user + cpu.system) / ops);
      const after = await serverSnapshot(admin);
      c.ops += ops;
      c.calls += after.calls - before.calls;
      c.scriptUsec += after.scriptUsec - before.scriptUsec;
      c.serverCpuUs += after.cpuUs - before.cpuUs;
    }
  }

  // The time of each command a client sent (not those a script runs), from SLOWLOG with a 0 us
  // threshold: a pass of its own, since logging every command costs the server some CPU.
  const slowlogOps = process.env.BENCH_QUICK ? 300 : 1000;
  await admin.configSet({ 'slowlog-log-slower-than': '0', 'slowlog-max-len': String(slowlogOps * 8) });
  try {
    for (const c of cases) {
      await admin.sendCommand(['SLOWLOG', 'RESET']);
      for (let i = 0; i < slowlogOps; i++) await c.run();
      const entries = (await admin.sendCommand(['SLOWLOG', 'GET', '-1'])) as [
        number,
        number,
        number,
        string[],
        string,
      ][];
      for (const [, , duration, args, client] of entries) {
        // A script's own commands are logged too, from client `?:0`: their time is inside EVALSHA's.
        if (client === '?:0' || /^(?:slowlog|config|info)$/i.test(args[0] ?? '')) continue;
        c.sent += 1;
        // A script's time comes from commandstats (the rounds): logging its commands would inflate it.
        if (!/^eval(?:sha)?$/i.test(args[0] ?? '')) c.sentUsec += duration;
      }
      c.sentOps += slowlogOps;
    }
  } finally {
    await admin.configSet({ 'slowlog-log-slower-than': '10000', 'slowlog-max-len': '128' });
  }

  const median = (c: WriteCase) => {
    const sorted = [...c.slices].sort((a, b) => a.nsPerOp - b.nsPerOp);
    return (sorted[Math.floor(sorted.length / 2)] as BenchResult).nsPerOp / 1000;
  };
  const cpuMedian = (c: WriteCase) => [...c.cpuSlices].sort((a, b) => a - b)[c.cpuSlices.length >> 1] as number;
  const header = [
    'case',
    'client us/op (median)',
    'client CPU us/op (median)',
    'Redis CPU us/op',
    'Redis usec/op (sent commands)',
    'of which scripts',
    'commands/op sent',
    'run (with scripts)',
    'note',
  ];
  const rows = cases.map((c) => [
    c.name,
    median(c).toFixed(1),
    cpuMedian(c).toFixed(1),
    (c.serverCpuUs / c.ops).toFixed(1),
    (c.sentUsec / c.sentOps + c.scriptUsec / c.ops).toFixed(2),
    (c.scriptUsec / c.ops).toFixed(2),
    (c.sent / c.sentOps).toFixed(2),
    (c.calls / c.ops).toFixed(2),
    c.note,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(
    [
      '',
      '### Redis store: the write path, beside connect-redis (node-redis 5, private redis-server, one run)',
      '',
      line(header),
      `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
      ...rows.map(line),
      '',
      `Interleaved rounds: ${rounds} of 150 ms per case (client time, client CPU from process.cpuUsage over each slice, Redis CPU, scripts, commands run); then ${slowlogOps} ops per case with SLOWLOG at 0 us (commands sent, and the usec of those that are not scripts, in whole us per command). Figures from a shared machine: compare within this table only.`,
    ].join('\n'),
  );

  const byName = new Map(cases.map((c) => [c.name, c]));
  const get = byName.get('bare GET') as WriteCase;
  const ours = byName.get('ours: request write') as WriteCase;
  const peerWrite = byName.get('connect-redis request write') as WriteCase;
  const validate = byName.get('ours: validate') as WriteCase;
  const touch = byName.get('ours: validate + touch') as WriteCase;
  const cpu = (c: WriteCase) => c.serverCpuUs / c.ops;
  const usec = (c: WriteCase) => c.sentUsec / c.sentOps + c.scriptUsec / c.ops;
  printTarget('request write, Redis CPU vs connect-redis (get + set)', cpu(ours) / cpu(peerWrite), 1);
  printTarget('request write, client time vs connect-redis (get + set)', median(ours) / median(peerWrite), 1);
  printTarget('request write, client CPU vs connect-redis (get + set)', cpuMedian(ours) / cpuMedian(peerWrite), 1);
  printTarget(
    'a touch, Redis usec over a plain validate, in bare GETs',
    (usec(touch) - usec(validate)) / usec(get),
    1.3,
  );
  printTarget(
    'a touch, client time over a plain validate, in bare GETs',
    (median(touch) - median(validate)) / median(get),
    1.3,
  );
  printTarget(
    'a touch, client CPU over a plain validate, in bare GETs',
    (cpuMedian(touch) - cpuMedian(validate)) / cpuMedian(get),
    1.3,
  );
  const ioGet = byName.get('bare GET (ioredis)') as WriteCase;
  const ioWrite = byName.get('ours (ioredis): request write') as WriteCase;
  const ioValidate = byName.get('ours (ioredis): validate') as WriteCase;
  const ioTouch = byName.get('ours (ioredis): validate + touch') as WriteCase;
  printTarget(
    'request write through ioredis, client time vs connect-redis (get + set)',
    median(ioWrite) / median(peerWrite),
    1,
  );
  printTarget(
    'request write through ioredis, client CPU vs connect-redis (get + set)',
    cpuMedian(ioWrite) / cpuMedian(peerWrite),
    1,
  );
  printTarget(
    'request write through ioredis, Redis CPU vs connect-redis (get + set)',
    cpu(ioWrite) / cpu(peerWrite),
    1,
  );
  printTarget('validate through ioredis, client time in bare ioredis GETs', median(ioValidate) / median(ioGet), 1.3);
  printTarget(
    'a touch through ioredis, client time over a plain validate, in bare ioredis GETs',
    (median(ioTouch) - median(ioValidate)) / median(ioGet),
    1.3,
  );
  await store.close();
  await baseline.close();
  await viaIoredis.close();
}

type WriteCaseSpec = [string, string, () => Promise<unknown>];

/**
 * The write-path cases of another checkout's store (`BENCH_REDIS_BASELINE`), on the same
 * connection and data as ours, or none.
 */
async function baselineCases(
  client: AnyRedisClient,
  data: SessionData,
  frozenAt: number,
  nextVisit: () => number,
): Promise<{ cases: WriteCaseSpec[]; close: () => Promise<void> }> {
  const path = process.env.BENCH_REDIS_BASELINE;
  if (!path) return { cases: [], close: async () => {} };
  const module = (await import(path)) as { RedisStore: typeof RedisStore };
  return storeCases('baseline', 'the other checkout', module.RedisStore, client, 'base:', data, frozenAt, nextVisit);
}

/** Validate, request write, compare-and-set alone and validate + touch of one store on `client`. */
async function storeCases(
  label: string,
  note: string,
  Store: typeof RedisStore,
  client: AnyRedisClient,
  prefix: string,
  data: SessionData,
  frozenAt: number,
  nextVisit: () => number,
): Promise<{ cases: WriteCaseSpec[]; close: () => Promise<void> }> {
  const store = new Store<SessionData, AnyRedisClient>({ client, prefix });
  const sessions = createSessionManager<SessionData>({ store, clock: { now: () => frozenAt } });
  const seed = await sessions.create({ userId: 'bench-user', data });
  let touchNow = frozenAt;
  const toucher = createSessionManager<SessionData>({
    store,
    clock: { now: () => touchNow },
    policy: { idleTimeoutMs: 30 * 60_000, absoluteTimeoutMs: 365 * 24 * 3_600_000, touchIntervalMs: 1000 },
  });
  const touched = await toucher.create({ userId: 'bench-user', data });
  const casSession = await sessions.create({ userId: 'bench-user', data });
  let casBase = (await store.get(casSession.session.id, frozenAt)) as NonNullable<
    Awaited<ReturnType<typeof store.get>>
  >;
  const cases: WriteCaseSpec[] = [
    [`${label}: validate`, note, () => sessions.validateToken(seed.token)],
    [
      `${label}: request write`,
      note,
      async () => {
        const result = await sessions.validateToken(seed.token);
        if (result.status !== 'valid') throw new Error(`expected a valid session, got ${result.status}`);
        return sessions.patch(result.session, { visits: nextVisit() });
      },
    ],
    [
      `${label}: compare-and-set alone`,
      note,
      async () => {
        const next = { ...casBase, version: casBase.version + 1, data: { ...casBase.data, visits: nextVisit() } };
        if (!(await store.update(next, casBase.version, frozenAt))) throw new Error('compare-and-set refused');
        casBase = next;
      },
    ],
    [
      `${label}: validate + touch`,
      note,
      () => {
        touchNow += 1000;
        return toucher.validateToken(touched.token);
      },
    ],
  ];
  return { cases, close: () => store.close() };
}

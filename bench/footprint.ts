/**
 * Footprint section: what a steady read load costs the store, and what sessions cost in memory.
 *
 * 1. Store writes per request: an Express 5 server (in this process) with our adapter on Redis,
 *    under autocannon load from 10 browsers that each hold a valid session. Store calls are
 *    counted by a wrapper around the real store (every method call, whatever made it: reads,
 *    touches, writes, sweeps), so nothing the manager does escapes the count. While the touch interval has not passed
 *    a read writes nothing; once the clock moves past it each session is touched once, and then
 *    nothing again. Beside it, express-session + connect-redis (resave: false, its default
 *    rolling: false), counted by wrapping its store's methods: it refreshes the TTL on every read.
 * 2. Memory per 100,000 sessions: heap growth of our MemoryStore holding 100k sessions made by the
 *    manager, and of express-session's MemoryStore holding 100k sessions, after a full GC.
 */
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import autocannon from 'autocannon';
import { markdownTable } from './report.ts';

const QUICK = process.env.BENCH_QUICK === '1';
const SECONDS = QUICK ? 1 : 3;
const CONNECTIONS = 10;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SESSIONS = QUICK ? 10_000 : 100_000;

/** What counts as a write among the store calls. */
const WRITES = new Set([
  'create',
  'update',
  'rotate',
  'delete',
  'set',
  'touch',
  'destroy',
  'deleteByUser',
  'setUserEpoch',
  'deleteAll',
  'deleteExpired',
  'createRefreshFamily',
  'updateRefreshFamily',
  'markOnce',
]);

async function listen(app: { listen(port: number, host: string): import('node:http').Server }) {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  return server;
}

/** Loads the server, then lets the requests still in flight finish before the counts are read. */
async function hammer(port: number, cookies: string[], seconds: number): Promise<void> {
  let next = 0;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/hello`,
    connections: CONNECTIONS,
    duration: seconds,
    setupClient: (client: { setHeaders(headers: Record<string, string>): void }) => {
      client.setHeaders({ cookie: cookies[next++ % cookies.length] as string });
    },
  } as autocannon.Options);
  if (result.non2xx > 0 || result.errors > 0) {
    const stats = (result.statusCodeStats ?? {}) as Record<string, { count: number }>;
    const statuses = Object.entries(stats)
      .map(([status, { count }]) => `${count} x ${status}`)
      .join(', ');
    throw new Error(`footprint: ${result.non2xx} non-2xx (${statuses}), ${result.errors} errors`);
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
}

interface WritePhase {
  label: string;
  requests: number;
  reads: number;
  writes: number;
}

/**
 * The store as the manager sees it, counting every method call by name into `counts`. Calls reach
 * the real store with itself as `this` (its private fields stay reachable).
 */
function countingStore<S extends object>(store: S, counts: Map<string, number>): S {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string' || property === 'constructor') return value;
      // Closing the store at the end is no call of the load.
      if (property === 'close') return value.bind(target);
      return (...args: unknown[]) => {
        counts.set(property, (counts.get(property) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

async function oursUnderReadLoad(): Promise<WritePhase[]> {
  const { default: express } = await import('express');
  const { createSessionManager } = await import('@org/session-core');
  const { RedisStore } = await import('@org/session-store-redis');
  const { expressSessions } = await import('@org/session-express');
  const { randomString } = await import('@org/session-core/testing');
  const counts = new Map<string, number>();
  let offset = 0;
  const clock = { now: () => Date.now() + offset };
  const store = new RedisStore({ url: REDIS_URL, prefix: `bench-footprint:${randomString(6)}:` });
  const manager = createSessionManager({ store: countingStore(store, counts), clock, mode: 'development' });
  const app = express();
  app.use(expressSessions(manager).middleware);
  let served = 0;
  app.get('/hello', (req, res) => {
    served++;
    res.json({ user: req.session?.userId ?? null });
  });
  const server = await listen(app);
  const cookies: string[] = [];
  for (let i = 0; i < CONNECTIONS; i++) {
    const issued = await manager.create({ userId: `footprint-${i}` });
    cookies.push(issued.cookies.map((line) => line.split(';')[0]).join('; '));
  }
  const phase = async (label: string): Promise<WritePhase> => {
    counts.clear();
    served = 0;
    await hammer((server.address() as AddressInfo).port, cookies, SECONDS);
    const requests = served;
    let reads = 0;
    let writes = 0;
    for (const [method, n] of counts) {
      if (WRITES.has(method)) writes += n;
      else reads += n;
    }
    return { label, requests, reads, writes };
  };
  try {
    const phases = [await phase('ours (Redis), within the touch interval')];
    offset = manager.policy.touchIntervalMs + 1000;
    phases.push(
      await phase(`ours (Redis), clock moved past the touch interval (${manager.policy.touchIntervalMs / 1000} s)`),
    );
    phases.push(await phase('ours (Redis), right after those touches'));
    return phases;
  } finally {
    server.close();
    await store.close();
  }
}

async function expressSessionUnderReadLoad(): Promise<WritePhase> {
  const { default: express } = await import('express');
  const { default: session } = await import('express-session');
  const { createClient } = await import('redis');
  const { RedisStore } = await import('connect-redis');
  const { randomString } = await import('@org/session-core/testing');
  const client = createClient({ url: REDIS_URL });
  await client.connect();
  const prefix = `bench-footprint-peer:${randomString(6)}:`;
  const store = new RedisStore({ client, prefix });
  const counts = new Map<string, number>();
  const methods = store as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of ['get', 'set', 'touch', 'destroy']) {
    const original = methods[method] as (...args: unknown[]) => unknown;
    methods[method] = function (this: unknown, ...args: unknown[]) {
      counts.set(method, (counts.get(method) ?? 0) + 1);
      return original.apply(this, args);
    };
  }
  const app = express();
  app.use(session({ secret: 'footprint-secret-footprint-secret', resave: false, saveUninitialized: false, store }));
  app.post('/login', (req, res) => {
    (req.session as unknown as { user: string }).user = 'footprint';
    res.json({ ok: true });
  });
  let served = 0;
  app.get('/hello', (req, res) => {
    served++;
    res.json({ user: (req.session as unknown as { user?: string }).user ?? null });
  });
  const server = await listen(app);
  const port = (server.address() as AddressInfo).port;
  try {
    const cookies: string[] = [];
    for (let i = 0; i < CONNECTIONS; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/login`, { method: 'POST' });
      cookies.push((res.headers.getSetCookie()[0] as string).split(';')[0] as string);
    }
    counts.clear();
    served = 0;
    await hammer(port, cookies, SECONDS);
    const requests = served;
    let reads = 0;
    let writes = 0;
    for (const [method, n] of counts) {
      if (WRITES.has(method)) writes += n;
      else reads += n;
    }
    return { label: 'express-session + connect-redis (resave: false)', requests, reads, writes };
  } finally {
    server.close();
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*` })) if (keys.length > 0) await client.del(keys);
    await client.quit();
  }
}

const collectGarbage: () => void = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

function heapAfterGc(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

async function memoryPerSessions(): Promise<{ label: string; bytesPerSession: number }[]> {
  const { MemoryStore, createSessionManager } = await import('@org/session-core');
  const before = heapAfterGc();
  const store = new MemoryStore({ maxSessions: SESSIONS * 2 });
  const manager = createSessionManager({ store, maxSessionsPerUser: null });
  for (let i = 0; i < SESSIONS; i++) {
    await manager.create({
      userId: `user-${i}`,
      data: { role: 'member' },
      metadata: { userAgent: 'Mozilla/5.0 (bench)', ip: '203.0.113.7' },
    });
  }
  const ours = (heapAfterGc() - before) / SESSIONS;
  await store.close();

  const { default: session } = await import('express-session');
  const peerBefore = heapAfterGc();
  const peerStore = new session.MemoryStore();
  for (let i = 0; i < SESSIONS; i++) {
    const sid = crypto.randomUUID();
    const data = {
      cookie: { originalMaxAge: 86_400_000, expires: new Date(Date.now() + 86_400_000), httpOnly: true, path: '/' },
      user: `user-${i}`,
      role: 'member',
    };
    await new Promise<void>((resolve) => peerStore.set(sid, data as never, () => resolve()));
  }
  const peer = (heapAfterGc() - peerBefore) / SESSIONS;
  peerStore.clear();
  return [
    { label: 'ours: MemoryStore (via the manager, with metadata)', bytesPerSession: ours },
    { label: "express-session's MemoryStore", bytesPerSession: peer },
  ];
}

export async function run(): Promise<string> {
  const phases = [...(await oursUnderReadLoad()), await expressSessionUnderReadLoad()];
  const writesTable = markdownTable(
    ['case', 'requests', 'store reads', 'store writes', 'writes per request'],
    phases.map((p) => [
      p.label,
      String(p.requests),
      String(p.reads),
      String(p.writes),
      (p.writes / p.requests).toFixed(4),
    ]),
    [false, true, true, true, true],
  );
  const memory = await memoryPerSessions();
  const memoryTable = markdownTable(
    ['store', `heap per session (${SESSIONS.toLocaleString('en-US')} sessions)`, 'per 100k sessions'],
    memory.map((m) => [
      m.label,
      `${Math.round(m.bytesPerSession)} B`,
      `${((m.bytesPerSession * 100_000) / 2 ** 20).toFixed(1)} MiB`,
    ]),
    [false, true, true],
  );
  const text = [
    `### Store writes per request under a steady authenticated read load (Express, ${CONNECTIONS} sessions, ${SECONDS} s per phase)`,
    '',
    writesTable,
    '',
    `### Memory per session (heap growth after a full GC)`,
    '',
    memoryTable,
  ].join('\n');
  console.log(`\n${text}`);
  return text;
}

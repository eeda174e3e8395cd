/**
 * HTTP section: per-request cost of a session read through our Express 5 and Fastify 5 adapters,
 * next to the bare framework and to express-session / @fastify/session doing the same work (read
 * the session, answer with the user id), on the memory store and on Redis, in one run.
 *
 * Every server runs in its own child process pinned to CPU 0 (when `taskset` exists) with
 * NODE_ENV=production; autocannon runs here, on CPU 1. Each case: 10 connections, a warm-up, then
 * ROUNDS interleaved measured runs of SECONDS each; the best run is reported (noise on this
 * machine only ever slows a run down). Before any load, each route is checked: without the cookie
 * it returns no user, with it the user. Any non-2xx response, error or timeout fails the case.
 *
 * Targets (issue 5): our read path keeps >= 90% of the bare framework's throughput on the memory
 * store, and beats the peer on every store. Redis cases need Redis at REDIS_URL (default
 * redis://127.0.0.1:6379) and are skipped with a note when it does not answer.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { type BenchResult, printTable, printTarget } from './lib.ts';

const SECONDS = Number(process.env.HTTP_BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.HTTP_BENCH_ROUNDS ?? 2);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const USER = 'u_1234';
const SECRET = 'bench-secret-bench-secret-bench-secret!';

type Framework = 'express' | 'fastify';
type Flavour = 'bare' | 'ours' | 'peer';
type StoreKind = 'memory' | 'redis';
interface Case {
  framework: Framework;
  flavour: Flavour;
  store: StoreKind;
  label: string;
}

const peerName: Record<Framework, string> = { express: 'express-session', fastify: '@fastify/session' };

function cases(framework: Framework): Case[] {
  const list: Case[] = [{ framework, flavour: 'bare', store: 'memory', label: `${framework} bare` }];
  for (const store of ['memory', 'redis'] as const) {
    list.push({ framework, flavour: 'ours', store, label: `${framework} + ours (${store})` });
    list.push({ framework, flavour: 'peer', store, label: `${framework} + ${peerName[framework]} (${store})` });
  }
  return list;
}

// ---------------------------------------------------------------------------------------------
// Child process: one server per case.
// ---------------------------------------------------------------------------------------------

interface Ready {
  port: number;
  cookie: string | null;
}

/** Starts the server for `c` and returns its port and a cookie header of a live session. */
async function serve(c: Case): Promise<{ ready: Ready; cleanup: () => Promise<void> }> {
  const hello = (user: unknown) => ({ hello: 'world', user: typeof user === 'string' ? user : null });
  return c.framework === 'express' ? serveExpress(c, hello) : serveFastify(c, hello);
}

async function ourManager(store: StoreKind) {
  const { MemoryStore, SessionManager, randomString } = await import('@org/session-core');
  if (store === 'memory') return { manager: new SessionManager({ store: new MemoryStore() }), close: async () => {} };
  const { RedisStore } = await import('@org/session-store-redis');
  const redisStore = new RedisStore({ url: REDIS_URL, prefix: `bench-http:${randomString(6)}:` });
  return { manager: new SessionManager({ store: redisStore }), close: () => redisStore.close() };
}

async function peerRedisStore() {
  const { createClient } = await import('redis');
  const { RedisStore } = await import('connect-redis');
  const client = createClient({ url: REDIS_URL });
  await client.connect();
  return { store: new RedisStore({ client, prefix: 'bench-http-peer:' }), close: () => client.quit().then(() => {}) };
}

async function serveExpress(c: Case, hello: (user: unknown) => object) {
  const { default: express } = await import('express');
  const app = express();
  let cookie: string | null = null;
  let cleanup = async () => {};
  if (c.flavour === 'ours') {
    const { expressSessions } = await import('@org/session-express');
    const { manager, close } = await ourManager(c.store);
    const auth = expressSessions(manager);
    app.use(auth.middleware);
    app.get('/hello', (req, res) => {
      res.json(hello(req.session?.userId));
    });
    const issued = await manager.create({ userId: USER, data: { role: 'member' } });
    cookie = `${manager.cookie.name}=${issued.token}`;
    cleanup = async () => {
      await manager.revoke(issued.session.id);
      await close();
    };
  } else if (c.flavour === 'peer') {
    const { default: session } = await import('express-session');
    const redis = c.store === 'redis' ? await peerRedisStore() : null;
    app.use(
      session({
        secret: SECRET,
        resave: false,
        saveUninitialized: false,
        store: redis?.store,
        cookie: { secure: false, httpOnly: true, sameSite: 'lax', maxAge: 86_400_000 },
      }),
    );
    app.post('/login', (req, res) => {
      Object.assign(req.session, { user: USER, role: 'member' });
      res.json({ ok: true });
    });
    app.get('/hello', (req, res) => {
      res.json(hello((req.session as unknown as { user?: string }).user));
    });
    cleanup = async () => redis?.close();
  } else {
    app.get('/hello', (_req, res) => {
      res.json(hello(USER));
    });
  }
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const port = (server.address() as { port: number }).port;
  if (c.flavour === 'peer') cookie = await loginCookie(port);
  return { ready: { port, cookie }, cleanup };
}

async function serveFastify(c: Case, hello: (user: unknown) => object) {
  const { default: Fastify } = await import('fastify');
  const app = Fastify();
  let cookie: string | null = null;
  let cleanup = async () => {};
  if (c.flavour === 'ours') {
    const { fastifySessions } = await import('@org/session-fastify');
    const { manager, close } = await ourManager(c.store);
    await app.register(fastifySessions, { manager });
    app.get('/hello', async (request) => hello(request.session?.userId));
    const issued = await manager.create({ userId: USER, data: { role: 'member' } });
    cookie = `${manager.cookie.name}=${issued.token}`;
    cleanup = async () => {
      await manager.revoke(issued.session.id);
      await close();
    };
  } else if (c.flavour === 'peer') {
    const { default: fastifyCookie } = await import('@fastify/cookie');
    const { default: fastifySession } = await import('@fastify/session');
    const redis = c.store === 'redis' ? await peerRedisStore() : null;
    await app.register(fastifyCookie);
    await app.register(fastifySession, {
      secret: SECRET,
      saveUninitialized: false,
      // Its default (true) saves and re-signs on every response; false is the fairer read path.
      rolling: false,
      // connect-redis implements the express-session store interface, which @fastify/session takes.
      store: redis?.store as never,
      cookie: { secure: false, httpOnly: true, sameSite: 'lax', maxAge: 86_400_000 },
    });
    app.post('/login', async (request) => {
      request.session.set('user' as never, USER as never);
      return { ok: true };
    });
    app.get('/hello', async (request) => hello(request.session.get('user' as never)));
    cleanup = async () => redis?.close();
  } else {
    app.get('/hello', async () => hello(USER));
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  if (c.flavour === 'peer') cookie = await loginCookie(port);
  return { ready: { port, cookie }, cleanup };
}

/** The peers' cookie comes from a real login request, as a browser would get it. */
async function loginCookie(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/login`, { method: 'POST' });
  const line = res.headers.getSetCookie()[0];
  if (!line) throw new Error('the login route set no cookie');
  return line.split(';')[0] as string;
}

async function runChild(spec: string): Promise<void> {
  const c = JSON.parse(spec) as Case;
  // Exit with the parent, and in any case after a while: never a stray server.
  const ttl = setTimeout(() => process.exit(0), 15 * 60_000);
  ttl.unref();
  process.stdin.on('end', () => process.exit(0)).resume();
  try {
    const { ready, cleanup } = await serve(c);
    process.on('SIGTERM', () => {
      cleanup().finally(() => process.exit(0));
    });
    process.stdout.write(`${JSON.stringify(ready)}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ error: (error as Error).message })}\n`);
    process.exit(0);
  }
}

// ---------------------------------------------------------------------------------------------
// Parent: load generation and report.
// ---------------------------------------------------------------------------------------------

interface Running {
  c: Case;
  child: ChildProcess;
  ready: Ready | null;
  skipped?: string;
  best: autocannon.Result | null;
}

const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

async function start(c: Case): Promise<Running> {
  const file = fileURLToPath(import.meta.url);
  const args = [...process.execArgv, file];
  const env = { ...process.env, NODE_ENV: 'production', HTTP_BENCH_CHILD: JSON.stringify(c) };
  const child = hasTaskset
    ? spawn('taskset', ['-c', '0', process.execPath, ...args], { env, stdio: ['pipe', 'pipe', 'inherit'] })
    : spawn(process.execPath, args, { env, stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${c.label}: server did not start in 30 s`)), 30_000);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', (text) => {
      clearTimeout(timer);
      resolve(text);
    });
    child.once('exit', () => reject(new Error(`${c.label}: server exited before it was ready`)));
  });
  const message = JSON.parse(line) as Ready & { error?: string };
  if (message.error) return { c, child, ready: null, skipped: message.error, best: null };
  await verify(c, message);
  return { c, child, ready: message, best: null };
}

/** Without the cookie the route knows no user; with it, it does. */
async function verify(c: Case, ready: Ready): Promise<void> {
  const url = `http://127.0.0.1:${ready.port}/hello`;
  const anonymous = (await (await fetch(url)).json()) as { user: string | null };
  const headers: Record<string, string> = ready.cookie ? { cookie: ready.cookie } : {};
  const known = (await (await fetch(url, { headers })).json()) as { user: string | null };
  const expectAnonymous = c.flavour === 'bare' ? USER : null;
  if (anonymous.user !== expectAnonymous || known.user !== USER) {
    throw new Error(
      `${c.label}: the route does not behave as a session read (${JSON.stringify({ anonymous, known })})`,
    );
  }
}

function load(running: Running, seconds: number): Promise<autocannon.Result> {
  const ready = running.ready as Ready;
  return autocannon({
    url: `http://127.0.0.1:${ready.port}/hello`,
    connections: 10,
    duration: seconds,
    headers: ready.cookie ? { cookie: ready.cookie } : {},
  });
}

function stop(running: Running): Promise<void> {
  if (running.child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => running.child.kill('SIGKILL'), 5000);
    running.child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    running.child.kill('SIGTERM');
  });
}

/** Pins this process (the load generator) to CPU 1 while the section runs; returns the undo. */
function pinSelf(): () => void {
  if (!hasTaskset) return () => {};
  const before = /:\s*([0-9a-f]+)\s*$/i.exec(execFileSync('taskset', ['-p', String(process.pid)]).toString())?.[1];
  execFileSync('taskset', ['-pc', '1', String(process.pid)], { stdio: 'ignore' });
  return () => {
    if (before) execFileSync('taskset', ['-p', before, String(process.pid)], { stdio: 'ignore' });
  };
}

function toResult(running: Running): BenchResult {
  const best = running.best;
  if (!best) {
    return {
      name: running.c.label,
      opsPerSec: Number.NaN,
      nsPerOp: Number.NaN,
      p99NsPerOp: Number.NaN,
      batches: 0,
      note: `skipped: ${running.skipped}`,
    };
  }
  const rps = best.requests.average;
  return {
    name: running.c.label,
    opsPerSec: rps,
    nsPerOp: 1e9 / rps,
    p99NsPerOp: Number.NaN,
    batches: ROUNDS,
    note: `latency p50 ${best.latency.p50} ms, p99 ${best.latency.p99} ms`,
  };
}

async function measureFramework(framework: Framework): Promise<void> {
  const running: Running[] = [];
  try {
    for (const c of cases(framework)) running.push(await start(c));
    const live = running.filter((r) => r.ready);
    for (const r of live) await load(r, 1); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? live : [...live].reverse();
      for (const r of order) {
        const result = await load(r, SECONDS);
        if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
          throw new Error(
            `${r.c.label}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`,
          );
        }
        if (!r.best || result.requests.average > r.best.requests.average) r.best = result;
      }
    }
  } finally {
    await Promise.all(running.map(stop));
  }

  const results = running.map(toResult);
  printTable(
    `HTTP: ${framework} 5, GET with a valid session (autocannon, 10 connections, best of ${ROUNDS} x ${SECONDS} s)`,
    results,
    `${framework} bare`,
  );
  console.log(
    '\n("us/op" is wall time per request at saturation: 1e6 / req/s. "cost vs bare" = bare req/s / case req/s.)\n',
  );
  const find = (flavour: Flavour, store: StoreKind) =>
    results[running.findIndex((r) => r.c.flavour === flavour && (flavour === 'bare' || r.c.store === store))];
  const bare = find('bare', 'memory') as BenchResult;
  const oursMemory = find('ours', 'memory') as BenchResult;
  printTarget(
    `${framework}: bare req/s / ours req/s (memory store; >= 90% of bare)`,
    bare.opsPerSec / oursMemory.opsPerSec,
    1.11,
  );
  for (const store of ['memory', 'redis'] as const) {
    const ours = find('ours', store) as BenchResult;
    const peer = find('peer', store) as BenchResult;
    if (Number.isNaN(ours.opsPerSec) || Number.isNaN(peer.opsPerSec)) {
      console.log(`SKIPPED ${framework} vs ${peerName[framework]} (${store}): ${ours.note ?? peer.note}`);
      continue;
    }
    printTarget(
      `${framework}: time per request, ours / ${peerName[framework]} (${store}; beat the peer)`,
      ours.nsPerOp / peer.nsPerOp,
      1,
    );
  }
}

export async function run(): Promise<void> {
  const unpin = pinSelf();
  try {
    for (const framework of ['express', 'fastify'] as const) await measureFramework(framework);
  } finally {
    unpin();
  }
}

if (process.env.HTTP_BENCH_CHILD) await runChild(process.env.HTTP_BENCH_CHILD);

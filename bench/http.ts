/**
 * HTTP section: what a session costs per request through our Express 5, Fastify 5 and Hono 4
 * adapters, beside the bare route and beside the best peers doing the same work, in one run:
 *
 * - Express: express-session (memory), express-session + connect-redis, iron-session (sealed cookie);
 * - Fastify: @fastify/secure-session (sealed cookie), @fastify/session (memory), @fastify/session +
 *   connect-redis;
 * - Hono: hono-sessions (memory; it ships no Redis store);
 * - Next.js 16 (`next build` once, then `next start`, see next.ts): iron-session (sealed cookie) in a
 *   route handler. Ours in a route handler, and the same read behind proxy.ts, which validates the
 *   session first and re-sends its cookie when it renews it.
 *
 * Ours on the memory store, on Redis and in hybrid mode (a session-JWT cookie beside the session
 * cookie; reads verify the JWT and skip the store). READ routes read the session and answer with
 * the user id; WRITE routes also increment a counter in the session data and save it.
 *
 * Every server runs in its own child process pinned to CPU 0 (when `taskset` exists) with
 * NODE_ENV=production; autocannon runs here, pinned to CPU 1. Servers start on every CPU (they
 * compile their TypeScript, Next loads its build) and are pinned to CPU 0, every thread, once they
 * answer, before any load. Each case: 10 connections, each a
 * browser with its own session (a cookie from a real login), a warm-up (8 s for Next), then ROUNDS interleaved
 * rounds of SECONDS each (the order reversed every other round); every figure is the median over
 * the rounds, and "added us" is the median of the per-round differences with the bare route of
 * that round. Before any load each route is checked: without a cookie it knows no user, with one
 * it does, and a WRITE route's counter goes up. Any non-2xx response, error or timeout fails the
 * case.
 *
 * CPU per request (utime + stime of the server process from /proc, over the requests served) is
 * the measure that matters: it does not depend on the load generator's ceiling, and other work
 * sharing the machine moves it far less than req/s.
 *
 * `HTTP_BENCH_FRAMEWORKS=hono` runs one framework; `HTTP_BENCH_ROUNDS`, `HTTP_BENCH_SECONDS` set the
 * rounds. `HTTP_BENCH_BASELINE=<another checkout's packages directory>` adds that checkout's Express
 * and Fastify adapters (memory read, labelled `baseline:`) to the same interleaved rounds, for a
 * before and after of an adapter change in one run (give its express/ and fastify/ a node_modules,
 * e.g. a symlink to this one's, so that both adapters run on the same core). Redis cases need Redis at REDIS_URL (default redis://127.0.0.1:6379) and are reported as
 * skipped when it does not answer.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { bench, printTable, printTarget } from './lib.ts';
import { buildNextApp, deleteRedisKeys, startNextServer } from './next.ts';
import { type FrameworkResults, type HttpRow, httpTable, median } from './report.ts';

const QUICK = process.env.BENCH_QUICK === '1';
const SECONDS = Number(process.env.HTTP_BENCH_SECONDS ?? (QUICK ? 1 : 3));
const ROUNDS = Number(process.env.HTTP_BENCH_ROUNDS ?? (QUICK ? 1 : 3));
const WARMUP_SECONDS = QUICK ? 0.5 : 1;
/**
 * `next start` is still compiling hot paths for its first few thousand requests (~3,200 us of CPU
 * per request over the first 500 on this host, ~1,600 after 3,000): at its ~400 req/s, one second
 * of warm-up measured that curve instead of the steady state.
 */
const NEXT_WARMUP_SECONDS = QUICK ? 0.5 : 8;
const CONNECTIONS = 10;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const USER = 'u_1234';
const SECRET = 'bench-secret-bench-secret-bench-secret!';
const BASELINE = process.env.HTTP_BENCH_BASELINE;

export type Framework = 'express' | 'fastify' | 'hono' | 'next';
type Impl =
  | 'bare'
  | 'noop'
  | 'bare-cookies'
  | 'ours'
  | 'baseline'
  | 'hybrid'
  | 'proxy'
  | 'express-session'
  | 'iron-session'
  | 'secure-session'
  | 'fastify-session'
  | 'hono-sessions';
type StoreKind = 'memory' | 'redis' | 'cookie';
type Operation = 'read' | 'write';
/** Which client library our Redis store is given (the peers' connect-redis runs on node-redis). */
type RedisClientKind = 'ioredis' | 'node-redis';
interface Case {
  framework: Framework;
  impl: Impl;
  store: StoreKind;
  op: Operation;
  label: string;
  /** Ours on Redis: the store opened from a URL (ioredis, the default) or handed a node-redis client. */
  redisClient?: RedisClientKind;
}

const frameworkTitle: Record<Framework, string> = {
  express: 'Express 5',
  fastify: 'Fastify 5',
  hono: 'Hono 4 (@hono/node-server)',
  next: 'Next.js 16 (next start)',
};

const peerTitle: Record<
  Exclude<Impl, 'bare' | 'noop' | 'bare-cookies' | 'ours' | 'baseline' | 'hybrid' | 'proxy'>,
  string
> = {
  'express-session': 'express-session',
  'iron-session': 'iron-session',
  'secure-session': '@fastify/secure-session',
  'fastify-session': '@fastify/session',
  'hono-sessions': 'hono-sessions',
};

/** The peers measured on each framework, with the stores they are measured on. */
const peers: Record<Framework, { impl: keyof typeof peerTitle; stores: StoreKind[] }[]> = {
  express: [
    { impl: 'express-session', stores: ['memory', 'redis'] },
    { impl: 'iron-session', stores: ['cookie'] },
  ],
  fastify: [
    { impl: 'secure-session', stores: ['cookie'] },
    { impl: 'fastify-session', stores: ['memory', 'redis'] },
  ],
  hono: [{ impl: 'hono-sessions', stores: ['memory'] }],
  next: [{ impl: 'iron-session', stores: ['cookie'] }],
};

function labelOf(
  framework: Framework,
  impl: Impl,
  store: StoreKind,
  op: Operation,
  redisClient?: RedisClientKind,
): string {
  const write = op === 'write' ? ' WRITE' : '';
  if (impl === 'bare') return 'bare route';
  if (impl === 'noop') return framework === 'next' ? 'bare route behind an empty proxy.ts' : 'an empty middleware';
  if (impl === 'hybrid') return 'ours, hybrid (session-JWT cookie)';
  if (impl === 'bare-cookies') return "bare route, sent the hybrid row's cookies";
  if (impl === 'baseline') return 'baseline: ours, memory';
  if (impl === 'proxy') return 'ours, memory, behind proxy.ts (renewal)';
  const where = store === 'redis' ? 'Redis' : store === 'cookie' ? 'sealed cookie' : 'memory';
  if (impl === 'ours') return `ours, ${where}${redisClient === 'node-redis' ? ' (node-redis client)' : ''}${write}`;
  const name = store === 'redis' ? `${peerTitle[impl]} + connect-redis` : `${peerTitle[impl]} (${where})`;
  return `${name}${write}`;
}

/**
 * `--quick` (a check that a change works, in under two minutes): on every framework the floor, our
 * read on the memory store and one peer's read (and Next's proxy path); our Redis read and write
 * on Express only, since the store's share of a request does not depend on the framework. The
 * empty middleware on Express (where one more layer costs the most) and Next only.
 */
function quickCase(c: Case): boolean {
  if (c.impl === 'bare' || c.impl === 'proxy' || c.impl === 'baseline') return true;
  if (c.impl === 'noop') return c.framework === 'next' || c.framework === 'express';
  if (c.impl === 'bare-cookies') return false;
  if (c.impl === 'ours') {
    if (c.store === 'memory') return c.op === 'read';
    return c.framework === 'express' && c.redisClient !== 'node-redis';
  }
  const first = peers[c.framework][0];
  return c.impl === first?.impl && c.store === first.stores[0] && c.op === 'read';
}

function cases(framework: Framework): Case[] {
  if (QUICK) return allCases(framework).filter(quickCase);
  return allCases(framework);
}

function allCases(framework: Framework): Case[] {
  const list: Case[] = [];
  const add = (impl: Impl, store: StoreKind, op: Operation, redisClient?: RedisClientKind) =>
    list.push({ framework, impl, store, op, label: labelOf(framework, impl, store, op, redisClient), redisClient });
  add('bare', 'memory', 'read');
  // An empty middleware (Fastify: an empty onRequest hook; Next: the bare route behind a proxy.ts
  // that does nothing): the framework's own cost of one more layer, the floor under ours.
  add('noop', 'memory', 'read');
  for (const op of ['read', 'write'] as const) {
    add('ours', 'memory', op);
    if (BASELINE && op === 'read' && (framework === 'express' || framework === 'fastify'))
      add('baseline', 'memory', op);
    add('ours', 'redis', op);
    // Ours on the client library connect-redis runs on: the same client's cost on both sides. (Next's
    // built app opens its store from a URL only.)
    if (framework !== 'next') add('ours', 'redis', op, 'node-redis');
    // Next: the hybrid mode is not wired in the bench's app; the proxy's path is measured instead.
    if (op === 'read') add(framework === 'next' ? 'proxy' : 'hybrid', 'memory', op);
    // The bare route again, its requests carrying the hybrid row's cookies (the ~620-byte session
    // JWT beside the session cookie), which no code reads: what carrying them costs the framework
    // and Node, the floor under the hybrid row's figure.
    if (op === 'read' && framework !== 'next') add('bare-cookies', 'memory', op);
    for (const peer of peers[framework]) for (const store of peer.stores) add(peer.impl, store, op);
  }
  return list;
}

// ---------------------------------------------------------------------------------------------
// Child process: one server per case.
// ---------------------------------------------------------------------------------------------

interface Ready {
  port: number;
  /** One Cookie header per connection: each connection is one browser with its own session. */
  cookies: string[];
}

interface Served {
  port: number;
  /** Sessions made by our manager (peers log in over HTTP once the server listens). */
  cookies: string[];
  cleanup: () => Promise<void>;
}

type Reply = (user: unknown, n?: unknown) => { hello: string; user: string | null; n?: number };
const reply: Reply = (user, n) => ({
  hello: 'world',
  user: typeof user === 'string' ? user : null,
  ...(typeof n === 'number' ? { n } : {}),
});

interface BenchData extends Record<string, unknown> {
  role?: string;
  n?: number;
}

async function ourSessions(c: Case) {
  const { MemoryStore, createSessionManager } = await import('@org/session-core');
  const { randomString } = await import('@org/session-core/testing');
  let close = async () => {};
  let store: import('@org/session-core').SessionStore<BenchData>;
  if (c.store === 'redis') {
    const { RedisStore } = await import('@org/session-store-redis');
    const prefix = `bench-http:${randomString(6)}:`;
    if (c.redisClient === 'node-redis') {
      const { createClient } = await import('redis');
      const client = createClient({ url: REDIS_URL, disableOfflineQueue: true });
      await client.connect();
      store = new RedisStore<BenchData, typeof client>({ client, prefix }) as unknown as typeof store;
      close = async () => void (await client.quit());
    } else {
      const redisStore = new RedisStore({ url: REDIS_URL, prefix });
      store = redisStore as unknown as typeof store;
      close = () => redisStore.close();
    }
  } else {
    store = new MemoryStore<BenchData>();
  }
  const manager = createSessionManager<BenchData>({ store });
  let hybrid: import('@org/session-core/adapter').SessionStrategy<BenchData> | undefined;
  let login = async () => (await manager.create({ userId: USER, data: { role: 'member', n: 0 } })).cookies;
  if (c.impl === 'hybrid') {
    const { createHybridSessions, createJwtKeySet, createSessionJwt, generateSigningKey } = await import(
      '@org/session-core/jwt'
    );
    const keys = createJwtKeySet({ active: await generateSigningKey() });
    const jwt = createSessionJwt({ manager, keys, issuer: 'https://bench.example', audience: 'bench' });
    const hybridSessions = createHybridSessions({ jwt });
    hybrid = hybridSessions as unknown as typeof hybrid;
    login = async () => (await hybridSessions.create({ userId: USER, data: { role: 'member', n: 0 } })).cookies;
  }
  const cookies: string[] = [];
  for (let i = 0; i < CONNECTIONS; i++) {
    cookies.push((await login()).map((line) => line.split(';')[0]).join('; '));
  }
  // The write every WRITE route makes: a merge that increments the counter (one round trip).
  const write = async (session: { id: string; version: number }) =>
    (await manager.update(session, (data) => ({ ...data, n: (data.n ?? 0) + 1 }))).data.n;
  return { manager, hybrid, cookies, write, close };
}

async function peerRedisStore() {
  const { createClient } = await import('redis');
  const { RedisStore } = await import('connect-redis');
  const { randomString } = await import('@org/session-core/testing');
  const client = createClient({ url: REDIS_URL });
  await client.connect();
  const prefix = `bench-http-peer:${randomString(6)}:`;
  return {
    store: new RedisStore({ client, prefix }),
    close: async () => {
      for await (const keys of client.scanIterator({ MATCH: `${prefix}*` }))
        if (keys.length > 0) await client.del(keys);
      await client.quit();
    },
  };
}

async function serveExpress(c: Case): Promise<Served> {
  const { default: express } = await import('express');
  const app = express();
  let cookies: string[] = [];
  let cleanup = async () => {};
  if (c.impl === 'ours' || c.impl === 'hybrid' || c.impl === 'baseline') {
    const { expressSessions }: typeof import('@org/session-express') = await import(
      c.impl === 'baseline' ? `${BASELINE}/express/src/index.ts` : '@org/session-express'
    );
    const ours = await ourSessions(c);
    app.use(expressSessions(ours.manager, { hybrid: ours.hybrid }).middleware);
    app.get('/hello', (req, res) => {
      res.json(reply(req.session?.userId));
    });
    app.get('/write', async (req, res) => {
      if (!req.session) return void res.json(reply(null));
      res.json(reply(req.session.userId, await ours.write(req.session)));
    });
    cookies = ours.cookies;
    cleanup = ours.close;
  } else if (c.impl === 'express-session') {
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
    // This program also loads @org/session-express, whose `req.session` type wins over
    // express-session's; on these routes the object is express-session's, read through `Data`.
    type Data = { user?: string; n?: number };
    app.post('/login', (req, res) => {
      Object.assign(req.session as unknown as Data, { user: USER, role: 'member', n: 0 });
      res.json({ ok: true });
    });
    app.get('/hello', (req, res) => {
      res.json(reply((req.session as unknown as Data).user));
    });
    app.get('/write', (req, res) => {
      const data = req.session as unknown as Data;
      if (!data.user) return void res.json(reply(null));
      data.n = (data.n ?? 0) + 1;
      res.json(reply(data.user, data.n));
    });
    cleanup = async () => redis?.close();
  } else if (c.impl === 'iron-session') {
    const { getIronSession } = await import('iron-session');
    type Data = { user?: string; role?: string; n?: number };
    const options = {
      password: SECRET,
      cookieName: 'iron',
      cookieOptions: { secure: false, sameSite: 'lax' as const },
    };
    app.post('/login', async (req, res) => {
      const session = await getIronSession<Data>(req, res, options);
      Object.assign(session, { user: USER, role: 'member', n: 0 });
      await session.save();
      res.json({ ok: true });
    });
    app.get('/hello', async (req, res) => {
      const session = await getIronSession<Data>(req, res, options);
      res.json(reply(session.user));
    });
    app.get('/write', async (req, res) => {
      const session = await getIronSession<Data>(req, res, options);
      if (!session.user) return void res.json(reply(null));
      session.n = (session.n ?? 0) + 1;
      await session.save();
      res.json(reply(session.user, session.n));
    });
  } else {
    if (c.impl === 'noop') app.use((_req, _res, next) => next());
    app.get('/hello', (_req, res) => {
      res.json(reply(USER));
    });
  }
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  return { port: (server.address() as { port: number }).port, cookies, cleanup };
}

async function serveFastify(c: Case): Promise<Served> {
  const { default: Fastify } = await import('fastify');
  const app = Fastify();
  let cookies: string[] = [];
  let cleanup = async () => {};
  type Session = { get(key: string): unknown; set(key: string, value: unknown): void };
  const peerRoutes = (session: (request: object) => Session) => {
    app.post('/login', async (request) => {
      session(request).set('user', USER);
      session(request).set('role', 'member');
      session(request).set('n', 0);
      return { ok: true };
    });
    app.get('/hello', async (request) => reply(session(request).get('user')));
    app.get('/write', async (request) => {
      const s = session(request);
      if (typeof s.get('user') !== 'string') return reply(null);
      const n = ((s.get('n') as number | undefined) ?? 0) + 1;
      s.set('n', n);
      return reply(s.get('user'), n);
    });
  };
  if (c.impl === 'ours' || c.impl === 'hybrid' || c.impl === 'baseline') {
    const { fastifySessions }: typeof import('@org/session-fastify') = await import(
      c.impl === 'baseline' ? `${BASELINE}/fastify/src/index.ts` : '@org/session-fastify'
    );
    const ours = await ourSessions(c);
    await app.register(fastifySessions, { manager: ours.manager, hybrid: ours.hybrid });
    app.get('/hello', async (request) => reply(request.session?.userId));
    app.get('/write', async (request) => {
      if (!request.session) return reply(null);
      return reply(request.session.userId, await ours.write(request.session));
    });
    cookies = ours.cookies;
    cleanup = ours.close;
  } else if (c.impl === 'fastify-session') {
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
    peerRoutes((request) => (request as { session: Session }).session);
    cleanup = async () => redis?.close();
  } else if (c.impl === 'secure-session') {
    const { default: secureSession } = await import('@fastify/secure-session');
    await app.register(secureSession, {
      key: Buffer.from(crypto.getRandomValues(new Uint8Array(32))),
      cookieName: 'sealed',
      cookie: { path: '/', httpOnly: true, secure: false, sameSite: 'lax', maxAge: 86_400 },
    });
    peerRoutes((request) => (request as { session: Session }).session);
  } else {
    // Ours validates in a callback onRequest hook: the empty one is its floor.
    if (c.impl === 'noop') app.addHook('onRequest', (_request, _reply, done) => done());
    app.get('/hello', async () => reply(USER));
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { port: (app.server.address() as { port: number }).port, cookies, cleanup };
}

async function serveHono(c: Case): Promise<Served> {
  const { Hono } = await import('hono');
  const { serve } = await import('@hono/node-server');
  const app = new Hono();
  let cookies: string[] = [];
  let cleanup = async () => {};
  if (c.impl === 'ours' || c.impl === 'hybrid') {
    const { honoSessions } = await import('@org/session-hono');
    const { getConnInfo } = await import('@hono/node-server/conninfo');
    const ours = await ourSessions(c);
    app.use(honoSessions(ours.manager, { hybrid: ours.hybrid, getConnInfo }).middleware);
    app.get('/hello', (ctx) => ctx.json(reply(ctx.var.session?.userId)));
    app.get('/write', async (ctx) => {
      const session = ctx.var.session;
      if (!session) return ctx.json(reply(null));
      return ctx.json(reply(session.userId, await ours.write(session)));
    });
    cookies = ours.cookies;
    cleanup = ours.close;
  } else if (c.impl === 'hono-sessions') {
    const { MemoryStore, sessionMiddleware } = await import('hono-sessions');
    // As its README sets it up: an encrypted session-id cookie over its in-memory store.
    app.use(
      sessionMiddleware({
        store: new MemoryStore(),
        encryptionKey: SECRET,
        expireAfterSeconds: 86_400,
        cookieOptions: { sameSite: 'Lax', path: '/', httpOnly: true },
      }),
    );
    type PeerSession = { get(key: string): unknown; set(key: string, value: unknown): void };
    const peer = (ctx: { get(key: never): unknown }) => ctx.get('session' as never) as PeerSession;
    app.post('/login', (ctx) => {
      peer(ctx).set('user', USER);
      peer(ctx).set('n', 0);
      return ctx.json({ ok: true });
    });
    app.get('/hello', (ctx) => ctx.json(reply(peer(ctx).get('user'))));
    app.get('/write', (ctx) => {
      const s = peer(ctx);
      if (typeof s.get('user') !== 'string') return ctx.json(reply(null));
      const n = ((s.get('n') as number | undefined) ?? 0) + 1;
      s.set('n', n);
      return ctx.json(reply(s.get('user'), n));
    });
  } else {
    if (c.impl === 'noop') app.use(async (_ctx, next) => next());
    app.get('/hello', (ctx) => ctx.json(reply(USER)));
  }
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
  });
  return { port: (server.address() as { port: number }).port, cookies, cleanup };
}

/** Real hybrid-mode cookies, for a bare route's requests to carry. */
async function hybridCookies(c: Case): Promise<string[]> {
  const ours = await ourSessions({ ...c, impl: 'hybrid' });
  await ours.close();
  return ours.cookies;
}

/** The peers' cookies come from real logins, one per connection, as browsers would get them. */
async function loginCookies(port: number, path = '/login'): Promise<string[]> {
  const cookies: string[] = [];
  for (let i = 0; i < CONNECTIONS; i++) {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST' });
    const lines = res.headers.getSetCookie();
    if (!res.ok || lines.length === 0) throw new Error(`the login route ${path} set no cookie (${res.status})`);
    cookies.push(lines.map((line) => line.split(';')[0]).join('; '));
  }
  return cookies;
}

async function runChild(spec: string): Promise<void> {
  const c = JSON.parse(spec) as Case;
  // Exit with the parent, and in any case after a while: never a stray server.
  const ttl = setTimeout(() => process.exit(0), 30 * 60_000);
  ttl.unref();
  process.stdin.on('end', () => process.exit(0)).resume();
  try {
    const served =
      c.framework === 'hono'
        ? await serveHono(c)
        : c.framework === 'express'
          ? await serveExpress(c)
          : await serveFastify(c);
    const isPeer = roleOf(c) === 'peer';
    const cookies = isPeer
      ? await loginCookies(served.port)
      : c.impl === 'bare-cookies'
        ? await hybridCookies(c)
        : served.cookies;
    process.on('SIGTERM', () => {
      served.cleanup().finally(() => process.exit(0));
    });
    process.stdout.write(`${JSON.stringify({ port: served.port, cookies } satisfies Ready)}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ error: (error as Error).message })}\n`);
    process.exit(0);
  }
}

// ---------------------------------------------------------------------------------------------
// Parent: load generation and report.
// ---------------------------------------------------------------------------------------------

interface Measured {
  rps: number;
  cpuUsPerRequest: number;
  p50: number;
  p99: number;
}

interface Running {
  c: Case;
  /** The server's process; none for a case skipped before one started. */
  child: ChildProcess | null;
  ready: Ready | null;
  skipped?: string;
  rounds: Measured[];
  /** Run after the server is stopped (a Next server's Redis keys). */
  cleanup?: () => Promise<void>;
}

const clockTicksPerSecond = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU time of a process in seconds, from /proc (Linux): the sum over its threads of the
 * scheduler's run time (nanoseconds, so short rounds are not rounded to clock ticks); utime +
 * stime (in ticks) where schedstat is missing.
 */
function cpuSeconds(pid: number): number {
  try {
    let ns = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // A thread that ended between the listing and the read.
      }
    }
    if (ns > 0) return ns / 1e9;
  } catch {}
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
}

/** Every CPU, for `taskset -c` (this process may be pinned to one when servers start). */
const everyCpu = `0-${cpus().length - 1}`;

/** Pins a started server, every thread of it, to CPU 0 (the load generator has CPU 1). */
function pinServer(child: ChildProcess | null): void {
  if (hasTaskset && child?.pid) execFileSync('taskset', ['-a', '-pc', '0', String(child.pid)], { stdio: 'ignore' });
}

const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** The built Next app of this run (next.ts), made before the first Next server starts. */
let nextAppDir: string | undefined;

/** A Next case: `next start` of the shared build; its browsers log in over HTTP, as with the peers. */
async function startNext(c: Case): Promise<Running> {
  if (!nextAppDir) throw new Error('the Next app is not built');
  const store = c.store === 'redis' ? 'redis' : 'memory';
  const redisPrefix = `bench-http-next:${crypto.randomUUID().slice(0, 8)}:`;
  if (store === 'redis') {
    try {
      const { Redis } = await import('ioredis');
      const probe = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await probe.connect().finally(() => probe.disconnect());
    } catch (error) {
      return { c, child: null, ready: null, skipped: `Redis at ${REDIS_URL}: ${(error as Error).message}`, rounds: [] };
    }
  }
  const { child, port } = await startNextServer(nextAppDir, {
    store,
    redisUrl: REDIS_URL,
    redisPrefix,
    secret: SECRET,
    cpus: hasTaskset ? everyCpu : undefined,
  });
  const running: Running = {
    c,
    child,
    ready: null,
    rounds: [],
    cleanup: store === 'redis' ? () => deleteRedisKeys(REDIS_URL, redisPrefix) : undefined,
  };
  try {
    const login =
      c.impl === 'iron-session' ? '/iron/login' : c.impl === 'bare' || c.impl === 'noop' ? null : '/ours/login';
    const ready: Ready = { port, cookies: login ? await loginCookies(port, login) : [] };
    await verify(c, ready);
    running.ready = ready;
    return running;
  } catch (error) {
    await stop(running);
    throw error;
  }
}

async function start(c: Case): Promise<Running> {
  if (c.framework === 'next') return startNext(c);
  const file = fileURLToPath(import.meta.url);
  const args = [...process.execArgv, file];
  const env = { ...process.env, NODE_ENV: 'production', HTTP_BENCH_CHILD: JSON.stringify(c) };
  const child = hasTaskset
    ? spawn('taskset', ['-c', everyCpu, process.execPath, ...args], { env, stdio: ['pipe', 'pipe', 'inherit'] })
    : spawn(process.execPath, args, { env, stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    // Servers start a few at a time on one CPU, each compiling its TypeScript: give them time.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${c.label}: server did not start in 180 s`));
    }, 180_000);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', (text) => {
      clearTimeout(timer);
      resolve(text);
    });
    child.once('exit', () => reject(new Error(`${c.label}: server exited before it was ready`)));
  });
  const message = JSON.parse(line) as Ready & { error?: string };
  if (message.error) return { c, child, ready: null, skipped: message.error, rounds: [] };
  try {
    await verify(c, message);
  } catch (error) {
    child.kill('SIGTERM');
    throw error;
  }
  return { c, child, ready: message, rounds: [] };
}

function routeOf(c: Case): string {
  const route = c.op === 'write' ? '/write' : '/hello';
  if (c.framework !== 'next') return route;
  // One Next app serves every case, each under its own path.
  if (c.impl === 'proxy') return '/renew/hello';
  if (c.impl === 'noop') return '/noop/hello';
  return `/${c.impl === 'bare' ? 'bare' : c.impl === 'iron-session' ? 'iron' : 'ours'}${route}`;
}

/** Without a cookie the route knows no user; with one it does; a write's counter goes up. */
async function verify(c: Case, ready: Ready): Promise<void> {
  const url = `http://127.0.0.1:${ready.port}${routeOf(c)}`;
  const anonymous = (await (await fetch(url)).json()) as { user: string | null };
  let cookie = ready.cookies[0] ?? '';
  const first = await fetch(url, { headers: cookie ? { cookie } : {} });
  const known = (await first.json()) as { user: string | null; n?: number };
  const expectAnonymous = c.impl === 'bare' || c.impl === 'noop' || c.impl === 'bare-cookies' ? USER : null;
  let counted = true;
  if (c.op === 'write') {
    // A sealed-cookie session carries the counter in the cookie: send back the one just set.
    const reset = first.headers.getSetCookie().find((line) => line.startsWith(cookie.split('=')[0] as string));
    if (reset && (c.store === 'cookie' || c.impl === 'hono-sessions')) cookie = reset.split(';')[0] as string;
    const again = (await (await fetch(url, { headers: { cookie } })).json()) as { n?: number };
    counted = typeof known.n === 'number' && again.n === known.n + 1;
  }
  if (anonymous.user !== expectAnonymous || known.user !== USER || !counted) {
    throw new Error(
      `${c.label}: the route does not behave as a session ${c.op} (${JSON.stringify({ anonymous, known })})`,
    );
  }
}

async function load(running: Running, seconds: number): Promise<Measured> {
  const ready = running.ready as Ready;
  const pid = running.child?.pid as number;
  const cookies = ready.cookies;
  let next = 0;
  const cpuBefore = cpuSeconds(pid);
  const result = await autocannon({
    url: `http://127.0.0.1:${ready.port}${routeOf(running.c)}`,
    connections: CONNECTIONS,
    duration: seconds,
    // Each connection is one browser: its own session cookie.
    setupClient: (client: { setHeaders(headers: Record<string, string>): void }) => {
      const cookie = cookies[next++ % Math.max(1, cookies.length)];
      if (cookie) client.setHeaders({ cookie });
    },
  } as autocannon.Options);
  const cpu = cpuSeconds(pid) - cpuBefore;
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(
      `${running.c.label}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`,
    );
  }
  if (result.requests.total === 0) {
    // Nothing completed in the round (a machine too loaded for so short a round): no figures,
    // which the medians leave out, rather than CPU divided by nothing.
    console.log(`(${running.c.label}: no request completed in ${seconds} s; round left out)`);
    return { rps: Number.NaN, cpuUsPerRequest: Number.NaN, p50: Number.NaN, p99: Number.NaN };
  }
  return {
    rps: result.requests.average,
    cpuUsPerRequest: (cpu * 1e6) / Math.max(1, result.requests.total),
    p50: result.latency.p50,
    p99: result.latency.p99,
  };
}

async function stop(running: Running): Promise<void> {
  const child = running.child;
  if (child && child.exitCode === null && child.signalCode === null) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      // A Next server has nothing to close (its Redis keys are deleted from here): killed at once.
      child.kill(running.c.framework === 'next' ? 'SIGKILL' : 'SIGTERM');
    });
  }
  await running.cleanup?.();
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

/** Which peers each of our cases is compared with: the same operation on a comparable store. */
function comparablePeer(ours: Case, peer: Case): boolean {
  if (peer.op !== ours.op) return false;
  // No peer measured here validates in proxy.ts: its floor is the empty proxy's row, not a route handler's.
  if (ours.impl === 'proxy') return false;
  if (ours.store === 'redis') return peer.store === 'redis';
  return peer.store !== 'redis';
}

async function measureFramework(framework: Framework): Promise<FrameworkResults> {
  const running: Running[] = [];
  try {
    // One `next build` for every Next case (and reused by later runs while its inputs are unchanged).
    if (framework === 'next') nextAppDir ??= await buildNextApp();
    // Started four at a time on both CPUs (each compiles its TypeScript on its own).
    const list = cases(framework);
    for (let i = 0; i < list.length; i += 4) {
      const started = await Promise.allSettled(list.slice(i, i + 4).map(start));
      for (const outcome of started) if (outcome.status === 'fulfilled') running.push(outcome.value);
      const failed = started.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
      if (failed) throw failed.reason;
    }
    const live = running.filter((r) => r.ready);
    for (const r of live) pinServer(r.child);
    for (const r of live) await load(r, framework === 'next' ? NEXT_WARMUP_SECONDS : WARMUP_SECONDS);
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? live : [...live].reverse();
      for (const r of order) r.rounds.push(await load(r, SECONDS));
    }
  } finally {
    await Promise.all(running.map(stop));
  }

  const bare = running.find((r) => r.c.impl === 'bare') as Running;
  const rows: HttpRow[] = running.map((r) => {
    if (r.rounds.length === 0)
      return { label: r.c.label, role: roleOf(r.c), op: r.c.op, skipped: r.skipped ?? 'not run' };
    const added = median(r.rounds.map((m, i) => m.cpuUsPerRequest - (bare.rounds[i] as Measured).cpuUsPerRequest));
    return {
      label: r.c.label,
      role: roleOf(r.c),
      op: r.c.op,
      rps: median(r.rounds.map((m) => m.rps)),
      p50: median(r.rounds.map((m) => m.p50)),
      p99: median(r.rounds.map((m) => m.p99)),
      cpuUs: median(r.rounds.map((m) => m.cpuUsPerRequest)),
      addedUs: r.c.impl === 'bare' ? 0 : added,
    };
  });
  // Ours against the best (cheapest) comparable peer of this run.
  for (const [i, r] of running.entries()) {
    const row = rows[i] as HttpRow;
    if (row.role !== 'ours' || row.addedUs === undefined) continue;
    const candidates = running
      .map((p, j) => ({ p, row: rows[j] as HttpRow }))
      .filter(
        ({ p, row: peerRow }) => peerRow.role === 'peer' && peerRow.addedUs !== undefined && comparablePeer(r.c, p.c),
      );
    const best = candidates.sort((a, b) => (a.row.addedUs as number) - (b.row.addedUs as number))[0];
    // A figure below the floor is noise (a loaded round): no ratio is better than a meaningless one.
    if (best && (best.row.addedUs as number) > 0 && (row.addedUs as number) > 0) {
      row.bestPeer = best.row.label;
      row.vsBestPeer = (row.addedUs as number) / Math.max(0.01, best.row.addedUs as number);
    }
  }
  const title = `${frameworkTitle[framework]}: ${CONNECTIONS} connections (one session each), median of ${ROUNDS} interleaved round(s) x ${SECONDS} s`;
  console.log(`\n### HTTP: ${title}\n`);
  console.log(httpTable(rows));
  const oursMemory = rows.find((row) => row.label === 'ours, memory');
  // The 5 us read target is for Express, Fastify and Hono; Next is held to its peer.
  if (oursMemory?.addedUs !== undefined && framework !== 'next') {
    printTarget(`${framework}: CPU added by a read, memory store`, oursMemory.addedUs, 5, ' us');
  }
  for (const row of rows) {
    if (row.role === 'ours' && row.vsBestPeer !== undefined) {
      printTarget(`${framework}: ${row.label}, added CPU / best peer's (${row.bestPeer})`, row.vsBestPeer, 0.5);
    }
  }
  return {
    framework,
    title: frameworkTitle[framework],
    subtitle: title,
    bareCpuUs: bare.rounds.length ? median(bare.rounds.map((m) => m.cpuUsPerRequest)) : Number.NaN,
    rows,
  };
}

function roleOf(c: Case): HttpRow['role'] {
  if (c.impl === 'bare' || c.impl === 'noop' || c.impl === 'bare-cookies') return 'floor';
  return c.impl === 'ours' || c.impl === 'baseline' || c.impl === 'hybrid' || c.impl === 'proxy' ? 'ours' : 'peer';
}

/**
 * The adapters' whole share of a request, measured in-process with no HTTP around it: open the
 * request context for a valid session cookie and compute the response headers.
 */
async function measureInProcess(): Promise<string> {
  const { MemoryStore, createSessionManager } = await import('@org/session-core');
  const { createRequestContexts } = await import('@org/session-core/adapter');
  const manager = createSessionManager({ store: new MemoryStore() });
  const contexts = createRequestContexts({ manager });
  const { token } = await manager.create({ userId: USER, data: { role: 'member' } });
  const headers = {
    host: '127.0.0.1:3000',
    cookie: `theme=dark; ${manager.cookie.name}=${token}`,
    'user-agent': 'autocannon',
    accept: '*/*',
  };
  const input = {
    cookieHeader: headers.cookie,
    method: 'GET',
    headers,
    ip: '127.0.0.1',
    userAgent: headers['user-agent'],
    protocol: 'http',
    host: headers.host,
    peerAddress: '127.0.0.1',
  };
  const options = QUICK ? { warmupMs: 100, timeMs: 300 } : {};
  const read = await bench(
    'request context: open + response headers (valid session)',
    async () => {
      const context = await contexts.open(input);
      return context.responseHeaders(undefined) ?? context.session;
    },
    options,
  );
  const anonymous = await bench(
    'request context: open (no cookie)',
    async () => (await contexts.open({ ...input, cookieHeader: undefined })).session,
    options,
  );
  return printTable('HTTP: our read path in-process (no server, no network)', [read, anonymous]);
}

export interface HttpSectionResult {
  markdown: string;
  frameworks: FrameworkResults[];
}

export async function run(): Promise<HttpSectionResult> {
  const parts = [await measureInProcess()];
  const frameworks: FrameworkResults[] = [];
  const only = process.env.HTTP_BENCH_FRAMEWORKS?.split(',');
  // Built before this process is pinned to one CPU (the build would inherit the pinning). A quick
  // run started it already (run.ts) and waits for it only when Next's turn comes.
  if (!QUICK && (!only || only.includes('next'))) nextAppDir = await buildNextApp();
  const unpin = pinSelf();
  try {
    for (const framework of ['express', 'fastify', 'hono', 'next'] as const) {
      if (!only || only.includes(framework)) frameworks.push(await measureFramework(framework));
    }
  } finally {
    unpin();
  }
  for (const f of frameworks) parts.push(`### HTTP: ${f.subtitle}\n\n${httpTable(f.rows)}`);
  return { markdown: parts.join('\n\n'), frameworks };
}

if (process.env.HTTP_BENCH_CHILD) await runChild(process.env.HTTP_BENCH_CHILD);

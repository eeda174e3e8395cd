// One soak server: an Express, Fastify or Hono app on the session library, run as a child process by
// the orchestrator (node --expose-gc). It prints `{"port":N}` on stdout once it listens.
import {
  createSessionManager,
  type SessionData,
  SessionError,
  type SessionManager,
  type SessionStore,
} from '@org/session-core';
import { createHybridSessions, createJwtKeySet, createSessionJwt, importJwtKey } from '@org/session-core/jwt';
import { createRefreshTokens, type RefreshTokens } from '@org/session-core/refresh';
import type { SessionEnv } from '@org/session-hono';
import { SERVER_CONFIG_ENV, type ServerConfig } from './config.js';

function readConfig(): ServerConfig {
  const raw = process.env[SERVER_CONFIG_ENV];
  if (!raw) throw new Error(`${SERVER_CONFIG_ENV} is not set`);
  return JSON.parse(raw) as ServerConfig;
}
const config = readConfig();

/** The session a strict guard let through (it never lets a request without one through). */
function guarded<S>(session: S | null | undefined): S {
  if (!session) throw new SessionError('UNAUTHENTICATED');
  return session;
}

async function openStore(): Promise<SessionStore> {
  const target = config.store;
  switch (target.kind) {
    case 'redis': {
      const { RedisStore } = await import('@org/session-store-redis');
      return new RedisStore({ url: target.url, prefix: target.prefix });
    }
    case 'redis-cluster': {
      const { RedisStore } = await import('@org/session-store-redis');
      return new RedisStore({ cluster: { nodes: target.nodes }, prefix: target.prefix });
    }
    case 'postgres': {
      const { PostgresStore } = await import('@org/session-store-postgres');
      return new PostgresStore({
        connectionString: target.url,
        schema: target.schema,
        poolConfig: { application_name: target.appName, max: 20 },
      });
    }
    case 'sqlite': {
      const { SqliteStore } = await import('@org/session-store-sqlite');
      // A short busy timeout: better-sqlite3 waits synchronously, blocking every request meanwhile.
      return new SqliteStore({ path: target.path, busyTimeoutMs: 50 });
    }
  }
}

/** Everything the routes need, whatever the framework. */
interface Kit {
  manager: SessionManager;
  refresh: RefreshTokens;
  hybrid: ReturnType<typeof createHybridSessions<SessionData>>;
}

async function buildKit(): Promise<Kit> {
  const store = await openStore();
  const manager = createSessionManager({
    store,
    policy: { idleTimeoutMs: 30 * 60_000, absoluteTimeoutMs: 12 * 60 * 60_000 },
    mode: 'production',
  });
  const key = await importJwtKey({ alg: 'HS256', key: Buffer.from(config.jwtKey, 'base64url'), kid: 'soak' });
  const jwt = createSessionJwt({
    manager,
    keys: createJwtKeySet({ active: key }),
    issuer: 'http://soak.local',
    audience: 'soak',
    ttlSeconds: config.jwtTtlSeconds,
    clockToleranceSeconds: config.jwtToleranceSeconds,
  });
  return {
    manager,
    hybrid: createHybridSessions({ jwt }),
    refresh: createRefreshTokens({
      jwt,
      secret: Buffer.from(config.refreshSecret, 'base64url'),
      graceMs: config.graceMs,
    }),
  };
}

/** After a full GC: what the audit compares before and after the load. */
function memory() {
  (globalThis as { gc?: () => void }).gc?.();
  const usage = process.memoryUsage();
  return { rss: usage.rss, heapUsed: usage.heapUsed };
}

async function startExpress(kit: Kit): Promise<number> {
  const { default: express } = await import('express');
  const { expressSessions } = await import('@org/session-express');
  const auth = expressSessions(kit.manager, { hybrid: kit.hybrid });
  const app = express();
  app.use(express.json(), auth.middleware);
  const strict = auth.requireSession({ strict: true });
  app.post('/login', async (req, res) => {
    const session = await auth.login(req, res, { userId: String(req.body.userId) });
    res.json({ id: session.id });
  });
  app.get('/me', strict, (req, res) => res.json({ id: req.session?.id }));
  app.get('/hybrid', auth.requireSession(), (req, res) => res.json({ id: req.session?.id }));
  app.post('/touch', strict, async (req, res) => res.json({ id: (await auth.extend(req, res)).id }));
  app.post('/rotate', strict, async (req, res) => res.json({ id: (await auth.rotate(req, res)).id }));
  app.post('/logout', strict, async (req, res) => {
    await auth.logout(req, res);
    res.json({ ok: true });
  });
  app.post('/logout-others', strict, async (req, res) => {
    const session = guarded(req.session);
    res.json({ revoked: await kit.manager.revokeAll(session.userId, { except: session.id }) });
  });
  app.post('/token', strict, async (req, res) => {
    const pair = await kit.refresh.issue(guarded(req.session));
    res.json({ id: pair.session.id, refreshToken: pair.refreshToken });
  });
  app.post('/token/refresh', async (req, res) => {
    const pair = await kit.refresh.refresh(req.body.refreshToken);
    res.json({ id: pair.session.id, refreshToken: pair.refreshToken });
  });
  app.get('/_soak/memory', (_req, res) => res.json(memory()));
  app.use(auth.errorHandler);
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
    server.keepAliveTimeout = 30_000;
  });
}

async function startFastify(kit: Kit): Promise<number> {
  const { default: Fastify } = await import('fastify');
  const { fastifySessions } = await import('@org/session-fastify');
  const app = Fastify({ keepAliveTimeout: 30_000 });
  await app.register(fastifySessions, { manager: kit.manager, hybrid: kit.hybrid });
  const sessions = app.sessions;
  const strict = { preHandler: sessions.requireSession({ strict: true }) };
  app.post<{ Body: { userId: string } }>('/login', async (request, reply) => {
    const session = await sessions.login(request, reply, { userId: String(request.body.userId) });
    return { id: session.id };
  });
  app.get('/me', strict, async (request) => ({ id: request.session?.id }));
  app.get('/hybrid', { preHandler: sessions.requireSession() }, async (request) => ({ id: request.session?.id }));
  app.post('/touch', strict, async (request, reply) => ({ id: (await sessions.extend(request, reply)).id }));
  app.post('/rotate', strict, async (request, reply) => ({ id: (await sessions.rotate(request, reply)).id }));
  app.post('/logout', strict, async (request, reply) => {
    await sessions.logout(request, reply);
    return { ok: true };
  });
  app.post('/logout-others', strict, async (request) => {
    const session = guarded(request.session);
    return { revoked: await kit.manager.revokeAll(session.userId, { except: session.id }) };
  });
  app.post('/token', strict, async (request) => {
    const pair = await kit.refresh.issue(guarded(request.session));
    return { id: pair.session.id, refreshToken: pair.refreshToken };
  });
  app.post<{ Body: { refreshToken: string } }>('/token/refresh', async (request) => {
    const pair = await kit.refresh.refresh(request.body.refreshToken);
    return { id: pair.session.id, refreshToken: pair.refreshToken };
  });
  app.get('/_soak/memory', async () => memory());
  await app.listen({ port: 0, host: '127.0.0.1' });
  return (app.server.address() as { port: number }).port;
}

/** Hono on @hono/node-server, as a Node deployment of the Hono adapter runs it. */
async function startHono(kit: Kit): Promise<number> {
  const { Hono } = await import('hono');
  const { serve } = await import('@hono/node-server');
  const { getConnInfo } = await import('@hono/node-server/conninfo');
  const { honoSessions } = await import('@org/session-hono');
  // The peer address tells core that plain http comes from loopback (production mode).
  const auth = honoSessions(kit.manager, { hybrid: kit.hybrid, getConnInfo });
  const app = new Hono<SessionEnv>();
  app.use(auth.middleware);
  const strict = auth.requireSession({ strict: true });
  app.post('/login', async (c) => {
    const body = (await c.req.json()) as { userId: string };
    const session = await auth.login(c, { userId: String(body.userId) });
    return c.json({ id: session.id });
  });
  app.get('/me', strict, (c) => c.json({ id: c.var.session?.id }));
  app.get('/hybrid', auth.requireSession(), (c) => c.json({ id: c.var.session?.id }));
  app.post('/touch', strict, async (c) => c.json({ id: (await auth.extend(c)).id }));
  app.post('/rotate', strict, async (c) => c.json({ id: (await auth.rotate(c)).id }));
  app.post('/logout', strict, async (c) => {
    await auth.logout(c);
    return c.json({ ok: true });
  });
  app.post('/logout-others', strict, async (c) => {
    const session = guarded(c.var.session);
    return c.json({ revoked: await kit.manager.revokeAll(session.userId, { except: session.id }) });
  });
  app.post('/token', strict, async (c) => {
    const pair = await kit.refresh.issue(guarded(c.var.session));
    return c.json({ id: pair.session.id, refreshToken: pair.refreshToken });
  });
  app.post('/token/refresh', async (c) => {
    const body = (await c.req.json()) as { refreshToken: string };
    const pair = await kit.refresh.refresh(body.refreshToken);
    return c.json({ id: pair.session.id, refreshToken: pair.refreshToken });
  });
  app.get('/_soak/memory', (c) => c.json(memory()));
  app.onError(auth.errorHandler);
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port));
    server.once('error', reject);
    (server as import('node:http').Server).keepAliveTimeout = 30_000;
  });
}

/**
 * Investigation aid (issue 15), off unless SOAK_HEAP_TRACE_DIR is set: every SOAK_HEAP_TRACE_MS
 * (default 20 s) append heapUsed after a full GC to `<dir>/<adapter>-<pid>.jsonl`, and write a heap
 * snapshot at each second count listed in SOAK_HEAP_SNAPSHOT_AT (e.g. `60,240`), to tell a leak
 * from warm-up by what grows between two snapshots.
 */
async function startHeapTrace(): Promise<void> {
  const dir = process.env.SOAK_HEAP_TRACE_DIR;
  if (!dir) return;
  const { appendFileSync, mkdirSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { writeHeapSnapshot } = await import('node:v8');
  mkdirSync(dir, { recursive: true });
  const name = `${config.adapter}-${process.pid}`;
  const startedAt = Date.now();
  const gc = (globalThis as { gc?: () => void }).gc;
  const everyMs = Number(process.env.SOAK_HEAP_TRACE_MS ?? 20_000);
  setInterval(() => {
    gc?.();
    gc?.();
    const { heapUsed, rss } = process.memoryUsage();
    const line = { s: Math.round((Date.now() - startedAt) / 1000), heapUsed, rss };
    appendFileSync(join(dir, `${name}.jsonl`), `${JSON.stringify(line)}\n`);
  }, everyMs).unref();
  for (const at of (process.env.SOAK_HEAP_SNAPSHOT_AT ?? '').split(',').filter(Boolean)) {
    setTimeout(() => {
      gc?.();
      writeHeapSnapshot(join(dir, `${name}-${at}s.heapsnapshot`));
    }, Number(at) * 1_000).unref();
  }
}

const starters = { express: startExpress, fastify: startFastify, hono: startHono } as const;
await startHeapTrace();
const kit = await buildKit();
const port = await starters[config.adapter](kit);
process.stdout.write(`${JSON.stringify({ port })}\n`);
process.on('SIGTERM', () => {
  kit.manager.close().finally(() => process.exit(0));
});

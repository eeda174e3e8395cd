import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request, type Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSessionManager, type SessionManager } from '@org/session-core';
import { PostgresStore } from '@org/session-store-postgres';
import { RedisStore } from '@org/session-store-redis';
import { Redis } from 'ioredis';
import pg from 'pg';

/** True when a missing service must fail the run instead of skipping it. */
export const inCI = process.env.CI === 'true';

/** A loopback port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Polls `check` every `intervalMs`, at most `attempts` times; true as soon as it holds. */
export async function waitFor(check: () => Promise<boolean>, attempts = 50, intervalMs = 100): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (await check().catch(() => false)) return true;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return false;
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP/1.1 request over loopback, with exactly the headers given (no agent pooling). */
export function httpRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string | string[]>; body?: string } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The upstream service behind nginx: answers every request with the headers it received. */
export async function startEchoUpstream(): Promise<{ port: number; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server: Server = createHttpServer({ keepAlive: true }, (req, res) => {
    hits++;
    const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('no address');
  return {
    port: address.port,
    hits: () => hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Where nginx is, if it is installed (Debian puts it in /usr/sbin). */
export function findNginx(): string | null {
  for (const candidate of ['nginx', '/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']) {
    if (spawnSync(candidate, ['-v'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  return null;
}

/**
 * The README's nginx example (its first `nginx` code block), with the ports of this run: the
 * tests run exactly the configuration the README shows.
 */
export function nginxServerConfig(options: { listenPort: number; sidecarPort: number; upstreamPort: number }): string {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const block = /```nginx\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error('the README has no nginx block');
  const replace = (text: string, from: string, to: string) => {
    if (!text.includes(from)) throw new Error(`the README's nginx block lacks "${from}"`);
    return text.replace(from, to);
  };
  let conf = replace(block, 'server 127.0.0.1:4180;', `server 127.0.0.1:${options.sidecarPort};`);
  conf = replace(conf, 'server 127.0.0.1:8080;', `server 127.0.0.1:${options.upstreamPort};`);
  return replace(conf, 'listen 80;', `listen 127.0.0.1:${options.listenPort};`);
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // The group is gone already.
  }
}

export interface RunningNginx {
  port: number;
  dir: string;
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * Starts nginx in the foreground (`-p <dir> -c <conf> -g 'daemon off;'`) on a spare loopback port
 * with a generated configuration in a temp dir; `stop()` kills it and removes the dir.
 */
export async function startNginx(
  binary: string,
  options: { sidecarPort: number; upstreamPort: number },
): Promise<RunningNginx> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sidecar-nginx-'));
  for (const sub of ['logs', 'tmp']) mkdirSync(join(dir, sub));
  const conf = `worker_processes 1;
error_log ${dir}/logs/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
${nginxServerConfig({ listenPort: port, ...options })}
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  // Its own process group: the master forks a worker, and a kill of the group reaches both.
  const child: ChildProcess = spawn(binary, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const errorLog = () => {
    try {
      return stderr + readFileSync(join(dir, 'logs', 'error.log'), 'utf8');
    } catch {
      return stderr;
    }
  };
  const stop = async () => {
    // SIGTERM: the master stops its worker and exits. A SIGKILL of the master alone would leave
    // the worker running, orphaned; the group kill is the fallback that cannot miss it.
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => killGroup(child), 3000);
      await exited;
      clearTimeout(timer);
    }
    killGroup(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const up = await waitFor(
    async () => {
      if (child.exitCode !== null) return false;
      const answer = await httpRequest(`http://127.0.0.1:${port}/_nginx_probe_`);
      return answer.status > 0;
    },
    50,
    100,
  );
  if (!up) {
    const log = errorLog();
    await stop();
    throw new Error(`nginx did not start: ${log}`);
  }
  return { port, dir, errorLog, stop };
}

/** Whether the `redis-server` binary can be started here. */
export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export interface PrivateRedis {
  port: number;
  url: string;
  start(): Promise<void>;
  /** SIGKILL: what a crash looks like to clients. */
  kill(): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * A private `redis-server` on a spare loopback port, appending and fsyncing every write to its
 * temp dir, so a kill and a restart keep the sessions (as store-redis's own outage tests do).
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `sidecar-redis-${port}-`));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
  args.push('--appendonly', 'yes', '--appendfsync', 'always');
  let child: ChildProcess | null = null;
  const pong = async () => {
    const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      return (await client.ping()) === 'PONG';
    } finally {
      client.disconnect();
    }
  };
  const redis: PrivateRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = spawn('redis-server', args, { stdio: 'ignore' });
      if (!(await waitFor(pong, 50, 100))) throw new Error(`redis-server on port ${port} did not start`);
    },
    async kill() {
      const running = child;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((r) => running.once('exit', r));
      running.kill('SIGKILL');
      await exited;
      child = null;
    },
    async destroy() {
      await redis.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await redis.start();
  return redis;
}

/** A temp dir for key and config files, removed by `remove()`. */
export function tempDir(label: string): { path: string; file(name: string, content: string): string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `sidecar-${label}-`));
  return {
    path,
    file(name, content) {
      const file = join(path, name);
      writeFileSync(file, content, { mode: 0o600 });
      return file;
    },
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

/** The `name=value` part of a Set-Cookie line, for a Cookie header. */
export function cookiePair(setCookie: string): string {
  return setCookie.split(';')[0] as string;
}

/**
 * Whether a service the tests need is there: under CI=true a missing one fails the file (throws),
 * elsewhere its tests are skipped with a warning. `missing` says what is missing, null if nothing.
 */
export function serviceAvailable(missing: string | null, skipped: string): boolean {
  if (missing === null) return true;
  if (inCI) throw new Error(`${missing} (required under CI=true)`);
  console.warn(`${missing}: ${skipped} are skipped`);
  return false;
}

/** The shared Redis of the test machine (pub/sub tests use it; outage tests start a private one). */
export const SHARED_REDIS_URL = 'redis://127.0.0.1:6379';

/** Why Redis at `url` does not answer PING, or null when it does. */
export async function redisUnreachable(url = SHARED_REDIS_URL): Promise<string | null> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG' ? null : `Redis at ${url} did not answer PING`;
  } catch (error) {
    return `Redis at ${url} is unreachable (${error instanceof Error ? error.message : String(error)})`;
  } finally {
    probe.disconnect();
  }
}

/** The test machine's PostgreSQL (trust auth, database `test`). */
export const PG_URL = process.env.SESSION_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Why PostgreSQL at `url` does not answer a query, or null when it does. */
export async function postgresUnreachable(url = PG_URL): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return `PostgreSQL at ${url} is unreachable (${error instanceof Error ? error.message : String(error)})`;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * The auth server beside a sidecar under test: the store the sidecar reads (a private
 * redis-server, or a fresh schema of the test PostgreSQL) and the manager that logs users in and
 * out of it. `close()` closes the store and removes what was made (the server, the schema).
 */
export interface AuthServer<S> {
  store: S;
  manager: SessionManager;
  close(): Promise<void>;
}

/** A private redis-server (killable, for outage tests) with the auth server's store and manager on it. */
export async function startRedisAuthServer(): Promise<AuthServer<RedisStore> & { redis: PrivateRedis }> {
  const redis = await startPrivateRedis();
  const store = new RedisStore({ url: redis.url });
  return {
    redis,
    store,
    manager: createSessionManager({ store }),
    async close() {
      await store.close();
      await redis.destroy();
    },
  };
}

/** A schema of its own in the test PostgreSQL, migrated, with the auth server's store and manager on it. */
export async function startPostgresAuthServer(url = PG_URL): Promise<AuthServer<PostgresStore> & { schema: string }> {
  const schema = `sidecar_${randomBytes(5).toString('hex')}`;
  const store = new PostgresStore({ connectionString: url, schema });
  await store.migrate();
  return {
    schema,
    store,
    manager: createSessionManager({ store }),
    async close() {
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await admin.end();
        await store.close();
      }
    },
  };
}

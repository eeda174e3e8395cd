/**
 * Sidecar section: forward-auth decisions per second, and the latency the sidecar adds to a
 * request through nginx `auth_request`, next to nginx alone, in one run, for stateless mode (a
 * session JWT, verified once then served from the verified-token cache) and store mode (a session
 * cookie looked up in Redis on every request).
 *
 * One nginx (1 worker) with two locations: `/public/` proxies straight to the upstream (the
 * baseline), `/` is the README's auth_request configuration. The upstream (a bare node:http server
 * answering 200) and each sidecar (the real CLI, `--config`) run in their own processes. Each case:
 * a warm-up, then autocannon for SECONDS at 1 connection (latency: what one request pays) and at
 * 10 connections (throughput). Any non-2xx answer fails the case. Needs nginx and Redis at
 * REDIS_URL (default redis://127.0.0.1:6379); skipped with a note otherwise.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSessionManager, MemoryStore } from '@org/session-core';
import { createJwtKeySet, createSessionJwt, exportSigningJwk, generateSigningKey } from '@org/session-core/jwt';
import { RedisStore } from '@org/session-store-redis';
import autocannon from 'autocannon';

const SECONDS = Number(process.env.SIDECAR_BENCH_SECONDS ?? 3);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const root = fileURLToPath(new URL('../', import.meta.url));
const cli = join(root, 'packages/sidecar/src/cli.ts');

function findNginx(): string | null {
  for (const candidate of ['nginx', '/usr/sbin/nginx']) {
    if (spawnSync(candidate, ['-v'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  return null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('port'))));
    });
  });
}

async function waitListening(port: number, child: ChildProcess, label: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null) break;
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${label} did not start`);
}

const children: ChildProcess[] = [];
function start(command: string, args: string[], label: string): ChildProcess {
  // Own process groups: the cleanup kills nginx's worker with its master.
  const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.once('exit', (code) => {
    if (code !== 0 && code !== null) console.error(`${label} exited ${code}: ${stderr}`);
  });
  children.push(child);
  return child;
}

interface Throughput {
  rps: number;
}

interface Latency {
  mean: number;
  p50: number;
  p99: number;
  count: number;
}

async function throughput(url: string, headers: Record<string, string>): Promise<Throughput> {
  const result = await autocannon({ url, connections: 10, duration: SECONDS, headers });
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
  }
  return { rps: result.requests.average };
}

/**
 * One request at a time over one keep-alive connection, timed in microseconds with hrtime
 * (autocannon's histogram counts whole milliseconds). The client's own cost is the same in every
 * case, so differences between cases are what the server side adds.
 */
async function latency(url: string, headers: Record<string, string>): Promise<Latency> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const samples: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  try {
    while (performance.now() < end) {
      const t0 = process.hrtime.bigint();
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(url, { agent, headers }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
      samples.push(Number(process.hrtime.bigint() - t0) / 1000);
      if (status !== 200) throw new Error(`${url}: status ${status}`);
    }
  } finally {
    agent.destroy();
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(samples.length * q))] as number;
  return {
    mean: samples.reduce((a, b) => a + b, 0) / samples.length,
    p50: at(0.5),
    p99: at(0.99),
    count: samples.length,
  };
}

/** The README's nginx block with this run's ports, plus an unauthenticated `/public/` baseline. */
function nginxConfig(dir: string, ports: { listen: number; sidecar: number; upstream: number }): string {
  const readme = readFileSync(join(root, 'packages/sidecar/README.md'), 'utf8');
  const block = /```nginx\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error('the sidecar README has no nginx block');
  const server = block
    .replace('server 127.0.0.1:4180;', `server 127.0.0.1:${ports.sidecar};`)
    .replace('server 127.0.0.1:8080;', `server 127.0.0.1:${ports.upstream};`)
    .replace(
      'listen 80;',
      `listen 127.0.0.1:${ports.listen};
  location /public/ {
    proxy_pass http://app;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
  }`,
    );
  return `worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  # One client connection per autocannon connection for the whole run (default: closed after 1000).
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${server}
}
`;
}

const UPSTREAM = `const http = require('node:http');
http.createServer({ keepAlive: true }, (req, res) => { res.writeHead(200, { 'content-length': 2 }); res.end('ok'); })
  .listen(Number(process.argv[1]), '127.0.0.1');`;

export async function run(): Promise<void> {
  console.log('\n## Sidecar: forward auth through nginx auth_request');
  const nginx = findNginx();
  if (!nginx) {
    console.log('\nskipped: nginx is not installed');
    return;
  }
  const prefix = `bench-sidecar-${process.pid}:`;
  const store = new RedisStore({ url: REDIS_URL, prefix });
  const dir = mkdtempSync(join(tmpdir(), 'bench-sidecar-'));
  try {
    const manager = createSessionManager({ store });
    let cookie: string;
    try {
      const { cookies } = await manager.create({ userId: 'bench-user', data: { role: 'admin' } });
      cookie = (cookies[0] as string).split(';')[0] as string;
    } catch {
      console.log(`\nskipped: Redis at ${REDIS_URL} does not answer`);
      return;
    }
    const key = await generateSigningKey('ES256', { extractable: true });
    const jwts = createSessionJwt({
      manager: createSessionManager({ store: new MemoryStore() }),
      keys: createJwtKeySet({ active: key }),
      issuer: 'https://auth.bench',
      audience: 'app',
      claims: () => ({ role: 'admin' }),
    });
    const jwtManager = jwts.manager;
    const { session } = await jwtManager.create({ userId: 'bench-user' });
    const bearer = `Bearer ${(await jwts.issue(session)).token}`;
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwts.jwks()));
    writeFileSync(join(dir, 'signing.json'), JSON.stringify(await exportSigningJwk(key)));

    const ports = {
      upstream: await freePort(),
      stateless: await freePort(),
      store: await freePort(),
      nginxStateless: await freePort(),
      nginxStore: await freePort(),
    };
    const configs = {
      stateless: {
        mode: 'stateless',
        listen: { port: ports.stateless },
        jwt: { issuer: 'https://auth.bench', audience: 'app', jwksFile: join(dir, 'jwks.json') },
        identity: { claims: ['role'] },
      },
      store: {
        mode: 'store',
        listen: { port: ports.store },
        store: { type: 'redis', url: REDIS_URL, prefix },
        identity: { claims: ['role'] },
      },
    };
    for (const [name, config] of Object.entries(configs)) {
      writeFileSync(join(dir, `${name}.json`), JSON.stringify(config));
    }
    const upstream = start(process.execPath, ['-e', UPSTREAM, String(ports.upstream)], 'upstream');
    const env = ['--conditions=@org/source', '--import', 'tsx', cli, '--config'];
    const stateless = start(process.execPath, [...env, join(dir, 'stateless.json')], 'stateless sidecar');
    const stateful = start(process.execPath, [...env, join(dir, 'store.json')], 'store sidecar');
    await waitListening(ports.upstream, upstream, 'upstream');
    await waitListening(ports.stateless, stateless, 'stateless sidecar');
    await waitListening(ports.store, stateful, 'store sidecar');
    for (const [mode, sidecarPort, listen] of [
      ['stateless', ports.stateless, ports.nginxStateless],
      ['store', ports.store, ports.nginxStore],
    ] as const) {
      const sub = join(dir, `nginx-${mode}`);
      mkdirSync(sub);
      writeFileSync(
        join(sub, 'nginx.conf'),
        nginxConfig(sub, { listen, sidecar: sidecarPort, upstream: ports.upstream }),
      );
      const child = start(nginx, ['-p', sub, '-c', join(sub, 'nginx.conf'), '-g', 'daemon off;'], `nginx ${mode}`);
      await waitListening(listen, child, `nginx ${mode}`);
    }

    const cases: Array<{ name: string; url: string; headers: Record<string, string> }> = [
      { name: 'nginx -> upstream (no auth)', url: `http://127.0.0.1:${ports.nginxStateless}/public/x`, headers: {} },
      {
        name: 'nginx + sidecar stateless (JWT) -> upstream',
        url: `http://127.0.0.1:${ports.nginxStateless}/x`,
        headers: { authorization: bearer },
      },
      {
        name: 'nginx + sidecar store (Redis cookie) -> upstream',
        url: `http://127.0.0.1:${ports.nginxStore}/x`,
        headers: { cookie },
      },
      {
        name: 'sidecar stateless /auth alone',
        url: `http://127.0.0.1:${ports.stateless}/auth`,
        headers: { authorization: bearer },
      },
      { name: 'sidecar store /auth alone', url: `http://127.0.0.1:${ports.store}/auth`, headers: { cookie } },
    ];
    const rows: Array<{ name: string; one: Latency; ten: Throughput }> = [];
    for (const c of cases) {
      // Warm-up: JIT, keep-alive pools, the verified-token cache and the Redis connection.
      await autocannon({ url: c.url, connections: 4, duration: 1, headers: c.headers });
      const one = await latency(c.url, c.headers);
      const ten = await throughput(c.url, c.headers);
      rows.push({ name: c.name, one, ten });
    }
    const base = rows[0] as (typeof rows)[number];
    const format = (n: number, digits = 0) =>
      n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
    console.log(
      `\n${SECONDS} s per measure: latency one request at a time (hrtime), throughput with autocannon at 10 connections; nginx 1 worker; Node ${process.version}\n`,
    );
    console.log(
      '| case | req/s (10 conn) | latency mean | p50 | p99 | added latency (mean / p50) vs nginx alone | throughput vs nginx alone |',
    );
    console.log('|---|---|---|---|---|---|---|');
    for (const row of rows) {
      const added = row.name.startsWith('nginx +')
        ? `+${format(row.one.mean - base.one.mean)} / +${format(row.one.p50 - base.one.p50)} us`
        : '';
      const share = row.name.startsWith('nginx') ? `${format((row.ten.rps / base.ten.rps) * 100)}%` : '';
      console.log(
        `| ${row.name} | ${format(row.ten.rps)} | ${format(row.one.mean)} us | ${format(row.one.p50)} us | ${format(row.one.p99)} us | ${added} | ${share} |`,
      );
    }
  } finally {
    const started = children.splice(0);
    for (const child of started) {
      if (child.exitCode === null) child.kill('SIGTERM');
    }
    await new Promise((r) => setTimeout(r, 500));
    for (const child of started) {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await store.deleteAll().catch(() => {});
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

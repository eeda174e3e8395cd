/**
 * The Next.js 16 servers of the HTTP section: the app in bench/next-app (route handlers reading and
 * writing our session on the memory store or Redis, the same read behind proxy.ts, the bare route,
 * and iron-session doing the same work) is copied to a temp folder, built once with `next build`
 * (webpack, production) and served by `next start`, one process per case, pinned to CPU 0 like
 * the other frameworks' servers.
 *
 * The build is reused: its folder is named by a hash of the app, of the workspace sources it
 * compiles in (core, next, store-redis) and of Next's version, so a second run (say `pnpm
 * bench:quick` after a change elsewhere) starts from the build already made.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const appSource = join(benchDir, 'next-app');
const nextBin = join(benchDir, 'node_modules', 'next', 'dist', 'bin', 'next');
const BUILD_TIMEOUT_MS = 8 * 60_000;
const START_TIMEOUT_MS = 180_000;

/** Every file under a folder, sorted, skipping build output and dependencies. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    for (const name of readdirSync(path).sort()) {
      if (name === 'node_modules' || name === '.next' || name === 'dist') continue;
      const full = join(path, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.push(full);
    }
  };
  walk(dir);
  return out;
}

/** A hash of what the build compiles: the app, the workspace sources it bundles, Next's version. */
function buildKey(): string {
  const hash = createHash('sha256');
  const packages = join(benchDir, '..', 'packages');
  const inputs = [
    ...filesUnder(appSource),
    ...['core', 'next', 'store-redis'].flatMap((name) => [
      join(packages, name, 'package.json'),
      ...filesUnder(join(packages, name, 'src')),
    ]),
    join(benchDir, 'node_modules', 'next', 'package.json'),
  ];
  for (const file of inputs) hash.update(file).update('\0').update(readFileSync(file)).update('\0');
  return hash.digest('hex').slice(0, 16);
}

/**
 * The built app's folder: made by `next build` unless a build of the same inputs is there already.
 * Its node_modules links to bench/node_modules (next, react, iron-session, the workspace packages).
 * One build per run, however many callers ask.
 */
export function buildNextApp(): Promise<string> {
  building ??= build(console.log);
  return building;
}

/** `--quick` starts the build at once, beside the other sections; this is the one build of the run. */
let building: Promise<string> | undefined;

async function build(log: (line: string) => void): Promise<string> {
  const dir = join(tmpdir(), `session-bench-next-${buildKey()}`);
  if (existsSync(join(dir, '.next', 'BUILD_ID'))) {
    // Marked as in use, so another run's cleanup leaves it alone.
    utimesSync(dir, new Date(), new Date());
    log(`Next: reusing the build in ${dir}`);
    return dir;
  }
  removeOldBuilds();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(appSource, dir, { recursive: true });
  symlinkSync(join(benchDir, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const started = Date.now();
  log(`Next: next build in ${dir} (once; later runs reuse it) ...`);
  const child = spawn(process.execPath, [nextBin, 'build', '--webpack'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1' },
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString('utf8');
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), BUILD_TIMEOUT_MS);
    child.once('exit', (exit) => {
      clearTimeout(timer);
      resolve(exit);
    });
  });
  if (code !== 0 || !existsSync(join(dir, '.next', 'BUILD_ID'))) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`next build failed (${code}):\n${output.slice(-4000)}`);
  }
  log(`Next: built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return dir;
}

/** Builds of earlier inputs (about 110 MB each), once unused for an hour: a run in progress keeps its own. */
function removeOldBuilds(): void {
  const hourAgo = Date.now() - 3_600_000;
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith('session-bench-next-')) continue;
    const path = join(tmpdir(), name);
    try {
      if (statSync(path).mtimeMs < hourAgo) rmSync(path, { recursive: true, force: true });
    } catch {
      // Removed by another run meanwhile.
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** What a Next server is started with, per case. */
export interface NextServerOptions {
  /** Our store in this process (iron-session and the bare route ignore it). */
  store: 'memory' | 'redis';
  redisUrl: string;
  /** Redis key prefix of this process's sessions, for the cleanup afterwards. */
  redisPrefix: string;
  secret: string;
  /** The CPUs it starts on (`taskset -c`), or none to inherit this process's. */
  cpus?: string;
}

/**
 * `next start` of the built app on a free loopback port, on the CPUs asked for. The server
 * also exits when this process's pipe to it closes (a preload watching stdin), so a bench that
 * dies leaves no server behind.
 */
export async function startNextServer(
  dir: string,
  options: NextServerOptions,
): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const guard =
    'data:text/javascript,process.stdin.on("end",()=>process.exit(0)).resume();setTimeout(()=>process.exit(0),1800000).unref();';
  const args = ['--import', guard, nextBin, 'start', '--port', String(port), '--hostname', '127.0.0.1'];
  const env = {
    ...process.env,
    NODE_ENV: 'production',
    NEXT_TELEMETRY_DISABLED: '1',
    BENCH_NEXT_STORE: options.store,
    BENCH_NEXT_PREFIX: options.redisPrefix,
    BENCH_SECRET: options.secret,
    REDIS_URL: options.redisUrl,
  };
  const child = options.cpus
    ? spawn('taskset', ['-c', options.cpus, process.execPath, ...args], {
        cwd: dir,
        env,
        stdio: ['pipe', 'ignore', 'inherit'],
      })
    : spawn(process.execPath, args, { cwd: dir, env, stdio: ['pipe', 'ignore', 'inherit'] });
  const deadline = Date.now() + START_TIMEOUT_MS;
  // Ready when the bare route answers; bounded, and given up on as soon as the server exits.
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`next start exited (${child.exitCode}) before it was ready`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/bare/hello`);
      if (res.ok) {
        await res.arrayBuffer();
        return { child, port };
      }
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  child.kill('SIGKILL');
  throw new Error(`next start did not answer in ${START_TIMEOUT_MS / 1000} s`);
}

/** Deletes the Redis keys of one Next server's sessions (the server itself is killed, not closed). */
export async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const client = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    let cursor = '0';
    // Bounded: the scan ends when the cursor returns to 0; at most a few thousand keys here.
    for (let i = 0; i < 10_000; i++) {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length > 0) await client.del(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    client.disconnect();
  }
}

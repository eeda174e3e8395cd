// The services the soak starts for itself, and the faults it injects into them. Only dedicated
// servers (their own ports, their own data directories) are ever stopped or restarted; on the
// shared PostgreSQL the soak only terminates connections that carry its own application name.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';

// What must not outlive the soak even if it crashes: synchronous, run on process exit.
const atExit = new Set<() => void>();
process.once('exit', () => {
  for (const cleanup of atExit) {
    try {
      cleanup();
    } catch {
      // Best effort: the process is ending.
    }
  }
});

/** Registers a synchronous cleanup for process exit; returns its removal. */
export function onExit(cleanup: () => void): () => void {
  atExit.add(cleanup);
  return () => atExit.delete(cleanup);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` every `intervalMs` until it holds or `timeoutMs` passes; true if it held. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return true;
    await sleep(intervalMs);
  }
  return false;
}

/** A loopback port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export function hasCommand(command: string, args = ['--version']): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0;
}

async function redisPing(port: number): Promise<boolean> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    connectTimeout: 500,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** A dedicated redis-server: every write appended and fsynced, so a SIGKILL loses nothing. */
export class DedicatedRedis {
  private process: ChildProcess | null = null;
  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(): Promise<DedicatedRedis> {
    const redis = new DedicatedRedis(await freePort(), mkdtempSync(join(tmpdir(), 'soak-redis-')));
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
      ],
      { stdio: 'ignore' },
    );
    this.process = child;
    const forget = onExit(() => child.kill('SIGKILL'));
    child.once('exit', forget);
    if (!(await waitFor(() => redisPing(this.port), 10_000)))
      throw new Error(`redis-server on ${this.port} did not start`);
  }

  /** `used_memory` (bytes, as the allocator counts it) and the number of keys. */
  async usage(): Promise<{ usedMemory: number; keys: number }> {
    const client = new Redis({
      host: '127.0.0.1',
      port: this.port,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    });
    client.on('error', () => {});
    try {
      const info = await client.info('memory');
      const usedMemory = Number(/^used_memory:(\d+)/m.exec(info)?.[1]);
      return { usedMemory, keys: await client.dbsize() };
    } finally {
      client.disconnect();
    }
  }

  /**
   * Walks the whole keyspace with SCAN, which deletes the expired keys it meets (as any read of
   * them would), and counts the keys left that start with `prefix`, by kind: what follows the
   * prefix up to its next `:` (`s`, `rf`, `t`, `u`, `ue` for a session store's keys).
   */
  async scanKinds(prefix: string): Promise<Record<string, number>> {
    const client = new Redis({
      host: '127.0.0.1',
      port: this.port,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    });
    client.on('error', () => {});
    const kinds: Record<string, number> = {};
    try {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'COUNT', 1000);
        cursor = next;
        for (const key of keys) {
          if (!key.startsWith(prefix)) continue;
          const rest = key.slice(prefix.length);
          const kind = rest.slice(0, Math.max(0, rest.indexOf(':')));
          kinds[kind] = (kinds[kind] ?? 0) + 1;
        }
      } while (cursor !== '0');
      return kinds;
    } finally {
      client.disconnect();
    }
  }

  /** SIGKILL: what a crash looks like to clients. */
  async kill(): Promise<void> {
    const child = this.process;
    this.process = null;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A dedicated three-master Redis Cluster, each master with one replica, for the failover fault. */
export class DedicatedCluster {
  private readonly processes = new Map<number, ChildProcess>();
  private constructor(
    readonly ports: number[],
    readonly dir: string,
  ) {}

  static async start(): Promise<DedicatedCluster> {
    const ports: number[] = [];
    while (ports.length < 6) {
      const port = await freePort();
      // Cluster bus ports are port + 10000: keep both in range and distinct.
      if (port < 55_000 && !ports.includes(port)) ports.push(port);
    }
    const cluster = new DedicatedCluster(ports, mkdtempSync(join(tmpdir(), 'soak-cluster-')));
    for (const port of ports) cluster.spawn(port);
    for (const port of ports) {
      if (!(await waitFor(() => redisPing(port), 10_000))) throw new Error(`cluster node ${port} did not start`);
    }
    const created = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    if (!(await waitFor(() => cluster.healthy(), 30_000, 250)))
      throw new Error('the soak cluster never became healthy');
    return cluster;
  }

  get nodes(): { host: string; port: number }[] {
    return this.ports.map((port) => ({ host: '127.0.0.1', port }));
  }

  private spawn(port: number): void {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--cluster-node-timeout',
        '2000',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--appendfilename',
        `appendonly-${port}.aof`,
        '--appenddirname',
        `aof-${port}`,
        '--save',
        '',
      ],
      { stdio: 'ignore' },
    );
    this.processes.set(port, child);
    const forget = onExit(() => child.kill('SIGKILL'));
    child.once('exit', forget);
  }

  private async info(port: number, section: string): Promise<string> {
    const client = new Redis({ host: '127.0.0.1', port, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    client.on('error', () => {});
    try {
      return (section === 'cluster' ? await client.cluster('INFO') : await client.info(section)) as string;
    } finally {
      client.disconnect();
    }
  }

  async healthy(): Promise<boolean> {
    for (const port of this.ports) {
      if (!this.processes.has(port)) continue;
      if (!/cluster_state:ok/.test(await this.info(port, 'cluster').catch(() => ''))) return false;
    }
    return true;
  }

  /** The port of a node that is a master now. */
  async aMaster(): Promise<number> {
    for (const port of this.ports) {
      if (!this.processes.has(port)) continue;
      if (/role:master/.test(await this.info(port, 'replication').catch(() => ''))) return port;
    }
    throw new Error('no master found');
  }

  /** SIGKILL one master; its replica takes over after the node timeout. Returns the port killed. */
  async killMaster(): Promise<number> {
    const port = await this.aMaster();
    const child = this.processes.get(port);
    this.processes.delete(port);
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    return port;
  }

  /** Starts a killed node again; it rejoins as a replica. */
  async restart(port: number): Promise<void> {
    this.spawn(port);
    await waitFor(() => redisPing(port), 10_000);
  }

  async destroy(): Promise<void> {
    for (const child of this.processes.values()) {
      if (child.exitCode !== null) continue;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    this.processes.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function pgBinDir(): string | null {
  const found = spawnSync('sh', ['-c', 'ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1'], {
    encoding: 'utf8',
  }).stdout.trim();
  return found || null;
}

/**
 * A private PostgreSQL cluster in a temp directory on its own port, run as the `postgres` user
 * (initdb refuses root), so the soak may restart it. The shared server is never touched.
 */
export class PrivatePostgres {
  private forgetAtExit: () => void = () => {};
  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly bin: string,
  ) {}

  static available(): boolean {
    return process.getuid?.() === 0 && pgBinDir() !== null && hasCommand('runuser', ['--help']);
  }

  static async start(): Promise<PrivatePostgres> {
    const bin = pgBinDir();
    if (!bin) throw new Error('no PostgreSQL binaries under /usr/lib/postgresql');
    const dir = mkdtempSync(join(tmpdir(), 'soak-pg-'));
    chmodSync(dir, 0o700);
    const { uid, gid } = postgresUser();
    chownSync(dir, uid, gid);
    const server = new PrivatePostgres(await freePort(), dir, bin);
    server.forgetAtExit = onExit(() => {
      spawnSync('runuser', [
        '-u',
        'postgres',
        '--',
        join(bin, 'pg_ctl'),
        '-D',
        join(dir, 'data'),
        '-m',
        'immediate',
        'stop',
      ]);
      rmSync(dir, { recursive: true, force: true });
    });
    server.asPostgres('initdb', ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
    await server.start();
    return server;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private asPostgres(tool: string, args: string[]): void {
    const result = spawnSync('runuser', ['-u', 'postgres', '--', join(this.bin, tool), ...args], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (result.status !== 0) throw new Error(`${tool} failed: ${result.stdout}${result.stderr}`);
  }

  async start(): Promise<void> {
    this.asPostgres('pg_ctl', [
      '-D',
      join(this.dir, 'data'),
      '-l',
      join(this.dir, 'log'),
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off`,
      '-w',
      'start',
    ]);
  }

  /** An immediate stop: the server crashes as far as clients can tell, and recovers from its WAL. */
  async stop(): Promise<void> {
    this.asPostgres('pg_ctl', ['-D', join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop']);
  }

  async destroy(): Promise<void> {
    this.forgetAtExit();
    try {
      this.asPostgres('pg_ctl', ['-D', join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop']);
    } catch {
      // Already stopped.
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function postgresUser(): { uid: number; gid: number } {
  const line = spawnSync('id', ['postgres'], { encoding: 'utf8' }).stdout;
  const uid = Number(/uid=(\d+)/.exec(line)?.[1]);
  const gid = Number(/gid=(\d+)/.exec(line)?.[1]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error('no postgres user');
  return { uid, gid };
}

/** Terminates every backend whose application_name is `appName` (the soak servers' own). */
export async function terminateBackends(url: string, appName: string): Promise<number> {
  // A loaded machine may be slow to accept the admin connection: try again rather than give up.
  for (let attempt = 0; ; attempt++) {
    try {
      return await terminateOnce(url, appName);
    } catch (error) {
      if (attempt >= 4) throw error;
      await sleep(500);
    }
  }
}

async function terminateOnce(url: string, appName: string): Promise<number> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ n: number }>(
      'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1',
      [appName],
    );
    return rows[0]?.n ?? 0;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Another process holding an exclusive lock on the SQLite file (`BEGIN EXCLUSIVE`) until `release`:
 * what a backup tool or a stray `sqlite3` shell does to an app.
 */
export async function lockSqliteFile(path: string): Promise<{ release(): Promise<void> }> {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(process.argv[1], { timeout: 5000 });
    db.exec('BEGIN EXCLUSIVE');
    process.stdout.write('locked\\n');
    process.stdin.on('data', () => { db.exec('COMMIT'); db.close(); process.exit(0); });
  `;
  const child = spawn(process.execPath, ['-e', script, path], {
    stdio: ['pipe', 'pipe', 'inherit'],
    cwd: new URL('..', import.meta.url).pathname,
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the SQLite locker exited with ${code}`)));
  });
  return {
    async release() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin.write('go\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** True when a missing service must fail the run instead of skipping it. */
export const inCI = process.env.CI === 'true';

/** Whether the `redis-server` binary can be started here. */
export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Whether `redis-cli` exists (used to create clusters; ioredis does the job otherwise). */
export function hasRedisCli(): boolean {
  return spawnSync('redis-cli', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** A PING that gives up quickly; true when the server answered. */
export async function ping(port: number, host = '127.0.0.1'): Promise<boolean> {
  const client = new Redis({
    host,
    port,
    lazyConnect: true,
    connectTimeout: 500,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
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
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return false;
}

export interface RedisServer {
  port: number;
  url: string;
  dir: string;
  /** Starts (or starts again) the server on the same port and data directory. */
  start(): Promise<void>;
  /** SIGKILL: the way a crash looks to clients. */
  kill(): Promise<void>;
  /** Stops the server and removes its directory. */
  destroy(): Promise<void>;
}

/**
 * A private `redis-server` on a spare loopback port, with its data in a temp dir. With
 * `persistent`, every write is appended and fsynced, so a kill and restart keeps the data.
 */
export async function startRedisServer(
  options: { persistent?: boolean; port?: number; extraArgs?: string[] } = {},
): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), `store-redis-${port}-`));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    options.persistent ? 'yes' : 'no',
    '--appendfsync',
    'always',
    ...(options.extraArgs ?? []),
  ];
  let child: ChildProcess | null = null;
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    async start() {
      child = spawn('redis-server', args, { stdio: 'ignore' });
      if (!(await waitFor(() => ping(port), 50, 100))) throw new Error(`redis-server on port ${port} did not start`);
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
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

/** Calls per command from `INFO commandstats` (e.g. `get`, `evalsha`, `set`). */
export async function commandStats(client: Redis): Promise<Map<string, number>> {
  const info = await client.info('commandstats');
  const stats = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    stats.set(match[1] as string, Number(match[2]));
  }
  return stats;
}

/** Per-command call counts between two snapshots, leaving out the commands the probe itself runs. */
export function statsDelta(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [command, calls] of after) {
    if (command === 'info') continue;
    const change = calls - (before.get(command) ?? 0);
    if (change !== 0) delta.set(command, change);
  }
  return delta;
}

/** One command as MONITOR saw it: its arguments, and whether a script ran it. */
export type CommandLog = { args: string[]; fromScript: boolean }[];

/**
 * Every command the server at `url` runs while `work` does, in order, seen through MONITOR (on a
 * private server, so that only the test's own commands appear). A PING with a marker sent after
 * `work` tells when the log is complete; it is left out.
 */
export async function recordCommands(url: string, work: () => Promise<void>): Promise<CommandLog> {
  const watcher = new Redis(url);
  const marker = `end-of-log-${randomUUID()}`;
  const log: CommandLog = [];
  let done = false;
  try {
    const monitor = await watcher.monitor();
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (done) return;
      if (args[0]?.toLowerCase() === 'ping' && args[1] === marker) {
        done = true;
        return;
      }
      log.push({ args, fromScript: source === 'lua' });
    });
    await work();
    const probe = new Redis(url);
    try {
      await probe.ping(marker);
    } finally {
      probe.disconnect();
    }
    if (!(await waitFor(async () => done, 100, 20))) throw new Error('MONITOR did not see the end marker');
    monitor.disconnect();
  } finally {
    watcher.disconnect();
  }
  // The probe's own connection set-up (CLIENT SETINFO, INFO, ...) is not part of the work.
  return log.filter((c) => !/^(?:client|info|hello|select)$/i.test(c.args[0] ?? ''));
}

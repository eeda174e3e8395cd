import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { TestProject } from 'vitest/node';
import { hasRedisCli, hasRedisServer, inCI, ping, waitFor } from './servers.js';

/** What the test files learn about the Redis Cluster: its seed nodes, or why there is none. */
export type ClusterInfo = { nodes: { host: string; port: number }[] } | { unavailable: string };

declare module 'vitest' {
  export interface ProvidedContext {
    redisCluster: ClusterInfo;
  }
}

const HOST = '127.0.0.1';
const PORTS = (process.env.REDIS_CLUSTER_PORTS ?? '7101,7102,7103').split(',').map(Number);
const SLOTS = 16384;

async function withClient<T>(port: number, use: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({ host: HOST, port, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    return await use(client);
  } finally {
    client.disconnect();
  }
}

async function clusterHealthy(): Promise<boolean> {
  for (const port of PORTS) {
    if (!(await ping(port))) return false;
    const info = await withClient(port, (c) => c.cluster('INFO') as Promise<string>).catch(() => '');
    if (!/cluster_state:ok/.test(info) || !/cluster_known_nodes:3\b/.test(info)) return false;
  }
  return true;
}

/** Assigns the slots and introduces the nodes with plain commands (when redis-cli is missing). */
async function joinWithCommands(): Promise<void> {
  const per = Math.ceil(SLOTS / PORTS.length);
  for (const [i, port] of PORTS.entries()) {
    const first = i * per;
    const last = Math.min(SLOTS, first + per) - 1;
    await withClient(port, async (c) => {
      await c.cluster('ADDSLOTSRANGE', first, last);
      if (i > 0) await c.cluster('MEET', HOST, PORTS[0] as number);
    });
  }
}

/**
 * Starts a three-master Redis Cluster on spare loopback ports for the store-redis tests and hands
 * its seed nodes to them; reuses a healthy one that is already running (and then leaves it be).
 * Under CI=true a missing `redis-server` fails the run; otherwise the cluster suites skip.
 */
export default async function setup(project: TestProject) {
  const nodes = PORTS.map((port) => ({ host: HOST, port }));
  if (await clusterHealthy()) {
    project.provide('redisCluster', { nodes });
    return;
  }
  const refuse = (reason: string) => {
    if (inCI) throw new Error(`Redis Cluster unavailable under CI=true: ${reason}`);
    project.provide('redisCluster', { unavailable: reason });
  };
  if (!hasRedisServer()) return refuse('the redis-server binary was not found');
  for (const port of PORTS) {
    if (await ping(port)) return refuse(`port ${port} already runs a Redis that is not a healthy 3-node cluster`);
  }

  const dir = mkdtempSync(join(tmpdir(), 'store-redis-cluster-'));
  const children: ChildProcess[] = PORTS.map((port) =>
    spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        HOST,
        '--dir',
        dir,
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--cluster-node-timeout',
        '2000',
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    ),
  );
  const teardown = async () => {
    await Promise.all(
      children.map((child) => {
        if (child.exitCode !== null) return Promise.resolve();
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        return exited;
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    for (const port of PORTS) {
      if (!(await waitFor(() => ping(port), 50, 100))) throw new Error(`cluster node ${port} did not start`);
    }
    if (hasRedisCli()) {
      const created = spawnSync(
        'redis-cli',
        ['--cluster', 'create', ...PORTS.map((p) => `${HOST}:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
        { encoding: 'utf8', timeout: 30_000 },
      );
      if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}`);
    } else {
      await joinWithCommands();
    }
    if (!(await waitFor(clusterHealthy, 100, 100))) throw new Error('the cluster did not reach cluster_state:ok');
  } catch (error) {
    await teardown();
    if (inCI) throw error;
    project.provide('redisCluster', { unavailable: (error as Error).message });
    return;
  }
  project.provide('redisCluster', { nodes });
  return teardown;
}

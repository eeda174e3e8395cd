import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
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

/** A throwaway admin connection to one node, closed after `use`; it never retries. */
export async function withNode<T>(port: number, use: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: true,
  });
  client.on('error', () => {});
  try {
    return await use(client);
  } finally {
    client.disconnect();
  }
}

/** `CLUSTER INFO` of the node on `port`, or '' when it does not answer. */
export function clusterInfo(port: number): Promise<string> {
  return withNode(port, (c) => c.cluster('INFO') as Promise<string>).catch(() => '');
}

/**
 * The master and the replicas that serve `slot`, by port, as `CLUSTER NODES` on `port` says (not
 * `CLUSTER SLOTS`, whose answer may leave out replicas that joined moments ago). Failed nodes are
 * left out.
 */
export async function slotOwners(port: number, slot: number): Promise<{ master: number; replicas: number[] }> {
  const text = (await withNode(port, (c) => c.cluster('NODES'))) as string;
  const nodes = text
    .trim()
    .split('\n')
    .map((line) => {
      const [id, address, flags, masterId, , , , , ...slots] = line.split(' ');
      return { id, port: Number(address?.split('@')[0]?.split(':')[1]), flags: flags ?? '', masterId, slots };
    })
    .filter((node) => !/\bfail\b/.test(node.flags));
  const master = nodes.find(
    (node) =>
      node.flags.includes('master') &&
      node.slots.some((range) => {
        const [first, last = first] = range.split('-').map(Number);
        return slot >= (first as number) && slot <= (last as number);
      }),
  );
  if (!master) throw new Error(`no live master serves slot ${slot}`);
  const replicas = nodes.filter((node) => node.flags.includes('slave') && node.masterId === master.id);
  return { master: master.port, replicas: replicas.map((node) => node.port) };
}

/** A private Redis Cluster of three masters, each with one replica, that tests may break. */
export interface RedisClusterServers {
  /** Seed nodes: every node, masters first. */
  nodes: { host: string; port: number }[];
  /** Ports of the nodes still running. */
  alive(): number[];
  /** SIGKILL the node on `port`: a crash, as its clients and peers see it. */
  kill(port: number): Promise<void>;
  /** Starts the killed node on `port` again, with its cluster configuration (and, if persistent, its data). */
  start(port: number): Promise<void>;
  /** SIGSTOP the node on `port`: it holds its connections but answers nothing, as a hung server does. */
  freeze(port: number): void;
  /** SIGCONT the node on `port`: it answers what it was sent meanwhile, then everything else. */
  thaw(port: number): void;
  /** Stops every node and removes the data directory. */
  destroy(): Promise<void>;
}

/**
 * Starts three masters and three replicas on spare loopback ports, joins them with plain cluster
 * commands (no redis-cli needed) and waits, bounded, until every node reports `cluster_state:ok`
 * and every replica is in sync. A short `nodeTimeoutMs` makes failovers quick. With `persistent`,
 * every write is appended and fsynced, so a node killed and started again keeps its data.
 */
export async function startRedisCluster(
  options: { nodeTimeoutMs?: number; persistent?: boolean } = {},
): Promise<RedisClusterServers> {
  const ports: number[] = [];
  // Bounded: the cluster bus listens on port + 10000, which must be a valid port too.
  for (let tries = 0; ports.length < 6 && tries < 200; tries++) {
    const port = await freePort();
    if (port < 55_000 && !ports.includes(port)) ports.push(port);
  }
  if (ports.length < 6) throw new Error('no six free ports below 55000 for a cluster');
  const dir = mkdtempSync(join(tmpdir(), 'store-redis-cluster-outage-'));
  const children = new Map<number, ChildProcess>();
  const spawnNode = (port: number) => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
    // Each node appends to a directory of its own (they share `dir`).
    args.push('--appendonly', options.persistent ? 'yes' : 'no', '--appendfsync', 'always');
    args.push('--appenddirname', `appendonly-${port}`);
    args.push('--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`);
    args.push('--cluster-node-timeout', String(options.nodeTimeoutMs ?? 1500));
    children.set(port, spawn('redis-server', args, { stdio: 'ignore' }));
  };
  for (const port of ports) spawnNode(port);
  const signal = (port: number, name: 'SIGSTOP' | 'SIGCONT') => {
    const child = children.get(port);
    if (!child || child.exitCode !== null) throw new Error(`cluster node ${port} is not running`);
    child.kill(name);
  };
  const servers: RedisClusterServers = {
    nodes: ports.map((port) => ({ host: '127.0.0.1', port })),
    alive: () => ports.filter((port) => children.has(port)),
    async kill(port) {
      const child = children.get(port);
      children.delete(port);
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
    async start(port) {
      if (!ports.includes(port) || children.has(port)) throw new Error(`cluster node ${port} is not a stopped node`);
      spawnNode(port);
      if (!(await waitFor(() => ping(port), 100, 100))) throw new Error(`cluster node ${port} did not start again`);
    },
    freeze: (port) => signal(port, 'SIGSTOP'),
    thaw: (port) => signal(port, 'SIGCONT'),
    async destroy() {
      for (const port of [...children.keys()]) await servers.kill(port);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    for (const port of ports) {
      if (!(await waitFor(() => ping(port), 100, 100))) throw new Error(`cluster node ${port} did not start`);
    }
    const masters = ports.slice(0, 3);
    const replicas = ports.slice(3);
    const ids = await Promise.all(ports.map((port) => withNode(port, (c) => c.cluster('MYID') as Promise<string>)));
    for (const [i, port] of masters.entries()) {
      const first = Math.floor((16384 * i) / 3);
      const last = Math.floor((16384 * (i + 1)) / 3) - 1;
      await withNode(port, (c) => c.cluster('ADDSLOTSRANGE', first, last));
    }
    for (const port of ports.slice(1)) await withNode(port, (c) => c.cluster('MEET', '127.0.0.1', ports[0] as number));
    const everyoneKnown = async () =>
      (await Promise.all(ports.map(clusterInfo))).every((info) => /cluster_known_nodes:6\b/.test(info));
    if (!(await waitFor(everyoneKnown, 150, 100))) throw new Error('the cluster nodes did not meet');
    for (const [i, port] of replicas.entries()) {
      await withNode(port, (c) => c.cluster('REPLICATE', ids[i] as string));
    }
    const healthy = async () => {
      const infos = await Promise.all(ports.map(clusterInfo));
      if (!infos.every((info) => /cluster_state:ok/.test(info))) return false;
      const links = await Promise.all(
        replicas.map((port) => withNode(port, (c) => c.info('replication')).catch(() => '')),
      );
      return links.every((info) => /master_link_status:up/.test(info));
    };
    if (!(await waitFor(healthy, 300, 100))) throw new Error('the cluster did not reach cluster_state:ok');
  } catch (error) {
    await servers.destroy();
    throw error;
  }
  return servers;
}

/** A TCP relay on loopback to a server, which a test may cut off (a network partition) and restore. */
export interface TcpProxy {
  /** The port clients connect to instead of the server's. */
  readonly port: number;
  /** Drops every relayed connection and refuses new ones, the server itself untouched. */
  cut(): Promise<void>;
  /** Accepts and relays connections again, on the same port. */
  restore(): Promise<void>;
  /** Cuts for good. */
  close(): Promise<void>;
}

/**
 * The relay's connection to the server on `targetPort` for one accepted `client`: both kept in
 * `sockets` (for closing), and either end closing closes the other. Errors end in that close.
 */
export function connectUpstream(client: Socket, targetPort: number, sockets: Set<Socket>): Socket {
  const upstream = connect(targetPort, '127.0.0.1');
  for (const socket of [client, upstream]) {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      client.destroy();
      upstream.destroy();
    });
  }
  return upstream;
}

/** A {@link TcpProxy} on a spare loopback port to the server on `targetPort`. */
export async function startProxy(targetPort: number): Promise<TcpProxy> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  const relay = (client: Socket) => {
    const upstream = connectUpstream(client, targetPort, sockets);
    client.pipe(upstream).pipe(client);
  };
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      if (server) return resolve();
      const next = createServer(relay);
      next.once('error', reject);
      next.listen(port, '127.0.0.1', () => {
        server = next;
        resolve();
      });
    });
  const cut = async () => {
    const running = server;
    server = null;
    for (const socket of sockets) socket.destroy();
    if (running) await new Promise((resolve) => running.close(resolve));
  };
  await listen();
  return { port, cut, restore: listen, close: cut };
}

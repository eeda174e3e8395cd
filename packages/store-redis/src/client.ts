import { SessionError } from '@org/session-core';
import type { Cluster, Redis } from 'ioredis';

/** An ioredis (5 or 6) client for a single Redis server or for a Redis Cluster. */
export type IoRedisClient = Redis | Cluster;

/**
 * The part of a node-redis (`redis` package, 5 or later) client the store uses: what
 * `createClient()` returns, connected (`await client.connect()`). Described by shape, so the store
 * does not depend on the package's types.
 */
export interface NodeRedisClient {
  sendCommand(args: ReadonlyArray<string>, options?: never): Promise<unknown>;
  readonly isOpen: boolean;
  readonly isReady: boolean;
}

/** What node-redis's `createCluster()` returns, connected (`await cluster.connect()`). */
export interface NodeRedisCluster {
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: string[]): Promise<unknown>;
  readonly isOpen: boolean;
  readonly masters: readonly unknown[];
  nodeClient(node: never): Promise<unknown>;
}

/** Any client the store accepts: ioredis 5 or 6, or node-redis 5+, single server or Cluster. */
export type AnyRedisClient = IoRedisClient | NodeRedisClient | NodeRedisCluster;

/** Whether the driver can send a command now, must wait for the first connection, or cannot. */
export type DriverState = 'ready' | 'connecting' | 'down';

/** Every master's keyspace, for SCAN: one function per master. */
type MasterScan = (cursor: string, pattern: string, count: number) => Promise<[string, string[]]>;

/**
 * The commands the store and its scripts send, one implementation per client library, so the key
 * layout, the scripts and the error mapping stay the same whatever client an app holds.
 */
export interface RedisDriver {
  readonly isCluster: boolean;
  /** A prefix the client itself adds to key arguments but not to SCAN patterns (ioredis `keyPrefix`). */
  readonly keyPrefix: string;
  state(): DriverState;
  whenReady(): Promise<void>;
  hmget(key: string, fields: readonly string[]): Promise<(string | null)[]>;
  hget(key: string, field: string): Promise<string | null>;
  exists(key: string): Promise<number>;
  del(key: string): Promise<number>;
  zrem(key: string, member: string): Promise<number>;
  zscan(key: string, cursor: string, count: number): Promise<[string, string[]]>;
  /** `SET key value PX ttl NX`: true when it was set. */
  setPxNx(key: string, value: string, ttlMs: number): Promise<boolean>;
  evalsha(sha: string, keys: string[], args: (string | number)[]): Promise<unknown>;
  eval(source: string, keys: string[], args: (string | number)[]): Promise<unknown>;
  masters(): Promise<MasterScan[]>;
}

/** Connection states in which a command cannot reach the server now: fail at once instead of queueing. */
const downStates = new Set(['reconnecting', 'close', 'end', 'disconnecting']);
/** States in which the first connection is still being set up: wait for it within the timeout. */
const connectingStates = new Set(['connecting', 'connect']);

type Shape = Record<string, unknown>;

function isIoRedis(client: Shape): boolean {
  return typeof client.status === 'string' && typeof client.evalsha === 'function' && typeof client.on === 'function';
}

function isNodeRedisCluster(client: Shape): boolean {
  return (
    typeof client.sendCommand === 'function' &&
    typeof client.nodeClient === 'function' &&
    Array.isArray(client.masters) &&
    typeof client.isOpen === 'boolean'
  );
}

function isNodeRedisClient(client: Shape): boolean {
  return typeof client.sendCommand === 'function' && typeof client.isReady === 'boolean';
}

/** Which library `client` comes from, by its shape (never `instanceof`: apps may hold other copies). */
export function clientKind(client: unknown): 'ioredis' | 'node-redis' | 'node-redis-cluster' {
  if (typeof client === 'object' && client !== null) {
    const shape = client as Shape;
    if (isIoRedis(shape)) return 'ioredis';
    if (isNodeRedisCluster(shape)) return 'node-redis-cluster';
    if (isNodeRedisClient(shape)) return 'node-redis';
  }
  throw new SessionError(
    'CONFIG_INVALID',
    'client must be an ioredis Redis or Cluster, or a node-redis client from createClient() or createCluster()',
  );
}

/** The driver for `client`, whichever library it comes from. */
export function driverFor(client: AnyRedisClient): RedisDriver {
  const kind = clientKind(client);
  if (kind === 'ioredis') return new IoRedisDriver(client as IoRedisClient);
  if (kind === 'node-redis-cluster') return new NodeRedisClusterDriver(client as NodeRedisCluster);
  return new NodeRedisDriver(client as NodeRedisClient);
}

class IoRedisDriver implements RedisDriver {
  readonly isCluster: boolean;
  readonly keyPrefix: string;
  private ready: Promise<void> | null = null;

  constructor(private readonly client: IoRedisClient) {
    this.isCluster = client.isCluster;
    const prefix: unknown = client.options.keyPrefix;
    this.keyPrefix = typeof prefix === 'string' ? prefix : '';
  }

  state(): DriverState {
    const status = this.client.status;
    if (downStates.has(status)) return 'down';
    return connectingStates.has(status) ? 'connecting' : 'ready';
  }

  /** Resolves when the first connection is up, rejects when it fails; shared by every call meanwhile. */
  whenReady(): Promise<void> {
    if (this.client.status === 'ready') return Promise.resolve();
    this.ready ??= new Promise<void>((resolve, reject) => {
      const settle = (error: Error | null) => {
        this.client.off('ready', onReady);
        this.client.off('close', onClose);
        this.ready = null;
        if (error) reject(error);
        else resolve();
      };
      const onReady = () => settle(null);
      const onClose = () => settle(new SessionError('STORE_UNAVAILABLE', 'The session store is not connected'));
      this.client.once('ready', onReady);
      this.client.once('close', onClose);
    });
    return this.ready;
  }

  hmget(key: string, fields: readonly string[]) {
    return this.client.hmget(key, ...fields);
  }
  hget(key: string, field: string) {
    return this.client.hget(key, field);
  }
  exists(key: string) {
    return this.client.exists(key);
  }
  del(key: string) {
    return this.client.del(key);
  }
  zrem(key: string, member: string) {
    return this.client.zrem(key, member);
  }
  zscan(key: string, cursor: string, count: number) {
    return this.client.zscan(key, cursor, 'COUNT', count);
  }
  async setPxNx(key: string, value: string, ttlMs: number) {
    return (await this.client.set(key, value, 'PX', ttlMs, 'NX')) === 'OK';
  }
  evalsha(sha: string, keys: string[], args: (string | number)[]) {
    return this.client.evalsha(sha, keys.length, ...keys, ...args);
  }
  eval(source: string, keys: string[], args: (string | number)[]) {
    return this.client.eval(source, keys.length, ...keys, ...args);
  }
  async masters(): Promise<MasterScan[]> {
    const nodes = this.client.isCluster ? (this.client as Cluster).nodes('master') : [this.client as Redis];
    return nodes.map((node) => (cursor, pattern, count) => node.scan(cursor, 'MATCH', pattern, 'COUNT', count));
  }
}

/**
 * node-redis throws replies as `ErrorReply` (name `Error`); the store's error mapping knows them
 * by the name ioredis gives them, so that a refused command is told from a lost connection.
 */
function asReplyError(error: unknown): unknown {
  if (error instanceof Error && /^(?:ErrorReply|SimpleError|BlobError|MultiErrorReply)$/.test(error.constructor.name)) {
    const reply = new Error(error.message);
    reply.name = 'ReplyError';
    return reply;
  }
  return error;
}

/** Commands of the store as argument lists, shared by both node-redis drivers. */
abstract class NodeRedisCommands implements RedisDriver {
  abstract readonly isCluster: boolean;
  readonly keyPrefix = '';
  abstract state(): DriverState;
  /** Sends `args`, routed by `key` on a Cluster. */
  protected abstract send(key: string, readonly: boolean, args: string[]): Promise<unknown>;
  abstract masters(): Promise<MasterScan[]>;

  whenReady(): Promise<void> {
    // Only reached in 'connecting', which node-redis drivers never report.
    return Promise.resolve();
  }

  protected command(key: string, readonly: boolean, args: string[]): Promise<unknown> {
    return this.send(key, readonly, args).catch((error: unknown) => {
      throw asReplyError(error);
    });
  }

  async hmget(key: string, fields: readonly string[]) {
    return (await this.command(key, true, ['HMGET', key, ...fields])) as (string | null)[];
  }
  async hget(key: string, field: string) {
    return (await this.command(key, true, ['HGET', key, field])) as string | null;
  }
  async exists(key: string) {
    return Number(await this.command(key, true, ['EXISTS', key]));
  }
  async del(key: string) {
    return Number(await this.command(key, false, ['DEL', key]));
  }
  async zrem(key: string, member: string) {
    return Number(await this.command(key, false, ['ZREM', key, member]));
  }
  async zscan(key: string, cursor: string, count: number) {
    const [next, entries] = (await this.command(key, true, ['ZSCAN', key, cursor, 'COUNT', String(count)])) as [
      string | number,
      string[],
    ];
    return [String(next), entries] as [string, string[]];
  }
  async setPxNx(key: string, value: string, ttlMs: number) {
    return (await this.command(key, false, ['SET', key, value, 'PX', String(ttlMs), 'NX'])) === 'OK';
  }
  evalsha(sha: string, keys: string[], args: (string | number)[]) {
    return this.command(keys[0] as string, false, ['EVALSHA', sha, String(keys.length), ...keys, ...args.map(String)]);
  }
  eval(source: string, keys: string[], args: (string | number)[]) {
    return this.command(keys[0] as string, false, ['EVAL', source, String(keys.length), ...keys, ...args.map(String)]);
  }
}

/** Scans one node with `send`. */
function scanWith(send: (args: string[]) => Promise<unknown>): MasterScan {
  return async (cursor, pattern, count) => {
    const [next, keys] = (await send(['SCAN', cursor, 'MATCH', pattern, 'COUNT', String(count)])) as [
      string | number,
      string[],
    ];
    return [String(next), keys];
  };
}

class NodeRedisDriver extends NodeRedisCommands {
  readonly isCluster = false;

  constructor(private readonly client: NodeRedisClient) {
    super();
  }

  /**
   * Ready, or down: node-redis does not say a first connection from a reconnection, and the app
   * connects its client (`await client.connect()`) before handing it over.
   */
  state(): DriverState {
    return this.client.isReady ? 'ready' : 'down';
  }

  protected send(_key: string, _readonly: boolean, args: string[]) {
    return this.client.sendCommand(args);
  }

  async masters(): Promise<MasterScan[]> {
    return [scanWith((args) => this.command('', true, args))];
  }
}

class NodeRedisClusterDriver extends NodeRedisCommands {
  readonly isCluster = true;

  constructor(private readonly cluster: NodeRedisCluster) {
    super();
  }

  state(): DriverState {
    return this.cluster.isOpen ? 'ready' : 'down';
  }

  protected send(key: string, readonly: boolean, args: string[]) {
    return this.cluster.sendCommand(key, readonly, args);
  }

  async masters(): Promise<MasterScan[]> {
    const clients = await Promise.all(this.cluster.masters.map((node) => this.cluster.nodeClient(node as never)));
    return clients.map((client) =>
      scanWith((args) =>
        (client as NodeRedisClient).sendCommand(args).catch((error: unknown) => {
          throw asReplyError(error);
        }),
      ),
    );
  }
}

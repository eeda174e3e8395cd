import { SessionError } from '@org/session-core';
import type { Cluster, Redis, RedisOptions } from 'ioredis';

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
  /**
   * Two `HMGET`s in one write to the socket (keys may be on different Cluster slots). Each write
   * to a loopback or LAN socket is a system call that costs the client about as much as the rest
   * of a command, so a read of the record and the epoch pays for one.
   */
  hmgetPair(
    key: string,
    fields: readonly string[],
    otherKey: string,
    otherFields: readonly string[],
  ): Promise<[(string | null)[], (string | null)[]]>;
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
  /** `PUBLISH channel message` (on a Cluster, every node's subscribers receive it). */
  publish(channel: string, message: string): Promise<unknown>;
  /**
   * Subscribes to `channel` on a connection of its own (a connection in subscriber mode can do
   * nothing else), opened with the client's settings, that reconnects and subscribes again by
   * itself after a drop, telling `handlers` each time it is up or down.
   */
  subscribe(channel: string, options: SubscribeOptions, handlers: SubscriptionHandlers): PubSubConnection;
  /**
   * A command got no answer within the store's deadline. On a Cluster the client reads the slot
   * map again (once a second at most): a master that hangs with its connections open sends no
   * `MOVED` and drops nothing, so nothing else would tell the client that a replica took over.
   */
  stalled(): void;
}

/** How often, at most, a Cluster driver asks for the slot map after a failure or a stall. */
const REDISCOVER_EVERY_MS = 1000;

/** How a subscription connection is opened and reconnected. */
export interface SubscribeOptions {
  /** `CLIENT SETNAME` of the connection. */
  connectionName: string;
  /** Pause before reconnection attempt `times` (1, 2, ...), in ms. */
  retryDelay(times: number): number;
}

/** What a subscription connection reports. */
export interface SubscriptionHandlers {
  /** A message on the channel. */
  message(text: string): void;
  /** Subscribed (again): messages flow. */
  up(): void;
  /** The connection dropped (`disconnected`, `ended`): messages published meanwhile are lost to it. */
  down(reason: string): void;
}

/** A subscription connection, as the revocation channel drives it. */
export interface PubSubConnection {
  /** A PING on the subscription connection (allowed in subscriber mode). */
  ping(): Promise<unknown>;
  /** Drops the connection (it stopped answering) and opens a new one, which subscribes again. */
  reconnect(): void;
  /** Ends the connection for good. */
  close(): void;
}

/** A script call in flight: `reject` is cleared once it has settled, by its answer or its deadline. */
export interface ScriptCall {
  reject: ((error: unknown) => void) | null;
}

/**
 * Sends `script` by its SHA, and in full (EVAL) once if the server does not hold it yet (a
 * restart, `SCRIPT FLUSH`), then settles `call` with the answer unless its deadline did first: a
 * rejection goes through `mapError`. No promise of its own around the driver's call and no
 * closure per call (each would be an allocation and a microtask more per script).
 */
export function sendScript(
  driver: RedisDriver,
  script: { readonly source: string; readonly sha: string },
  keys: string[],
  args: (string | number)[],
  call: ScriptCall,
  resolve: (value: unknown) => void,
  mapError: (error: unknown) => unknown,
  full = false,
): void {
  let sent: Promise<unknown>;
  try {
    sent = full ? driver.eval(script.source, keys, args) : driver.evalsha(script.sha, keys, args);
  } catch (error) {
    sent = Promise.reject(error);
  }
  sent.then(
    (value) => {
      call.reject = null;
      resolve(value);
    },
    (error: unknown) => {
      const reject = call.reject;
      if (reject === null) return;
      if (!full && isNoScript(error)) return sendScript(driver, script, keys, args, call, resolve, mapError, true);
      call.reject = null;
      reject(mapError(error));
    },
  );
}

/** Whether `error` is the server's answer to an EVALSHA of a script it does not hold. */
export function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
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

  /** The sockets held corked until the end of this event-loop turn (none between turns). */
  private held: Redis['stream'][] = [];
  private readonly release = () => {
    const held = this.held;
    this.held = [];
    for (const stream of held) stream.uncork();
  };

  /**
   * ioredis writes each command to its socket at once, a system call each. Held corked until the
   * loop's check phase, the commands of every request handled in this turn leave in one write per
   * connection (on a Cluster, per node they go to).
   */
  private hold(): IoRedisClient {
    if (this.held.length === 0) {
      const nodes = this.isCluster ? (this.client as Cluster).nodes('all') : [this.client as Redis];
      for (const node of nodes) {
        const stream = node.stream;
        if (stream === undefined) continue;
        stream.cork();
        this.held.push(stream);
      }
      if (this.held.length > 0) setImmediate(this.release);
    }
    return this.client;
  }

  state(): DriverState {
    const status = this.client.status;
    if (downStates.has(status)) return 'down';
    return connectingStates.has(status) ? 'connecting' : 'ready';
  }

  private refreshAfter = 0;

  /**
   * ioredis reads its slot map from one node after another, each within its `slotsRefreshTimeout`
   * (1 s by default), so a node that hangs does not hold the look-up up.
   */
  stalled(): void {
    if (!this.isCluster) return;
    const now = Date.now();
    if (now < this.refreshAfter) return;
    this.refreshAfter = now + REDISCOVER_EVERY_MS;
    (this.client as Cluster).refreshSlotsCache();
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
    return this.hold().hmget(key, ...fields);
  }
  hmgetPair(key: string, fields: readonly string[], otherKey: string, otherFields: readonly string[]) {
    // Held (see hold), both go in one write (on a Cluster, one per node). A pipeline() does the
    // same but measured more client CPU.
    const client = this.hold();
    return Promise.all([client.hmget(key, ...fields), client.hmget(otherKey, ...otherFields)]);
  }
  hget(key: string, field: string) {
    return this.hold().hget(key, field);
  }
  exists(key: string) {
    return this.hold().exists(key);
  }
  del(key: string) {
    return this.hold().del(key);
  }
  zrem(key: string, member: string) {
    return this.hold().zrem(key, member);
  }
  zscan(key: string, cursor: string, count: number) {
    return this.hold().zscan(key, cursor, 'COUNT', count);
  }
  async setPxNx(key: string, value: string, ttlMs: number) {
    return (await this.hold().set(key, value, 'PX', ttlMs, 'NX')) === 'OK';
  }
  evalsha(sha: string, keys: string[], args: (string | number)[]) {
    return this.hold().evalsha(sha, keys.length, ...keys, ...args);
  }
  eval(source: string, keys: string[], args: (string | number)[]) {
    return this.hold().eval(source, keys.length, ...keys, ...args);
  }
  async masters(): Promise<MasterScan[]> {
    const nodes = this.client.isCluster ? (this.client as Cluster).nodes('master') : [this.client as Redis];
    return nodes.map((node) => (cursor, pattern, count) => node.scan(cursor, 'MATCH', pattern, 'COUNT', count));
  }
  publish(channel: string, message: string) {
    return this.hold().publish(channel, message);
  }

  subscribe(channel: string, options: SubscribeOptions, handlers: SubscriptionHandlers): PubSubConnection {
    const retry = (times: number) => options.retryDelay(times);
    const overrides: RedisOptions = {
      // Subscribing is ours to do on each `ready`, so `up` is said only once it has succeeded.
      autoResubscribe: false,
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      lazyConnect: false,
      connectionName: options.connectionName,
    };
    const subscriber: IoRedisClient = this.client.isCluster
      ? (this.client as Cluster).duplicate(undefined, { clusterRetryStrategy: retry, redisOptions: overrides })
      : (this.client as Redis).duplicate({ ...overrides, retryStrategy: retry });
    subscriber.on('error', () => {});
    subscriber.on('close', () => handlers.down('disconnected'));
    subscriber.on('end', () => handlers.down('ended'));
    subscriber.on('ready', () => {
      subscriber.subscribe(channel).then(
        () => handlers.up(),
        // The connection dropped again: the next `ready` retries.
        () => {},
      );
    });
    subscriber.on('message', (from: string, message: string) => {
      if (from === channel) handlers.message(message);
    });
    return {
      ping: () => subscriber.ping(),
      // ioredis reconnects (and the next `ready` subscribes) by itself.
      reconnect: () => subscriber.disconnect(true),
      close: () => subscriber.disconnect(),
    };
  }
}

/**
 * Whether `error` is the server refusing a command (a reply), as opposed to a connection that
 * failed: ioredis names them `ReplyError`; node-redis throws `ErrorReply` and its kin.
 */
export function isReplyError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'ReplyError' || isNodeRedisReply(error));
}

/** Whether node-redis `error` is a reply from the server (as opposed to a connection that failed). */
function isNodeRedisReply(error: unknown): error is Error {
  return (
    error instanceof Error && /^(?:ErrorReply|SimpleError|BlobError|MultiErrorReply)$/.test(error.constructor.name)
  );
}

/** Commands of the store as argument lists, shared by both node-redis drivers. */
abstract class NodeRedisCommands implements RedisDriver {
  abstract readonly isCluster: boolean;
  readonly keyPrefix = '';
  abstract state(): DriverState;
  /**
   * Sends `args`, routed by `key` on a Cluster: the client's own promise, no layer around it (the
   * store tells a refused command from a lost connection itself, see isReplyError).
   */
  protected abstract send(key: string, readonly: boolean, args: string[]): Promise<unknown>;
  abstract masters(): Promise<MasterScan[]>;
  abstract stalled(): void;

  whenReady(): Promise<void> {
    // Only reached in 'connecting', which node-redis drivers never report.
    return Promise.resolve();
  }

  hmget(key: string, fields: readonly string[]) {
    return this.send(key, true, ['HMGET', key, ...fields]) as Promise<(string | null)[]>;
  }
  /** node-redis writes the commands of one event-loop turn together already. */
  hmgetPair(key: string, fields: readonly string[], otherKey: string, otherFields: readonly string[]) {
    return Promise.all([this.hmget(key, fields), this.hmget(otherKey, otherFields)]);
  }
  async hget(key: string, field: string) {
    return (await this.send(key, true, ['HGET', key, field])) as string | null;
  }
  async exists(key: string) {
    return Number(await this.send(key, true, ['EXISTS', key]));
  }
  async del(key: string) {
    return Number(await this.send(key, false, ['DEL', key]));
  }
  async zrem(key: string, member: string) {
    return Number(await this.send(key, false, ['ZREM', key, member]));
  }
  async zscan(key: string, cursor: string, count: number) {
    const [next, entries] = (await this.send(key, true, ['ZSCAN', key, cursor, 'COUNT', String(count)])) as [
      string | number,
      string[],
    ];
    return [String(next), entries] as [string, string[]];
  }
  async setPxNx(key: string, value: string, ttlMs: number) {
    return (await this.send(key, false, ['SET', key, value, 'PX', String(ttlMs), 'NX'])) === 'OK';
  }
  evalsha(sha: string, keys: string[], args: (string | number)[]) {
    return this.send(keys[0] as string, false, ['EVALSHA', sha, String(keys.length), ...keys, ...args.map(String)]);
  }
  eval(source: string, keys: string[], args: (string | number)[]) {
    return this.send(keys[0] as string, false, ['EVAL', source, String(keys.length), ...keys, ...args.map(String)]);
  }
  publish(channel: string, message: string) {
    return this.send(channel, false, ['PUBLISH', channel, message]);
  }

  /** A new, unconnected single-server client with the app's settings, for one subscription connection. */
  protected abstract subscriberClient(options: SubscribeOptions): Promise<NodeRedisConnection>;

  subscribe(channel: string, options: SubscribeOptions, handlers: SubscriptionHandlers): PubSubConnection {
    return new NodeRedisSubscription(channel, options, handlers, (o) => this.subscriberClient(o));
  }
}

/** What a subscription uses of a node-redis single-server client (described by shape). */
interface NodeRedisConnection {
  readonly options?: { socket?: Record<string, unknown> } & Record<string, unknown>;
  duplicate(overrides: Record<string, unknown>): NodeRedisConnection;
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => void): Promise<void>;
  sendCommand(args: string[]): Promise<unknown>;
  destroy(): void;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** A copy of `client`'s settings for a subscription connection that never reconnects by itself. */
function subscriberCopy(client: NodeRedisConnection, options: SubscribeOptions): NodeRedisConnection {
  return client.duplicate({
    name: options.connectionName,
    // The subscription opens a new connection after a drop (see NodeRedisSubscription).
    socket: { ...client.options?.socket, reconnectStrategy: false },
    disableOfflineQueue: false,
    pingInterval: undefined,
  });
}

/**
 * One subscription on node-redis. Each connection subscribes once and is replaced by a new one
 * when it drops (or stops answering), with a growing pause between attempts: the state it reports
 * is then always the state of the connection in use, on a single server and on a Cluster alike.
 */
class NodeRedisSubscription implements PubSubConnection {
  private current: NodeRedisConnection | null = null;
  private closed = false;
  private attempts = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly channel: string,
    private readonly options: SubscribeOptions,
    private readonly handlers: SubscriptionHandlers,
    private readonly open: (options: SubscribeOptions) => Promise<NodeRedisConnection>,
  ) {
    void this.connect();
  }

  private async connect(): Promise<void> {
    this.timer = undefined;
    if (this.closed) return;
    let connection: NodeRedisConnection;
    try {
      connection = await this.open(this.options);
    } catch {
      this.retry();
      return;
    }
    if (this.closed) return;
    this.current = connection;
    const drop = (reason: string) => this.drop(connection, reason);
    connection.on('error', () => drop('disconnected'));
    connection.on('end', () => drop('ended'));
    try {
      await connection.connect();
      await connection.subscribe(this.channel, (message) => this.handlers.message(message));
    } catch {
      drop('disconnected');
      return;
    }
    if (this.current !== connection) return;
    this.attempts = 0;
    this.handlers.up();
  }

  private drop(connection: NodeRedisConnection, reason: string): void {
    if (this.current !== connection) return;
    this.current = null;
    end(connection);
    if (this.closed) return;
    this.handlers.down(reason);
    this.retry();
  }

  private retry(): void {
    if (this.closed || this.timer) return;
    this.attempts += 1;
    this.timer = setTimeout(() => void this.connect(), this.options.retryDelay(this.attempts));
    this.timer.unref?.();
  }

  ping(): Promise<unknown> {
    return this.current ? this.current.sendCommand(['PING']) : Promise.reject(new Error('not connected'));
  }

  reconnect(): void {
    if (this.current) this.drop(this.current, 'heartbeat_timeout');
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    const connection = this.current;
    this.current = null;
    if (connection) end(connection);
  }
}

/** Destroys `connection`, which throws when it is closed already: nothing is left to end then. */
function end(connection: NodeRedisConnection): void {
  try {
    connection.destroy();
  } catch {
    // Closed already.
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

  stalled(): void {}

  async masters(): Promise<MasterScan[]> {
    return [scanWith((args) => this.send('', true, args))];
  }

  protected async subscriberClient(options: SubscribeOptions) {
    return subscriberCopy(this.client as unknown as NodeRedisConnection, options);
  }
}

/** What node-redis's public `slots` holds for one slot (described by shape). */
interface SlotShard {
  master?: SlotNode;
  replicas?: readonly unknown[];
}

/** One node of a slot: its client once one was made, and the promise of its first connection. */
interface SlotNode {
  client?: { readonly isReady?: boolean };
  connectPromise?: unknown;
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
    if (this.masterIsDown(key, readonly)) {
      // With its offline queue on (node-redis's default), the node's client would hold the command
      // until it reconnects: past the caller's deadline, and then run it after all, though the
      // caller was told it failed. Refused here instead, at once; and the slot map is read again,
      // in case a replica took over (no command ever fails to tell node-redis otherwise).
      this.rediscover();
      return Promise.reject(new Error('The cluster node serving this key is not connected'));
    }
    return this.cluster.sendCommand(key, readonly, args).catch((error: unknown) => {
      if (!isNodeRedisReply(error)) this.rediscover();
      throw error;
    });
  }

  /**
   * Whether `key`'s master has a connection that is down (dropped, reconnecting), as opposed to
   * ready or still being opened. A read the slot's replicas may serve (node-redis `useReplicas`)
   * is left to node-redis.
   */
  private masterIsDown(key: string, readonly: boolean): boolean {
    const shard = (this.cluster as unknown as { slots?: readonly (SlotShard | undefined)[] }).slots?.[keySlot(key)];
    const master = shard?.master;
    if (master?.client === undefined || master.connectPromise !== undefined) return false;
    if (readonly && (shard?.replicas?.length ?? 0) > 0) return false;
    return master.client.isReady === false;
  }

  /** No new slot map before this time (ms since the epoch): one look-up per second at most. */
  private rediscoverAfter = 0;

  /**
   * node-redis reads the slot map again only on a `MOVED` reply. A master that died sends none, so
   * after its replica took over, its slots would stay routed to the dead node for good. A command
   * that failed for want of a connection therefore asks the cluster for its slot map again, in the
   * background (starting with a known master, then the seed nodes).
   */
  private rediscover(): void {
    if (!this.mayRediscover()) return;
    const startWith = (this.cluster.masters as { client?: unknown }[]).find((node) => node.client)?.client;
    if (startWith) this.rediscoverFrom(startWith);
  }

  /**
   * A master that hangs with its connections open sends no `MOVED` and drops nothing either. The
   * look-up must not start with it: node-redis waits for its answer without a timeout, and every
   * later look-up would wait on that one. It starts with the first master to answer a `PING`
   * within a second (none: the next stall tries again).
   */
  stalled(): void {
    if (!this.mayRediscover()) return;
    const clients = (this.cluster.masters as { client?: NodeRedisConnection & { isReady?: boolean } }[])
      .map((node) => node.client)
      .filter((client) => client?.isReady === true) as NodeRedisConnection[];
    if (clients.length === 0) return;
    let waiting = clients.length;
    let chosen = false;
    const timer = setTimeout(() => {
      chosen = true;
    }, REDISCOVER_EVERY_MS);
    timer.unref?.();
    for (const client of clients) {
      // A client closed since the list was read may throw rather than reject.
      Promise.resolve()
        .then(() => client.sendCommand(['PING']))
        .then(
          () => {
            if (chosen) return;
            chosen = true;
            clearTimeout(timer);
            this.rediscoverFrom(client);
          },
          () => {
            if (--waiting === 0) clearTimeout(timer);
          },
        );
    }
  }

  private mayRediscover(): boolean {
    const now = Date.now();
    if (now < this.rediscoverAfter) return false;
    this.rediscoverAfter = now + REDISCOVER_EVERY_MS;
    return true;
  }

  private rediscoverFrom(startWith: unknown): void {
    const slots = (this.cluster as unknown as { _slots?: { rediscover?: (startWith: unknown) => Promise<void> } })
      ._slots;
    // A failed look-up is tried again by the next failing command; the app's `error` listener hears of it.
    slots?.rediscover?.(startWith).catch(() => {});
  }

  /**
   * A connection to one master: on a Cluster, PUBLISH reaches the subscribers of every node. Each
   * new connection goes to the next master, so a dead node is not tried over and over.
   */
  protected async subscriberClient(options: SubscribeOptions) {
    const masters = this.cluster.masters;
    if (masters.length === 0) throw new Error('the cluster has no known master');
    const node = masters[this.nextMaster++ % masters.length];
    const client = (await this.cluster.nodeClient(node as never)) as NodeRedisConnection;
    return subscriberCopy(client, options);
  }
  private nextMaster = 0;

  async masters(): Promise<MasterScan[]> {
    const clients = await Promise.all(this.cluster.masters.map((node) => this.cluster.nodeClient(node as never)));
    return clients.map((client) => scanWith((args) => (client as NodeRedisClient).sendCommand(args)));
  }
}

/** CRC16-XMODEM by byte value, as Redis Cluster hashes keys to slots. */
const CRC16 = new Uint16Array(256);
for (let byte = 0; byte < 256; byte++) {
  let crc = byte << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
  CRC16[byte] = crc & 0xffff;
}

const utf8 = new TextEncoder();

/**
 * The Redis Cluster slot of `key`: CRC16 of its hash tag (the text between the first `{` and the
 * next `}`, if not empty) or of the whole key, as UTF-8, modulo 16384. An ASCII key costs no
 * allocation. (UTF-8 never encodes other characters with ASCII bytes, so the braces are found
 * in the string as they would be in its bytes.)
 */
export function keySlot(key: string): number {
  let start = 0;
  let end = key.length;
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (let i = start; i < end; i++) {
    const code = key.charCodeAt(i);
    if (code >= 0x80) return slotOfBytes(utf8.encode(key.slice(start, end)));
    crc = ((crc << 8) & 0xffff) ^ (CRC16[(crc >> 8) ^ code] as number);
  }
  return crc & 0x3fff;
}

function slotOfBytes(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (CRC16[(crc >> 8) ^ byte] as number);
  return crc & 0x3fff;
}

import {
  isSessionError,
  type RefreshFamilyRecord,
  recordExpiresAt,
  type SessionData,
  SessionError,
  type SessionRecord,
  type SessionStore,
} from '@org/session-core';
import { Cluster, type ClusterNode, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { compareAndSet, deleteIfOwned, indexAdd, indexPrune, type LuaScript } from './scripts.js';

/** An ioredis client for a single Redis server or for a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/** Default bound on one store operation, in ms (I2: fail fast). */
export const DEFAULT_COMMAND_TIMEOUT_MS = 1000;

/** Default prefix of every key the store writes. */
export const DEFAULT_KEY_PREFIX = 'sess:';

export interface RedisStoreOptions {
  /**
   * A client you created and own: the store never closes it. Give it `enableOfflineQueue: false`,
   * `maxRetriesPerRequest: 0` and `autoResendUnfulfilledCommands: false` to fail fast while
   * disconnected; the store bounds every operation by `commandTimeoutMs` either way.
   */
  client?: RedisClient;
  /** `redis://` or `rediss://` URL of a single server: the store opens the connection and `close()` ends it. */
  url?: string;
  /** Seed nodes of a Redis Cluster: the store opens the cluster client and `close()` ends it. */
  cluster?: { nodes: ClusterNode[]; options?: ClusterOptions };
  /** Extra ioredis options for the connection opened from `url` (the fail-fast settings always win). */
  redisOptions?: RedisOptions;
  /** Prefix of every key (default `sess:`). Keep it free of `{` so each record gets its own hash slot. */
  prefix?: string;
  /** Bound on each store operation in ms (default 1000); a slower server counts as unavailable. */
  commandTimeoutMs?: number;
}

type Counter = 'version' | 'generation';

/** Connection states in which a command cannot reach the server now: fail at once instead of queueing. */
const downStates = new Set(['reconnecting', 'close', 'end', 'disconnecting']);
/** States in which the first connection is still being set up: wait for it within the timeout. */
const connectingStates = new Set(['connecting', 'connect']);

/**
 * A session store on Redis or Redis Cluster.
 *
 * - One key per session (`<prefix>s:{<id>}`) and per refresh family (`<prefix>rf:{<id>}`), holding
 *   the JSON record, with a Redis TTL of (record expiry - now) using the manager's clock.
 * - One sorted set per user (`<prefix>u:{<userId>}`) scored by each session's expiry, pruned by
 *   score on every write and list, with its own TTL at the highest score.
 * - Every script and command touches one key, so nothing crosses a Cluster slot; no `KEYS`, no
 *   `SCAN`, no keyspace notifications.
 * - A plain read is one `GET`. Compare-and-set and owner-checked deletes run as Lua scripts.
 * - Connection loss, timeouts and refused commands reject with `SessionError('STORE_UNAVAILABLE')`.
 *
 * @example
 * ```ts
 * import { SessionManager } from '@org/session-core'
 * import { RedisStore } from '@org/session-store-redis'
 *
 * const store = new RedisStore({ url: 'redis://127.0.0.1:6379' })
 * const sessions = new SessionManager({ store })
 * // ... on shutdown:
 * await store.close()
 * ```
 */
export class RedisStore<D extends SessionData = SessionData> implements SessionStore<D> {
  /** The ioredis client in use (yours, or the one the store opened). */
  readonly client: RedisClient;
  /** Whether the store opened `client` itself and therefore closes it. */
  readonly ownsClient: boolean;
  readonly prefix: string;
  readonly commandTimeoutMs: number;
  private ready: Promise<void> | null = null;
  private closed = false;

  constructor(options: RedisStoreOptions) {
    const sources = [options?.client, options?.url, options?.cluster].filter((s) => s !== undefined);
    if (sources.length !== 1) {
      throw new SessionError('CONFIG_INVALID', 'Pass exactly one of client, url or cluster');
    }
    const timeout = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    if (!Number.isFinite(timeout) || timeout <= 0) {
      throw new SessionError('CONFIG_INVALID', 'commandTimeoutMs must be a positive number');
    }
    const prefix = options.prefix ?? DEFAULT_KEY_PREFIX;
    if (typeof prefix !== 'string') throw new SessionError('CONFIG_INVALID', 'prefix must be a string');
    this.prefix = prefix;
    this.commandTimeoutMs = timeout;

    if (options.client) {
      this.client = options.client;
      this.ownsClient = false;
      return;
    }
    // Fail fast on the request path: no offline queue, no retries, no replay of commands that were
    // in flight when the connection dropped. Reconnection itself goes on in the background.
    const failFast = {
      commandTimeout: timeout,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
    } satisfies RedisOptions;
    if (options.url !== undefined) {
      if (typeof options.url !== 'string' || !/^rediss?:\/\//.test(options.url)) {
        throw new SessionError('CONFIG_INVALID', 'url must start with redis:// or rediss://');
      }
      this.client = new Redis(options.url, {
        retryStrategy: backoff,
        ...options.redisOptions,
        ...failFast,
        enableOfflineQueue: false,
      });
    } else {
      const cluster = options.cluster as NonNullable<RedisStoreOptions['cluster']>;
      if (!Array.isArray(cluster.nodes) || cluster.nodes.length === 0) {
        throw new SessionError('CONFIG_INVALID', 'cluster.nodes must list at least one node');
      }
      this.client = new Cluster(cluster.nodes, {
        clusterRetryStrategy: backoff,
        ...cluster.options,
        enableOfflineQueue: false,
        redisOptions: { ...cluster.options?.redisOptions, ...failFast },
      });
    }
    this.ownsClient = true;
    // Errors reach callers as STORE_UNAVAILABLE; without a listener ioredis would log each one.
    this.client.on('error', () => {});
  }

  /** Key of one session record. The id is the hash tag: each session lands on its own slot. */
  sessionKey(id: string): string {
    return `${this.prefix}s:{${id}}`;
  }

  /** Key of one user's index (a sorted set of session ids scored by expiry). */
  userIndexKey(userId: string): string {
    return `${this.prefix}u:{${userId}}`;
  }

  /** Key of one refresh-token family record. */
  refreshFamilyKey(id: string): string {
    return `${this.prefix}rf:{${id}}`;
  }

  async create(record: SessionRecord<D>, now: number): Promise<void> {
    const key = this.sessionKey(record.id);
    const expiresAt = recordExpiresAt(record);
    const ttl = relativeTtl(expiresAt, now);
    await this.run(async () => {
      if (ttl <= 0) {
        // Already expired on arrival: nothing to keep, but an existing id is still a conflict.
        if ((await this.client.exists(key)) === 1) throw conflict('Session id already exists');
        return;
      }
      if ((await this.client.set(key, JSON.stringify(record), 'PX', ttl, 'NX')) === null) {
        throw conflict('Session id already exists');
      }
    });
    // Indexed after the record exists, so a concurrent list never prunes a session being created.
    try {
      await this.run(() => this.script(indexAdd, this.userIndexKey(record.userId), [now, record.id, expiresAt]));
    } catch (error) {
      // An unindexed session would escape "log out everywhere": undo it. The token was never handed
      // out (create fails), so even if this undo fails too, the leftover is unusable until its TTL.
      await this.run(() => this.client.del(key)).catch(() => 0);
      throw error;
    }
  }

  async get(id: string, now: number): Promise<SessionRecord<D> | null> {
    const raw = await this.run(() => this.client.get(this.sessionKey(id)));
    return decodeLive<SessionRecord<D>>(raw, id, now);
  }

  async update(record: SessionRecord<D>, expectedVersion: number, now: number): Promise<boolean> {
    const expiresAt = recordExpiresAt(record);
    const ttl = relativeTtl(expiresAt, now);
    const cas = () => this.compareAndSet(this.sessionKey(record.id), 'version', expectedVersion, record, ttl, now);
    if (ttl <= 0) return this.run(cas);
    // The index entry and the record go out together: a touch costs one round trip, not two.
    // Raising an index score is harmless even when the compare-and-set then loses. The index
    // command is issued first, so a single server applies it before the record.
    const [indexed, written] = await Promise.allSettled([
      this.run(() => this.script(indexAdd, this.userIndexKey(record.userId), [now, record.id, expiresAt])),
      this.run(cas),
    ]);
    if (written.status === 'rejected') throw written.reason;
    if (written.value && indexed.status === 'rejected') throw indexed.reason;
    return written.value;
  }

  async delete(id: string): Promise<boolean> {
    const raw = await this.run(() => this.client.getdel(this.sessionKey(id)));
    if (raw === null) return false;
    const userId = parseRecord<SessionRecord<D>>(raw)?.userId;
    // The session is gone either way; a missed index removal is pruned by the next list.
    if (typeof userId === 'string') {
      await this.run(() => this.client.zrem(this.userIndexKey(userId), id)).catch(() => 0);
    }
    return true;
  }

  async listByUser(userId: string, now: number): Promise<SessionRecord<D>[]> {
    const indexKey = this.userIndexKey(userId);
    const entries = await this.run(() => this.client.zrange(indexKey, 0, -1, 'WITHSCORES'));
    const candidates: string[] = [];
    let expiredEntries = 0;
    for (let i = 0; i + 1 < entries.length; i += 2) {
      if (Number(entries[i + 1]) > now) candidates.push(entries[i] as string);
      else expiredEntries++;
    }
    const raws = await this.run(() => Promise.all(candidates.map((id) => this.client.get(this.sessionKey(id)))));
    const live: SessionRecord<D>[] = [];
    const gone: string[] = [];
    candidates.forEach((id, i) => {
      const record = decodeLive<SessionRecord<D>>(raws[i] ?? null, id, now);
      // Gone, expired, or re-owned by another user: the entry no longer belongs in this index.
      if (record && record.userId === userId) live.push(record);
      else gone.push(id);
    });
    if (gone.length > 0 || expiredEntries > 0) {
      await this.run(() => this.script(indexPrune, indexKey, [now, ...gone]));
    }
    return live;
  }

  async deleteByUser(userId: string, exceptId?: string): Promise<number> {
    const indexKey = this.userIndexKey(userId);
    // Every entry, whatever its score: a revocation must not trust the index's idea of expiry.
    const ids = (await this.run(() => this.client.zrange(indexKey, 0, -1))).filter((id) => id !== exceptId);
    if (ids.length === 0) return 0;
    const results = await this.run(() =>
      Promise.all(ids.map((id) => this.script(deleteIfOwned, this.sessionKey(id), [userId]))),
    );
    await this.run(() => this.client.zrem(indexKey, ...ids));
    return results.filter((r) => r === 1).length;
  }

  async createRefreshFamily(family: RefreshFamilyRecord, now: number): Promise<void> {
    const key = this.refreshFamilyKey(family.id);
    const ttl = relativeTtl(recordExpiresAt(family), now);
    await this.run(async () => {
      if (ttl <= 0) {
        if ((await this.client.exists(key)) === 1) throw conflict('Refresh family id already exists');
        return;
      }
      if ((await this.client.set(key, JSON.stringify(family), 'PX', ttl, 'NX')) === null) {
        throw conflict('Refresh family id already exists');
      }
    });
  }

  async getRefreshFamily(id: string, now: number): Promise<RefreshFamilyRecord | null> {
    const raw = await this.run(() => this.client.get(this.refreshFamilyKey(id)));
    return decodeLive<RefreshFamilyRecord>(raw, id, now);
  }

  async updateRefreshFamily(family: RefreshFamilyRecord, expectedGeneration: number, now: number): Promise<boolean> {
    const ttl = relativeTtl(recordExpiresAt(family), now);
    return this.run(() =>
      this.compareAndSet(this.refreshFamilyKey(family.id), 'generation', expectedGeneration, family, ttl, now),
    );
  }

  /** Ends the connection if the store opened it; a client you passed in is left open. */
  async close(): Promise<void> {
    if (!this.ownsClient || this.closed) return;
    this.closed = true;
    const client = this.client;
    if (client.status !== 'ready') {
      // Also stops a pending reconnect attempt.
      client.disconnect();
      return;
    }
    const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
    try {
      // QUIT lets replies in flight arrive first; the connection is gone once 'end' fires.
      await client.quit();
      await Promise.race([ended, delay(this.commandTimeoutMs)]);
    } catch {
      client.disconnect();
    }
  }

  private async compareAndSet(
    key: string,
    counter: Counter,
    expected: number,
    next: object,
    ttl: number,
    now: number,
  ): Promise<boolean> {
    const result = await this.script(compareAndSet, key, [counter, expected, now, JSON.stringify(next), ttl]);
    return result === 1;
  }

  /** EVALSHA, falling back to EVAL once when the server has not cached the script yet. */
  private async script(script: LuaScript, key: string, args: (string | number)[]): Promise<unknown> {
    try {
      return await this.client.evalsha(script.sha, 1, key, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return this.client.eval(script.source, 1, key, ...args);
    }
  }

  /**
   * Runs one store operation within `commandTimeoutMs`, failing at once while disconnected and
   * turning every driver error into `STORE_UNAVAILABLE` (fail closed).
   */
  private async run<T>(operation: () => Promise<T>): Promise<T> {
    const status = this.client.status;
    if (this.closed || downStates.has(status)) throw unavailable('disconnected');
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(unavailable('timeout')), this.commandTimeoutMs);
    });
    try {
      const work = connectingStates.has(status) ? this.whenReady().then(operation) : operation();
      return await Promise.race([work, deadline]);
    } catch (error) {
      throw toStoreError(error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves when the first connection is up, rejects when it fails; shared by every call meanwhile. */
  private whenReady(): Promise<void> {
    if (this.client.status === 'ready') return Promise.resolve();
    this.ready ??= new Promise<void>((resolve, reject) => {
      const settle = (error: SessionError | null) => {
        this.client.off('ready', onReady);
        this.client.off('close', onClose);
        this.ready = null;
        if (error) reject(error);
        else resolve();
      };
      const onReady = () => settle(null);
      const onClose = () => settle(unavailable('disconnected'));
      this.client.once('ready', onReady);
      this.client.once('close', onClose);
    });
    return this.ready;
  }
}

/** Reconnect in the background with a capped back-off; requests meanwhile fail fast. */
function backoff(attempt: number): number {
  return Math.min(attempt * 100, 2000);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
}

/** Milliseconds the record has left by the manager's clock (never Redis's own: CL-04). */
function relativeTtl(expiresAt: number, now: number): number {
  return Math.ceil(expiresAt - now);
}

function parseRecord<T>(raw: string): T | null {
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null ? (value as T) : null;
  } catch {
    return null;
  }
}

/** The stored record if it is the one asked for and still live at `now`; null otherwise. */
function decodeLive<T extends { id: string; idleExpiresAt: number | null; absoluteExpiresAt: number }>(
  raw: string | null,
  id: string,
  now: number,
): T | null {
  if (raw === null) return null;
  const record = parseRecord<T>(raw);
  if (!record || record.id !== id || typeof record.absoluteExpiresAt !== 'number') return null;
  return recordExpiresAt(record) > now ? record : null;
}

function conflict(message: string): SessionError {
  return new SessionError('STORE_CONFLICT', message);
}

function unavailable(reason: 'timeout' | 'disconnected' | 'refused', cause?: unknown): SessionError {
  const messages = {
    timeout: 'The session store did not answer in time',
    disconnected: 'The session store is not connected',
    refused: 'The session store refused the command',
  };
  return new SessionError('STORE_UNAVAILABLE', messages[reason], { reason, cause });
}

/**
 * Maps anything thrown by the driver to `STORE_UNAVAILABLE`. The cause keeps only the error's
 * name and message: ioredis attaches the command and its arguments, which hold session records.
 */
function toStoreError(error: unknown): SessionError {
  if (isSessionError(error)) return error;
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  const cause = new Error(message.slice(0, 200));
  cause.name = name;
  if (/timed out/i.test(message)) return unavailable('timeout', cause);
  if (name === 'ReplyError') return unavailable('refused', cause);
  return unavailable('disconnected', cause);
}

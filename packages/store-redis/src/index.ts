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
import {
  deleteIfOwned,
  familyCompareAndSet,
  indexAdd,
  indexPrune,
  type LuaScript,
  sessionCompareAndSet,
} from './scripts.js';

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

/** Default number of keys `deleteAll` asks SCAN for (its COUNT hint) and deletes per round. */
export const DEFAULT_DELETE_ALL_BATCH_SIZE = 500;

export interface RedisDeleteAllOptions {
  /** Keys per SCAN round (the COUNT hint), deleted before the next round. Default 500. */
  batchSize?: number;
}

/** How many sessions' index scores the store remembers between a read and the touch after it. */
const INDEX_HINTS = 4096;

/** Connection states in which a command cannot reach the server now: fail at once instead of queueing. */
const downStates = new Set(['reconnecting', 'close', 'end', 'disconnecting']);
/** States in which the first connection is still being set up: wait for it within the timeout. */
const connectingStates = new Set(['connecting', 'connect']);

/**
 * A session store on Redis or Redis Cluster.
 *
 * - One key per session (`<prefix>s:{<id>}`) and per refresh family (`<prefix>rf:{<id>}`), with a
 *   Redis TTL of (record expiry - now) by the manager's clock (CL-04).
 * - One sorted set per user (`<prefix>u:{<userId>}`), scored by a deadline at least a clock margin
 *   past each session's expiry, pruned by score on every write and list, with its own TTL.
 * - Every script and command touches one key, so nothing crosses a Cluster slot; no `KEYS`, no
 *   keyspace notifications, and `SCAN` only in the administrative {@link RedisStore.deleteAll}.
 * - A plain read is one `GET`; a touch is usually one Lua compare-and-set.
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
  /** Session id -> a score its index entry is known to hold (a hint; the scripts decide). */
  private readonly indexHints = new Map<string, number>();

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
    // The store's own timer bounds every operation (one per call, on single servers and clusters).
    const failFast = {
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

  /** Key of one user's index (a sorted set of session ids, each scored by its `indexedUntil`). */
  userIndexKey(userId: string): string {
    return `${this.prefix}u:{${userId}}`;
  }

  /** Key of one refresh-token family record. */
  refreshFamilyKey(id: string): string {
    return `${this.prefix}rf:{${id}}`;
  }

  async create(record: SessionRecord<D>, now: number): Promise<void> {
    const key = this.sessionKey(record.id);
    const ttl = relativeTtl(recordExpiresAt(record), now);
    const indexedUntil = indexTarget(record);
    await this.run(async () => {
      if (ttl <= 0) {
        // Already expired on arrival: nothing to keep, but an existing id is still a conflict.
        if ((await this.client.exists(key)) === 1) throw conflict('Session id already exists');
        return;
      }
      const envelope = sessionEnvelope(indexedUntil, JSON.stringify(record));
      if ((await this.client.set(key, envelope, 'PX', ttl, 'NX')) === null) {
        throw conflict('Session id already exists');
      }
    });
    if (ttl <= 0) return;
    // Indexed after the record exists, so a concurrent list never prunes a session being created.
    try {
      await this.run(() => this.script(indexAdd, this.userIndexKey(record.userId), [now, record.id, indexedUntil]));
    } catch (error) {
      // An unindexed session would escape "log out everywhere": undo it. The token was never handed
      // out (create fails), so even if this undo fails too, the leftover is unusable until its TTL.
      await this.run(() => this.client.del(key)).catch(() => 0);
      throw error;
    }
    this.remember(record.id, indexedUntil);
  }

  async get(id: string, now: number): Promise<SessionRecord<D> | null> {
    const raw = await this.run(() => this.client.get(this.sessionKey(id)));
    const envelope = openSessionEnvelope<D>(raw, id, now);
    if (!envelope) return null;
    this.remember(id, envelope.indexedUntil);
    return envelope.session;
  }

  async update(record: SessionRecord<D>, expectedVersion: number, now: number): Promise<boolean> {
    const key = this.sessionKey(record.id);
    const expiresAt = recordExpiresAt(record);
    const ttl = relativeTtl(expiresAt, now);
    const json = JSON.stringify(record);
    const attempt = (raised: number | '') =>
      this.run(() =>
        this.script(sessionCompareAndSet, key, [expectedVersion, now, json, ttl, mustCover, raised, record.userId]),
      );
    // Most touches stay within what the index already holds: one script, one round trip. When the
    // new deadline passes it, the index is raised first, and only then does the record move.
    const mustCover = indexFloor(record);
    const known = this.indexHints.get(record.id);
    let raised: number | '' = '';
    if (ttl > 0 && known !== undefined && mustCover > known) raised = await this.raiseIndex(record, now);
    let outcome = await attempt(raised);
    if (outcome === NEEDS_INDEX && raised === '') outcome = await attempt(await this.raiseIndex(record, now));
    if (typeof outcome !== 'number' || outcome <= 0) return false;
    if (ttl > 0) this.remember(record.id, outcome);
    else this.indexHints.delete(record.id);
    return true;
  }

  async delete(id: string): Promise<boolean> {
    const raw = await this.run(() => this.client.getdel(this.sessionKey(id)));
    this.indexHints.delete(id);
    if (raw === null) return false;
    const userId = parseJson<{ session?: { userId?: unknown } }>(raw)?.session?.userId;
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
      const session = parseJson<{ session?: SessionRecord<D> }>(raws[i] ?? null)?.session;
      // Deleted, unreadable or re-owned: the entry no longer belongs here. An entry whose session
      // merely looks expired by this clock stays until its score passes (other instances may
      // run a little behind).
      if (!session || session.id !== id || session.userId !== userId) gone.push(id);
      else if (isLive(session, id, now)) live.push(session);
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
    for (const id of ids) this.indexHints.delete(id);
    await this.run(() => this.client.zrem(indexKey, ...ids));
    return results.filter((r) => r === 1).length;
  }

  /**
   * Deletes every session, user index and refresh family under this store's prefix (E3: log
   * everyone out) and returns how many sessions it deleted. Administrative, never on a request
   * path: it walks the keyspace of every master with `SCAN ... MATCH <prefix>*` in rounds of
   * `batchSize` keys (never `KEYS`), and deletes each key of this store's layout with its own
   * `DEL` (so no command crosses a Cluster slot). Keys of other prefixes, including longer ones
   * that start with this one, are left alone. Each round is bounded by `commandTimeoutMs`; on a
   * failure it rejects with `STORE_UNAVAILABLE` and can simply be called again. Sessions created
   * while it runs may survive it.
   *
   * @example
   * ```ts
   * const ended = await store.deleteAll() // or, with an event: sessions.revokeEveryone()
   * ```
   */
  async deleteAll(options: RedisDeleteAllOptions = {}): Promise<number> {
    const batchSize = options.batchSize ?? DEFAULT_DELETE_ALL_BATCH_SIZE;
    if (!Number.isInteger(batchSize) || batchSize <= 0) {
      throw new SessionError('CONFIG_INVALID', 'batchSize must be a positive integer');
    }
    // SCAN patterns and replies carry the client's own keyPrefix; commands add it by themselves.
    const clientPrefix = clientKeyPrefix(this.client);
    const pattern = `${escapeGlob(clientPrefix + this.prefix)}*`;
    const masters = await this.run(async () => mastersOf(this.client));
    let sessions = 0;
    for (const node of masters) {
      let cursor = '0';
      do {
        const [next, found] = await this.run(() => node.scan(cursor, 'MATCH', pattern, 'COUNT', batchSize));
        cursor = next;
        const ours = found.map((key) => key.slice(clientPrefix.length)).filter((key) => this.ownsKey(key));
        const deleted = await this.run(() => Promise.all(ours.map((key) => this.client.del(key))));
        ours.forEach((key, i) => {
          if (deleted[i] === 1 && key.startsWith(`${this.prefix}s:`)) sessions++;
        });
      } while (cursor !== '0');
    }
    this.indexHints.clear();
    return sessions;
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
    const family = parseJson<RefreshFamilyRecord>(raw);
    return family && isLive(family, id, now) ? family : null;
  }

  async updateRefreshFamily(family: RefreshFamilyRecord, expectedGeneration: number, now: number): Promise<boolean> {
    const ttl = relativeTtl(recordExpiresAt(family), now);
    const key = this.refreshFamilyKey(family.id);
    const outcome = await this.run(() =>
      this.script(familyCompareAndSet, key, [expectedGeneration, now, JSON.stringify(family), ttl]),
    );
    return outcome === 1;
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

  /**
   * Whether `key` has this store's layout: `<prefix>s:{id}`, `<prefix>rf:{id}` or `<prefix>u:{userId}`.
   * A store whose prefix merely starts with ours (`sess:` and `sess:other:`) never matches.
   */
  private ownsKey(key: string): boolean {
    if (!key.startsWith(this.prefix)) return false;
    return OWN_KEY.test(key.slice(this.prefix.length));
  }

  /** Raises the user index entry of `record` to its target score; returns that score. */
  private async raiseIndex(record: SessionRecord<D>, now: number): Promise<number> {
    const target = indexTarget(record);
    await this.run(() => this.script(indexAdd, this.userIndexKey(record.userId), [now, record.id, target]));
    return target;
  }

  /** Remembers a lower bound of a session's index score (scores only ever rise). */
  private remember(id: string, indexedUntil: number): void {
    const known = this.indexHints.get(id);
    if (known !== undefined && known >= indexedUntil) return;
    if (known !== undefined) this.indexHints.delete(id);
    else if (this.indexHints.size >= INDEX_HINTS) {
      const oldest = this.indexHints.keys().next();
      if (!oldest.done) this.indexHints.delete(oldest.value);
    }
    this.indexHints.set(id, indexedUntil);
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
  private run<T>(operation: () => Promise<T>): Promise<T> {
    const status = this.client.status;
    if (this.closed || downStates.has(status)) return Promise.reject(unavailable('disconnected'));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(unavailable('timeout')), this.commandTimeoutMs);
      let work: Promise<T>;
      try {
        work = connectingStates.has(status) ? this.whenReady().then(operation) : operation();
      } catch (error) {
        work = Promise.reject(error);
      }
      work.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(toStoreError(error));
        },
      );
    });
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

/** A key after the store's prefix: a session or family id (never braces), or a user index (any user id). */
const OWN_KEY = /^(?:(?:s|rf):\{[^{}]*\}|u:\{[\s\S]*\})$/;

/** The masters whose keyspaces together hold every key: the one server, or each Cluster master. */
function mastersOf(client: RedisClient): Redis[] {
  return client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
}

/** ioredis's own `keyPrefix` option, which it adds to key arguments but not to SCAN. */
function clientKeyPrefix(client: RedisClient): string {
  const prefix: unknown = client.options.keyPrefix;
  return typeof prefix === 'string' ? prefix : '';
}

/** Escapes the characters Redis glob patterns give meaning to, so a prefix matches only itself. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
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

/** Answer of the session compare-and-set script when the index must be raised first. */
const NEEDS_INDEX = -1;

/**
 * Instances sharing the store may disagree on the time by up to this much (core's documented
 * skew); index scores keep a margin over the session's expiry so that a clock running ahead never
 * prunes a live session.
 */
const CLOCK_MARGIN_MS = 60_000;

/** The session's idle span: how long its last activity keeps it alive. */
function spanOf(record: SessionRecord): number {
  return Math.max(0, recordExpiresAt(record) - record.lastSeenAt);
}

/**
 * The lowest index score that still covers `record`: its expiry plus the clock margin (at most
 * half its idle span, for very short sessions), never past the absolute deadline.
 */
function indexFloor(record: SessionRecord): number {
  const margin = Math.min(CLOCK_MARGIN_MS, spanOf(record) / 2);
  return Math.ceil(Math.min(record.absoluteExpiresAt, recordExpiresAt(record) + margin));
}

/**
 * The score a session's index entry gets when (re)indexed: its expiry plus one more idle span,
 * capped by the absolute deadline. The headroom lets the touches that follow slide the expiry
 * without writing the index again (with the default policy, five touches in six).
 */
function indexTarget(record: SessionRecord): number {
  return Math.ceil(Math.min(record.absoluteExpiresAt, recordExpiresAt(record) + spanOf(record)));
}

function sessionEnvelope(indexedUntil: number, recordJson: string): string {
  return `{"indexedUntil":${indexedUntil},"session":${recordJson}}`;
}

function openSessionEnvelope<D extends SessionData>(
  raw: string | null,
  id: string,
  now: number,
): { indexedUntil: number; session: SessionRecord<D> } | null {
  const envelope = parseJson<{ indexedUntil?: unknown; session?: SessionRecord<D> }>(raw);
  const session = envelope?.session;
  if (!session || typeof envelope.indexedUntil !== 'number' || !isLive(session, id, now)) return null;
  return { indexedUntil: envelope.indexedUntil, session };
}

function parseJson<T>(raw: string | null): T | null {
  if (raw === null) return null;
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null ? (value as T) : null;
  } catch {
    return null;
  }
}

/** Whether a stored record is the one asked for and still live at `now` (by the manager's clock). */
function isLive(
  record: { id?: unknown; idleExpiresAt: number | null; absoluteExpiresAt: number },
  id: string,
  now: number,
): boolean {
  if (typeof record !== 'object' || record === null) return false;
  if (record.id !== id || typeof record.absoluteExpiresAt !== 'number') return false;
  return recordExpiresAt(record) > now;
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

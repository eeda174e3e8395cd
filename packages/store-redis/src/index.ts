export { RedisAttemptCounter, type RedisAttemptCounterOptions } from './attempts.js';

import {
  EXPIRED_RETENTION_MS,
  isRevokedByEpoch,
  isSessionError,
  type RefreshFamilyRecord,
  type RefreshFamilyStore,
  recordExpiresAt,
  type SessionData,
  SessionError,
  type SessionRecord,
  type SessionStore,
  type UserEpoch,
} from '@org/session-core';
import { Deadlines } from '@org/session-core/adapter';
import { Cluster, type ClusterNode, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { type AnyRedisClient, driverFor, isReplyError, type RedisDriver, sendScript } from './client.js';
import {
  createFamily,
  createSession,
  deleteIfOwned,
  deleteSession,
  indexAdd,
  indexNext,
  indexPrune,
  type LuaScript,
  rotateInPlace,
  rotateOld,
  rotationOutcome,
  setUserEpoch,
  touchSession,
  touchSessionRaisingIndex,
  updateFamily,
  updateSession,
  updateSessionRaisingIndex,
} from './scripts.js';

export type { AnyRedisClient, IoRedisClient, NodeRedisClient, NodeRedisCluster } from './client.js';

export {
  DEFAULT_REVOCATION_CHANNEL,
  RedisRevocationChannel,
  type RedisRevocationChannelOptions,
} from './revocation.js';

/** An ioredis (5 or 6) client for a single Redis server or for a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/** Default bound on one store operation, in ms (I2: fail fast). */
export const DEFAULT_COMMAND_TIMEOUT_MS = 1000;

/** Default prefix of every key the store writes. */
export const DEFAULT_KEY_PREFIX = 'sess:';

export interface RedisStoreOptions<C extends AnyRedisClient = RedisClient> {
  /**
   * A client you created and own: the store never closes it. An ioredis 5 or 6 `Redis` or
   * `Cluster` (give it `enableOfflineQueue: false`, `maxRetriesPerRequest: 0` and
   * `autoResendUnfulfilledCommands: false` to fail fast while disconnected), or a node-redis 5+
   * client from `createClient()` or `createCluster()`, connected first (`await client.connect()`;
   * `disableOfflineQueue: true` fails fast). The store bounds every operation by
   * `commandTimeoutMs` either way. Anything else is refused with `CONFIG_INVALID`.
   */
  client?: C;
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
  /**
   * Sessions per round in `listByUser` and `deleteByUser` (default 500). Each round is bounded by
   * `commandTimeoutMs` on its own, so a user with tens of thousands of sessions is listed and
   * revoked in many short rounds rather than one long call.
   */
  userBatchSize?: number;
}

/** Default number of sessions `listByUser` and `deleteByUser` handle per round. */
export const DEFAULT_USER_BATCH_SIZE = 500;

/** Default number of keys `deleteAll` asks SCAN for (its COUNT hint) and deletes per round. */
export const DEFAULT_DELETE_ALL_BATCH_SIZE = 500;

export interface RedisDeleteAllOptions {
  /** Keys per SCAN round (the COUNT hint), deleted before the next round. Default 500. */
  batchSize?: number;
}

/** How many sessions' owners and index scores the store remembers between one read and the next. */
const HINTS = 8192;

/** What the store remembers of a session: its user, and a score its index entry is known to hold. */
interface Hint {
  userId: string;
  /** The user's tag ({@link userTag}) and epoch key, built once rather than per read and write. */
  owner: string;
  epochKey: string;
  indexedUntil: number;
  /** {@link RedisStore.hintsInserted} when it was last (re)inserted. */
  inserted: number;
}

/**
 * How long a rotation mark (`<prefix>t:{<oldId>}`) says "done" after a rotation: long enough for
 * the check that follows a rotation whose answer was lost, which runs right after it.
 */
const ROTATION_MARK_MS = 60_000;

/** Extra rounds `deleteByUser` allows itself for sessions that appear while it runs (rotations). */
const EXTRA_REVOCATION_ROUNDS = 16;

/**
 * A session store on Redis or Redis Cluster.
 *
 * - One hash per session (`<prefix>s:{<id>}`) with the fields its scripts need (owner, version,
 *   createdAt, expiresAt, indexedUntil) beside the record as JSON, which no script ever decodes;
 *   one hash per refresh family (`<prefix>rf:{<id>}`). Redis TTLs are the record's deadline plus
 *   {@link EXPIRED_RETENTION_MS} - now, by the manager's clock (CL-04), so an expired session is
 *   reported as expired, not unknown, for an hour.
 * - Per user, on one slot: a sorted set of session ids (`<prefix>u:{<user>}`), scored by a deadline
 *   at least a clock margin past each session's expiry, and the "valid after" epoch written by
 *   "log out everywhere" (`<prefix>ue:{<user>}`).
 * - Every script touches keys of one slot (a single-server rotation aside); no `KEYS`, no
 *   keyspace notifications, and `SCAN` only in the administrative {@link RedisStore.deleteAll}.
 * - A plain read is two commands: the record and the user's epoch, in one round trip once the
 *   store has seen the session (two otherwise). A touch is usually one Lua compare-and-set.
 * - Connection loss, timeouts and refused commands reject with `SessionError('STORE_UNAVAILABLE')`.
 * - Each call of a per-key method settles within `commandTimeoutMs` end to end (`rotate` within
 *   twice it), which the store declares as {@link RedisStore.settlesWithinMs}: a manager whose
 *   `storeTimeoutMs` is not smaller then sets no second deadline on those calls.
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
export class RedisStore<D extends SessionData = SessionData, C extends AnyRedisClient = RedisClient>
  implements SessionStore<D>, RefreshFamilyStore
{
  /** The client in use (yours, or the ioredis client the store opened). */
  readonly client: C;
  /** The client's commands, whichever library it comes from. */
  private readonly driver: RedisDriver;
  /** Whether the store opened `client` itself and therefore closes it. */
  readonly ownsClient: boolean;
  readonly prefix: string;
  readonly commandTimeoutMs: number;
  /**
   * `commandTimeoutMs`: every call of a per-key method (all but `listByUser`, `deleteByUser` and
   * `deleteAll`, which bound each round) settles within it end to end, `rotate` within twice it
   * ({@link SessionStore.settlesWithinMs}). The wait for a first connection and every later step
   * of a call share the call's one bound, so a manager whose `storeTimeoutMs` is at least this
   * adds no deadline of its own.
   */
  readonly settlesWithinMs: number;
  readonly userBatchSize: number;
  private closed = false;
  /**
   * Session id -> its user and a score its index entry is known to hold. Hints only: a read
   * checks the user against the record, and the scripts decide about the index.
   */
  private readonly hints = new Map<string, Hint>();
  /** Hints (re)inserted so far: the age of a hint in {@link remember}'s order of use. */
  private hintsInserted = 0;
  /** Bounds every operation by `commandTimeoutMs` with one coarse timer. */
  private readonly deadlines: Deadlines;

  constructor(options: RedisStoreOptions<C>) {
    const sources = [options?.client, options?.url, options?.cluster].filter((s) => s !== undefined);
    if (sources.length !== 1) {
      throw new SessionError('CONFIG_INVALID', 'Pass exactly one of client, url or cluster');
    }
    const timeout = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    if (!Number.isFinite(timeout) || timeout <= 0) {
      throw new SessionError('CONFIG_INVALID', 'commandTimeoutMs must be a positive number');
    }
    const batch = options.userBatchSize ?? DEFAULT_USER_BATCH_SIZE;
    if (!Number.isInteger(batch) || batch <= 0) {
      throw new SessionError('CONFIG_INVALID', 'userBatchSize must be a positive integer');
    }
    const prefix = options.prefix ?? DEFAULT_KEY_PREFIX;
    if (typeof prefix !== 'string') throw new SessionError('CONFIG_INVALID', 'prefix must be a string');
    this.prefix = prefix;
    this.commandTimeoutMs = timeout;
    this.settlesWithinMs = timeout;
    this.userBatchSize = batch;
    // A command that timed out may be waiting on a Cluster master that hangs: the driver looks for a new one.
    this.deadlines = new Deadlines(timeout, () => {
      this.driver.stalled();
      return unavailable('timeout');
    });

    if (options.client) {
      this.client = options.client;
      this.driver = driverFor(options.client);
      this.ownsClient = false;
      return;
    }
    // Fail fast on the request path: no offline queue, no retries, no replay of commands that were
    // in flight when the connection dropped. Reconnection itself goes on in the background.
    // The store bounds every operation by its own deadline, on single servers and clusters.
    let client: RedisClient;
    const failFast = {
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
    } satisfies RedisOptions;
    if (options.url !== undefined) {
      if (typeof options.url !== 'string' || !/^rediss?:\/\//.test(options.url)) {
        throw new SessionError('CONFIG_INVALID', 'url must start with redis:// or rediss://');
      }
      client = new Redis(options.url, {
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
      client = new Cluster(cluster.nodes, {
        clusterRetryStrategy: backoff,
        ...cluster.options,
        enableOfflineQueue: false,
        redisOptions: { ...cluster.options?.redisOptions, ...failFast },
      });
    }
    this.ownsClient = true;
    // Errors reach callers as STORE_UNAVAILABLE; without a listener ioredis would log each one.
    client.on('error', () => {});
    this.client = client as C;
    this.driver = driverFor(client);
  }

  /** Key of one session record. The id is the hash tag: each session lands on its own slot. */
  sessionKey(id: string): string {
    return `${this.prefix}s:{${id}}`;
  }

  /** Key of one user's index (a sorted set of session ids, each scored by its `indexedUntil`). */
  userIndexKey(userId: string): string {
    return this.indexKeyOf(userTag(userId));
  }

  /** Key of one user's epoch (a hash), on the same slot as the user's index. */
  userEpochKey(userId: string): string {
    return this.epochKeyOf(userTag(userId));
  }

  /** Key of one refresh-token family record. */
  refreshFamilyKey(id: string): string {
    return `${this.prefix}rf:{${id}}`;
  }

  /** Key of the mark a rotation of session `id` leaves for a minute, on that session's slot. */
  rotationMarkKey(id: string): string {
    return `${this.prefix}t:{${id}}`;
  }

  create(record: SessionRecord<D>, now: number): Promise<void> {
    return this.createWithin(record, now, performance.now(), this.commandTimeoutMs);
  }

  /** {@link create} as a part of a call that started at `startedAt` and is bounded by `span` ms. */
  private async createWithin(record: SessionRecord<D>, now: number, startedAt: number, span: number): Promise<void> {
    const key = this.sessionKey(record.id);
    const ttl = retainedTtl(recordExpiresAt(record), now);
    const indexedUntil = indexTarget(record);
    if (ttl <= 0) {
      // Past its deadline and the retention on arrival: nothing to keep, but a taken id is still a conflict.
      const taken = await this.run(() => this.driver.exists(key), this.left(startedAt, span));
      if (taken === 1) throw conflict('Session id already exists');
      return;
    }
    const created = await this.runScript(
      createSession,
      [key],
      [ttl, ...sessionFields(record, indexedUntil)],
      this.left(startedAt, span),
    );
    if (created !== 1) throw conflict('Session id already exists');
    // Indexed after the record exists, so a concurrent list never prunes a session being created.
    try {
      await this.addToIndex(record, indexedUntil, now, this.left(startedAt, span));
    } catch (error) {
      // An unindexed session would escape "log out everywhere": undo it. The token was never handed
      // out (create fails), so even if this undo fails too, the leftover is unusable until its TTL.
      // The undo is sent in any case, but waited for only within the call's bound.
      await this.waitAtMost(
        this.run(() => this.driver.del(key)).catch(() => 0),
        startedAt,
        span,
      );
      throw error;
    }
    this.remember(record.id, record.userId, indexedUntil);
  }

  async get(id: string, now: number): Promise<SessionRecord<D> | null> {
    const startedAt = performance.now();
    const key = this.sessionKey(id);
    const hint = this.hints.get(id);
    // A session read before on this instance: its user's epoch is read alongside the record, in
    // the same write and round trip (the epoch lives on the user's slot, so it cannot share a script).
    const [fields, guessed] = await this.run(
      (): Promise<[(string | null)[], (string | null)[] | null]> =>
        hint
          ? this.driver.hmgetPair(key, RECORD_FIELDS, hint.epochKey, EPOCH_FIELDS)
          : Promise.all([this.driver.hmget(key, RECORD_FIELDS), null]),
    );
    const record = openRecord<D>(fields[0] ?? null, id, fields[2] ?? null);
    if (!record || recordExpiresAt(record) <= now) return null;
    const epochFields =
      hint && hint.userId === record.userId
        ? guessed
        : await this.run(() => this.readEpoch(record.userId), this.left(startedAt, this.commandTimeoutMs));
    const indexedUntil = Number(fields[1]);
    if (Number.isFinite(indexedUntil)) this.remember(id, record.userId, indexedUntil);
    return isRevokedByEpoch(record, openEpoch(epochFields, now)) ? null : record;
  }

  update(record: SessionRecord<D>, expectedVersion: number, now: number): Promise<boolean> {
    return this.write(record, expectedVersion, now, false);
  }

  /**
   * A touch: only the version, the deadline and the index score are written (the record JSON is
   * neither sent nor rewritten), which costs Redis little more than the read it follows.
   */
  touch(record: SessionRecord<D>, expectedVersion: number, now: number): Promise<boolean> {
    return this.write(record, expectedVersion, now, true);
  }

  private async write(record: SessionRecord<D>, expectedVersion: number, now: number, touchOnly: boolean) {
    const startedAt = performance.now();
    const span = this.commandTimeoutMs;
    const key = this.sessionKey(record.id);
    const expiresAt = recordExpiresAt(record);
    const ttl = retainedTtl(expiresAt, now);
    const known = this.hints.get(record.id);
    const sameUser = known !== undefined && known.userId === record.userId;
    const owner = sameUser ? known.owner : userTag(record.userId);
    // Most writes stay within what the index already holds: one script, one round trip. When the
    // new deadline passes it, the index must rise too (see below).
    const mustCover = indexFloor(record);
    // Built once for every attempt. A touch never needs the record JSON: it is not even
    // serialised. A raised index score goes last, and only when there is one.
    const script = touchOnly ? touchSession : updateSession;
    const args: (string | number)[] = touchOnly
      ? [expectedVersion, now, ttl, mustCover, owner, record.version, expiresAt, activityOf(record)]
      : [
          expectedVersion,
          now,
          ttl,
          mustCover,
          owner,
          record.version,
          record.createdAt,
          expiresAt,
          JSON.stringify(record),
        ];
    // Known to pass what the index holds: straight to the write that raises it.
    const mustRaise = ttl > 0 && sameUser && mustCover > known.indexedUntil;
    let outcome = mustRaise ? NEEDS_INDEX : await this.runScript(script, [key], args, this.left(startedAt, span));
    if (outcome === NEEDS_INDEX) {
      const target = indexTarget(record);
      if (this.driver.isCluster) {
        // The index is on another slot: raised first, and only then does the record move.
        await this.addToIndex(record, target, now, this.left(startedAt, span));
        args.push(target);
        outcome = await this.runScript(script, [key], args, this.left(startedAt, span));
      } else {
        // One script raises the index and moves the record together.
        args.push(target, EXPIRED_RETENTION_MS, record.id);
        const raising = touchOnly ? touchSessionRaisingIndex : updateSessionRaisingIndex;
        outcome = await this.runScript(raising, [key, this.indexKeyOf(owner)], args, this.left(startedAt, span));
      }
    }
    if (typeof outcome !== 'number' || outcome <= 0) return false;
    if (ttl > 0) this.remember(record.id, record.userId, outcome);
    else this.hints.delete(record.id);
    return true;
  }

  async rotate(oldId: string, expectedVersion: number, successor: SessionRecord<D>, now: number): Promise<boolean> {
    // Bounded at twice commandTimeoutMs (SessionStore.settlesWithinMs): a step that got no answer
    // within one is followed by the question whether it ran.
    const startedAt = performance.now();
    const rotated = this.driver.isCluster
      ? await this.rotateAcrossSlots(oldId, expectedVersion, successor, now, startedAt)
      : await this.rotateInOneStep(oldId, expectedVersion, successor, now, startedAt);
    this.hints.delete(oldId);
    if (rotated) this.remember(successor.id, successor.userId, indexTarget(successor));
    return rotated;
  }

  async delete(id: string): Promise<boolean> {
    const startedAt = performance.now();
    const outcome = await this.runScript(deleteSession, [this.sessionKey(id)], []);
    this.hints.delete(id);
    if (!Array.isArray(outcome)) return false;
    const owner: unknown = outcome[1];
    // The key is gone; now its index entry may go. A missed removal is pruned by the next list.
    if (typeof owner === 'string' && owner !== '') {
      const unindexed = this.run(() => this.driver.zrem(this.indexKeyOf(owner), id)).catch(() => 0);
      await this.waitAtMost(unindexed, startedAt, this.commandTimeoutMs);
    }
    return true;
  }

  /**
   * Live sessions of one user, neither expired at `now` nor revoked by the user's epoch. The index
   * is read with `ZSCAN` and the records in rounds of `userBatchSize`, each round bounded by
   * `commandTimeoutMs`. Entries whose key is gone (or now belongs to another user) are pruned;
   * an entry whose record cannot be read is not listed but stays, for a revocation to delete.
   */
  async listByUser(userId: string, now: number): Promise<SessionRecord<D>[]> {
    const tag = userTag(userId);
    const indexKey = this.indexKeyOf(tag);
    const seen = new Set<string>();
    const live: SessionRecord<D>[] = [];
    const gone: string[] = [];
    let epoch: UserEpoch | null = null;
    let stale = false;
    let cursor = '0';
    let first = true;
    do {
      const scan = () => this.driver.zscan(indexKey, cursor, this.userBatchSize);
      let page: [string, string[]];
      if (first) {
        // The epoch lives on the index's slot: read in the same round trip as the first page.
        const [epochFields, firstPage] = await this.run(() =>
          Promise.all([this.driver.hmget(this.epochKeyOf(tag), EPOCH_FIELDS), scan()]),
        );
        epoch = openEpoch(epochFields, now);
        page = firstPage;
        first = false;
      } else {
        page = await this.run(scan);
      }
      cursor = page[0];
      const candidates: string[] = [];
      const entries = page[1];
      for (let i = 0; i + 1 < entries.length; i += 2) {
        const id = entries[i] as string;
        if (seen.has(id)) continue; // ZSCAN may return an entry twice
        seen.add(id);
        const score = Number(entries[i + 1]);
        // At or before `now`, the session has expired (the score covers its deadline); once its
        // key has expired too (retention), so may the entry.
        if (score <= now - EXPIRED_RETENTION_MS) stale = true;
        if (score > now) candidates.push(id);
      }
      if (candidates.length === 0) continue;
      const rows = await this.run(() =>
        Promise.all(candidates.map((id) => this.driver.hmget(this.sessionKey(id), ['owner', 'record', 'activity']))),
      );
      candidates.forEach((id, i) => {
        const [owner, raw, activity] = rows[i] ?? [null, null, null];
        if ((owner === null && raw === null) || (owner != null && owner !== tag)) {
          gone.push(id); // the key is gone, or is another user's session now
          return;
        }
        const record = openRecord<D>(raw ?? null, id, activity ?? null);
        // An entry whose session merely looks expired by this clock stays until its score passes
        // (other instances may run a little behind); an unreadable one stays for a revocation.
        if (!record || record.userId !== userId) return;
        if (recordExpiresAt(record) > now && !isRevokedByEpoch(record, epoch)) live.push(record);
      });
    } while (cursor !== '0');
    if (gone.length > 0 || stale) {
      for (let start = 0; start === 0 || start < gone.length; start += this.userBatchSize) {
        const ids = gone.slice(start, start + this.userBatchSize);
        await this.runScript(indexPrune, [indexKey], [now, EXPIRED_RETENTION_MS, ...ids]);
      }
    }
    return live;
  }

  /**
   * Deletes every session of one user but `exceptId`, in rounds of `userBatchSize`, each bounded
   * by `commandTimeoutMs`: one script on the index removes the ids the last round dealt with and
   * hands out the next ones, then one script per session deletes it unless it provably belongs to
   * someone else. An id leaves the index only once its key is gone (or is another user's). Entries
   * are taken whatever their score: a revocation does not trust the index's idea of expiry. A
   * session that joins the index meanwhile (the successor of a racing rotation) is taken too.
   */
  async deleteByUser(userId: string, exceptId?: string): Promise<number> {
    const tag = userTag(userId);
    const indexKey = this.indexKeyOf(tag);
    const batch = this.userBatchSize;
    let handled: string[] = [];
    let deleted = 0;
    let rounds = 0;
    for (let round = 0; ; round++) {
      const reply = (await this.runScript(indexNext, [indexKey], [batch + 1, ...handled])) as [number, string[]];
      // Bounded even if sessions keep arriving: what was there at the start, and some to spare for
      // the successors of racing rotations (the epoch, written before, hides any that remain).
      if (round === 0) rounds = Math.ceil(reply[0] / batch) + EXTRA_REVOCATION_ROUNDS;
      const ids = reply[1].filter((id) => id !== exceptId).slice(0, batch);
      if (ids.length === 0 || round >= rounds) break;
      const outcomes = await Promise.all(ids.map((id) => this.runScript(deleteIfOwned, [this.sessionKey(id)], [tag])));
      for (const [i, id] of ids.entries()) {
        if (outcomes[i] === 1) deleted++;
        this.hints.delete(id);
      }
      handled = ids;
    }
    return deleted;
  }

  async setUserEpoch(userId: string, epoch: UserEpoch, expiresAt: number, now: number): Promise<void> {
    const ttl = retainedTtl(expiresAt, now);
    const keep = epoch.keep ?? '';
    const hasKeep = epoch.keep == null ? '0' : '1';
    await this.runScript(setUserEpoch, [this.userEpochKey(userId)], [epoch.validAfter, keep, hasKeep, expiresAt, ttl]);
  }

  async getUserEpoch(userId: string, now: number): Promise<UserEpoch | null> {
    return openEpoch(await this.run(() => this.readEpoch(userId)), now);
  }

  /** Key of one `markOnce` entry (the DPoP replay cache): its own slot, expired by Redis. */
  onceKey(key: string): string {
    return `${this.prefix}o:{${key}}`;
  }

  /**
   * Records `key` for `ttlMs` with one `SET ... PX ttl NX`: true for the first caller on any
   * instance, false while the key lives. Redis's clock expires it, so `now` is not needed.
   */
  async markOnce(key: string, ttlMs: number, _now: number): Promise<boolean> {
    const ttl = Math.max(1, Math.ceil(ttlMs));
    return this.run(() => this.driver.setPxNx(this.onceKey(key), '1', ttl));
  }

  /**
   * Deletes every session, user index, user epoch, rotation mark and refresh family under this
   * store's prefix (E3: log everyone out) and returns how many sessions it deleted. Administrative,
   * never on a request path: it walks the keyspace of every master with `SCAN ... MATCH <prefix>*`
   * in rounds of `batchSize` keys (never `KEYS`), and deletes each key of this store's layout with
   * its own `DEL` (so no command crosses a Cluster slot). Keys of other prefixes, including longer
   * ones that start with this one, are left alone. Each round is bounded by `commandTimeoutMs`; on
   * a failure it rejects with `STORE_UNAVAILABLE` and can simply be called again. Sessions created
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
    const clientPrefix = this.driver.keyPrefix;
    const pattern = `${escapeGlob(clientPrefix + this.prefix)}*`;
    const masters = await this.run(() => this.driver.masters());
    let sessions = 0;
    for (const scan of masters) {
      let cursor = '0';
      do {
        const [next, found] = await this.run(() => scan(cursor, pattern, batchSize));
        cursor = next;
        const ours = found.map((key) => key.slice(clientPrefix.length)).filter((key) => this.ownsKey(key));
        const deleted = await this.run(() => Promise.all(ours.map((key) => this.driver.del(key))));
        ours.forEach((key, i) => {
          if (deleted[i] === 1 && key.startsWith(`${this.prefix}s:`)) sessions++;
        });
      } while (cursor !== '0');
    }
    this.hints.clear();
    return sessions;
  }

  async createRefreshFamily(family: RefreshFamilyRecord, now: number): Promise<void> {
    const key = this.refreshFamilyKey(family.id);
    const expiresAt = recordExpiresAt(family);
    const ttl = retainedTtl(expiresAt, now);
    if (ttl <= 0) {
      if ((await this.run(() => this.driver.exists(key))) === 1) throw conflict('Refresh family id already exists');
      return;
    }
    const json = JSON.stringify(family);
    if ((await this.runScript(createFamily, [key], [ttl, family.generation, expiresAt, json])) !== 1) {
      throw conflict('Refresh family id already exists');
    }
  }

  async getRefreshFamily(id: string, now: number): Promise<RefreshFamilyRecord | null> {
    const raw = await this.run(() => this.driver.hget(this.refreshFamilyKey(id), 'record'));
    const family = parseJson<RefreshFamilyRecord>(raw);
    return family && family.id === id && isUsable(family) && recordExpiresAt(family) > now ? family : null;
  }

  async updateRefreshFamily(family: RefreshFamilyRecord, expectedGeneration: number, now: number): Promise<boolean> {
    const expiresAt = recordExpiresAt(family);
    const ttl = retainedTtl(expiresAt, now);
    const key = this.refreshFamilyKey(family.id);
    const args = [expectedGeneration, now, ttl, family.generation, expiresAt, JSON.stringify(family)];
    return (await this.runScript(updateFamily, [key], args)) === 1;
  }

  /** Ends the connection if the store opened it; a client you passed in is left open. */
  async close(): Promise<void> {
    if (!this.ownsClient || this.closed) return;
    this.closed = true;
    // Only a client the store opened is closed, and the store opens ioredis clients only.
    const client = this.client as unknown as RedisClient;
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
   * A rotation on a single server: one script checks the old record, writes and indexes the
   * successor, and deletes and unindexes the old record, atomically. Readers never see both
   * records or neither.
   */
  private async rotateInOneStep(
    oldId: string,
    expectedVersion: number,
    successor: SessionRecord<D>,
    now: number,
    startedAt: number,
  ): Promise<boolean> {
    const span = 2 * this.commandTimeoutMs;
    const oldKey = this.sessionKey(oldId);
    const markKey = this.rotationMarkKey(oldId);
    const [owner, version, createdAt, expiresAt, indexedUntil, json] = sessionFields(successor, indexTarget(successor));
    const keys = [oldKey, markKey, this.sessionKey(successor.id), this.indexKeyOf(owner)];
    const ttl = retainedTtl(recordExpiresAt(successor), now);
    const args = [expectedVersion, now, owner, successor.id, ROTATION_MARK_MS, ttl];
    args.push(version, createdAt, expiresAt, indexedUntil, json, oldId, EXPIRED_RETENTION_MS);
    let outcome: unknown;
    try {
      outcome = await this.runScript(rotateInPlace, keys, args);
    } catch (error) {
      // No answer: the script ran entirely or not at all. Ask which, and fence it if it did not.
      const settled = await this.settleRotation(oldKey, markKey, successor.id, error, this.left(startedAt, span));
      if (settled === 1) return true;
      throw error;
    }
    if (outcome === -2) throw conflict('Session id already exists');
    return outcome === 1;
  }

  /**
   * A rotation across slots (Redis Cluster), where no script can see both records: the successor
   * is created and indexed first, then one script on the old record's slot deletes it if it is
   * live, at the expected version and of the same user, and marks the rotation done. Until then
   * the old record stays, so a failure never leaves the user without a session, and a concurrent
   * `deleteByUser` (which runs after the epoch is written) always finds one of the two in the
   * index. A refused compare-and-set deletes the successor again.
   */
  private async rotateAcrossSlots(
    oldId: string,
    expectedVersion: number,
    successor: SessionRecord<D>,
    now: number,
    startedAt: number,
  ): Promise<boolean> {
    const span = 2 * this.commandTimeoutMs;
    const owner = userTag(successor.userId);
    const successorKey = this.sessionKey(successor.id);
    const oldKey = this.sessionKey(oldId);
    const markKey = this.rotationMarkKey(oldId);
    await this.createWithin(successor, now, startedAt, span);
    // Each step within what is left of the call's bound, or (`unbounded`) within its own.
    const removeSuccessor = async (unbounded: boolean) => {
      const left = () => (unbounded ? this.commandTimeoutMs : this.left(startedAt, span));
      await this.run(() => this.driver.del(successorKey), left());
      await this.run(() => this.driver.zrem(this.indexKeyOf(owner), successor.id), left());
      this.hints.delete(successor.id);
    };
    let outcome: unknown;
    try {
      const args = [expectedVersion, now, owner, successor.id, ROTATION_MARK_MS];
      outcome = await this.runScript(rotateOld, [oldKey, markKey], args, this.left(startedAt, span));
    } catch (error) {
      outcome = await this.settleRotation(oldKey, markKey, successor.id, error, this.left(startedAt, span)).catch(
        () => null,
      );
      if (outcome !== 1) {
        // Sent in any case, waited for only within the call's bound.
        await this.waitAtMost(
          removeSuccessor(true).catch(() => undefined),
          startedAt,
          span,
        );
        throw error;
      }
    }
    if (outcome !== 1) {
      await removeSuccessor(false);
      return false;
    }
    // The old key is gone; now its index entry may go. A missed removal is pruned by the next list.
    const unindexed = this.run(() => this.driver.zrem(this.indexKeyOf(owner), oldId)).catch(() => 0);
    await this.waitAtMost(unindexed, startedAt, span);
    return true;
  }

  /**
   * After the last step of a rotation got no answer: 1 when it took effect; otherwise fences it so
   * that it never will, and answers 0. Rejects with `cause` when the server cannot say either.
   */
  private async settleRotation(
    oldKey: string,
    markKey: string,
    successorId: string,
    cause: unknown,
    timeoutMs: number,
  ): Promise<0 | 1> {
    if (isSessionError(cause) && (cause as SessionError).reason === 'refused') return 0;
    const args = [successorId, ROTATION_MARK_MS];
    const outcome = await this.runScript(rotationOutcome, [oldKey, markKey], args, timeoutMs).catch(() => {
      throw cause;
    });
    return outcome === 1 ? 1 : 0;
  }

  private indexKeyOf(tag: string): string {
    return `${this.prefix}u:{${tag}}`;
  }

  private epochKeyOf(tag: string): string {
    return `${this.prefix}ue:{${tag}}`;
  }

  private readEpoch(userId: string): Promise<(string | null)[]> {
    return this.driver.hmget(this.userEpochKey(userId), EPOCH_FIELDS);
  }

  private addToIndex(
    record: SessionRecord<D>,
    score: number,
    now: number,
    timeoutMs = this.commandTimeoutMs,
  ): Promise<unknown> {
    const args = [now, EXPIRED_RETENTION_MS, record.id, score];
    return this.runScript(indexAdd, [this.userIndexKey(record.userId)], args, timeoutMs);
  }

  /**
   * What is left, in ms, of a call that started at `startedAt` (`performance.now()`) and is bounded
   * by `span`, for its next step: at most `commandTimeoutMs`, and 0 or less once nothing is left.
   */
  private left(startedAt: number, span: number): number {
    return Math.min(this.commandTimeoutMs, startedAt + span - performance.now());
  }

  /**
   * Waits for `work`, a step that never rejects and goes on regardless, no longer than what is
   * left of the call's bound (see {@link left}).
   */
  private waitAtMost(work: Promise<unknown>, startedAt: number, span: number): Promise<void> | undefined {
    const left = this.left(startedAt, span);
    if (left <= 0) return undefined;
    return new Promise<void>((resolve) => {
      const call = this.deadlines.add(() => resolve(), left);
      work.then(() => {
        call.reject = null;
        resolve();
      });
    });
  }

  /**
   * Whether `key` has this store's layout: `<prefix>s:{id}`, `<prefix>rf:{id}`, `<prefix>t:{id}`,
   * `<prefix>u:{user}` or `<prefix>ue:{user}`. A store whose prefix merely starts with ours
   * (`sess:` and `sess:other:`) never matches.
   */
  private ownsKey(key: string): boolean {
    if (!key.startsWith(this.prefix)) return false;
    return OWN_KEY.test(key.slice(this.prefix.length));
  }

  /** Remembers a session's user and a lower bound of its index score (scores only ever rise). */
  private remember(id: string, userId: string, indexedUntil: number): void {
    const known = this.hints.get(id);
    if (known !== undefined && known.userId === userId) {
      if (indexedUntil > known.indexedUntil) known.indexedUntil = indexedUntil;
      // Among the newest half: HINTS / 2 more insertions come before it can be dropped, and a use
      // by then moves it. Most reads and touches thus skip a delete and a set of the map.
      if (this.hintsInserted - known.inserted < HINTS / 2) return;
    }
    if (known !== undefined) this.hints.delete(id);
    else if (this.hints.size >= HINTS) {
      const oldest = this.hints.keys().next();
      if (!oldest.done) this.hints.delete(oldest.value);
    }
    // Re-inserted: the map stays in order of use, and the least recently used goes first.
    if (known?.userId === userId) {
      known.inserted = ++this.hintsInserted;
      this.hints.set(id, known);
      return;
    }
    const owner = userTag(userId);
    const epochKey = this.epochKeyOf(owner);
    this.hints.set(id, { userId, owner, epochKey, indexedUntil, inserted: ++this.hintsInserted });
  }

  /**
   * Runs one store operation within `timeoutMs` (default `commandTimeoutMs`; a later step of a
   * call gets what is left of the call's bound, see {@link left}), failing at once while
   * disconnected and turning every driver error into `STORE_UNAVAILABLE` (fail closed).
   */
  private run<T>(operation: () => Promise<T>, timeoutMs = this.commandTimeoutMs): Promise<T> {
    const state = this.driver.state();
    if (this.closed || state === 'down') return Promise.reject(unavailable('disconnected'));
    // A later step of a call whose bound has passed is not sent at all.
    if (timeoutMs <= 0) return Promise.reject(unavailable('timeout'));
    return new Promise<T>((resolve, reject) => {
      const call = this.deadlines.add(reject, timeoutMs);
      let work: Promise<T>;
      try {
        work = state === 'connecting' ? this.driver.whenReady().then(operation) : operation();
      } catch (error) {
        work = Promise.reject(error);
      }
      work.then(
        (value) => {
          call.reject = null;
          resolve(value);
        },
        (error: unknown) => {
          call.reject = null;
          reject(toStoreError(error));
        },
      );
    });
  }

  /**
   * {@link run} of one script, the way every script is sent: with no operation closure and no
   * promise of its own around the driver's call (each is an allocation and a microtask more per
   * call): EVALSHA, then EVAL once if the server does not know the script yet, both within the
   * one deadline. While the first connection is still being set up, the script waits for it
   * within that deadline, and is not sent at all once the deadline has passed.
   */
  private runScript(
    script: LuaScript,
    keys: string[],
    args: (string | number)[],
    timeoutMs = this.commandTimeoutMs,
  ): Promise<unknown> {
    const state = this.driver.state();
    if (this.closed || state === 'down') return Promise.reject(unavailable('disconnected'));
    if (timeoutMs <= 0) return Promise.reject(unavailable('timeout'));
    return new Promise<unknown>((resolve, reject) => {
      const call = this.deadlines.add(reject, timeoutMs);
      if (state === 'ready') {
        sendScript(this.driver, script, keys, args, call, resolve, toStoreError);
        return;
      }
      this.driver.whenReady().then(
        () => {
          if (call.reject !== null) sendScript(this.driver, script, keys, args, call, resolve, toStoreError);
        },
        (error: unknown) => {
          const fail = call.reject;
          if (fail === null) return;
          call.reject = null;
          fail(toStoreError(error));
        },
      );
    });
  }
}

/**
 * A key after the store's prefix: a session, family or rotation mark by id (never braces), or a
 * user index or epoch by user tag (never braces either, see {@link userTag}).
 */
const OWN_KEY = /^(?:s|rf|t|u|ue):\{[^{}]*\}$/;

/** The fields of a session hash a read takes, in the order {@link RedisStore.get} reads them. */
const RECORD_FIELDS = ['record', 'indexedUntil', 'activity'] as const;

/** The fields of a user epoch hash, in the order {@link openEpoch} reads them. */
const EPOCH_FIELDS = ['validAfter', 'keep', 'expiresAt'] as const;

/** A UTF-16 code unit that is half of a surrogate pair without its other half. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * How a user id appears in key names and in the `owner` field: the id itself when it is non-empty,
 * free of `{` and `}` (so the whole id is the hash tag, and the index and epoch share a slot) and
 * well-formed UTF-16 (so it reaches Redis unchanged: UTF-8 turns every lone surrogate into the
 * same three bytes, which would let distinct users share keys); otherwise `~` and the hex of each
 * UTF-16 code unit. Plain tags never start with `~`, so no two user ids share a tag.
 */
function userTag(userId: string): string {
  if (userId.length > 0 && !userId.startsWith('~') && !/[{}]/.test(userId) && !LONE_SURROGATE.test(userId)) {
    return userId;
  }
  let tag = '~';
  for (let i = 0; i < userId.length; i++) tag += userId.charCodeAt(i).toString(16).padStart(4, '0');
  return tag;
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

/**
 * How long Redis keeps a record: until its deadline plus {@link EXPIRED_RETENTION_MS}, in ms from
 * `now` by the manager's clock (never Redis's own: CL-04).
 */
function retainedTtl(expiresAt: number, now: number): number {
  return Math.ceil(expiresAt + EXPIRED_RETENTION_MS - now);
}

/** Answer of the session compare-and-set script when the index must rise before the record can move. */
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

/**
 * The fields of a session hash after its TTL, in the order the scripts take them: owner (the user's
 * tag), version, createdAt, expiresAt, indexedUntil and the record as JSON.
 */
function sessionFields(record: SessionRecord, indexedUntil: number): [string, number, number, number, number, string] {
  return [
    userTag(record.userId),
    record.version,
    record.createdAt,
    recordExpiresAt(record),
    indexedUntil,
    JSON.stringify(record),
  ];
}

/** What a touch writes beside the record JSON: `version:lastSeenAt:idleExpiresAt` ('' for none). */
function activityOf(record: SessionRecord): string {
  return `${record.version}:${record.lastSeenAt}:${record.idleExpiresAt ?? ''}`;
}

/**
 * The record in a session hash's `record` field, if it is one and the one asked for, with the
 * `activity` a touch left laid over it. An unreadable activity makes the record unreadable (fail
 * closed), never silently older.
 */
function openRecord<D extends SessionData>(
  raw: string | null,
  id: string,
  activity: string | null = null,
): SessionRecord<D> | null {
  const record = parseJson<SessionRecord<D>>(raw);
  if (!record || record.id !== id || typeof record.userId !== 'string') return null;
  if (activity !== null) {
    const parts = activity.split(':');
    if (parts.length !== 3) return null;
    const version = Number(parts[0]);
    const lastSeenAt = Number(parts[1]);
    const idleExpiresAt = parts[2] === '' ? null : Number(parts[2]);
    if (!Number.isFinite(version) || !Number.isFinite(lastSeenAt)) return null;
    if (idleExpiresAt !== null && !Number.isFinite(idleExpiresAt)) return null;
    record.version = version;
    record.lastSeenAt = lastSeenAt;
    record.idleExpiresAt = idleExpiresAt;
  }
  return isUsable(record) ? record : null;
}

/** A user's epoch from the fields of its hash, if one is held at `now`. */
function openEpoch(fields: (string | null)[] | null, now: number): UserEpoch | null {
  const [validAfter, keep, expiresAt] = fields ?? [];
  if (validAfter == null || expiresAt == null) return null;
  const epoch = { validAfter: Number(validAfter), keep: keep ?? null };
  return Number.isFinite(epoch.validAfter) && Number(expiresAt) > now ? epoch : null;
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

/** Whether a stored record has the deadlines expiry is computed from. */
function isUsable(record: { idleExpiresAt?: unknown; absoluteExpiresAt?: unknown }): boolean {
  const idle = record.idleExpiresAt;
  return typeof record.absoluteExpiresAt === 'number' && (idle === null || typeof idle === 'number');
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
  const refused = isReplyError(error);
  cause.name = refused ? 'ReplyError' : name;
  if (/timed out/i.test(message)) return unavailable('timeout', cause);
  if (refused) return unavailable('refused', cause);
  return unavailable('disconnected', cause);
}

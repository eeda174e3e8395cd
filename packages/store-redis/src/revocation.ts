import {
  decodeRevocationNotice,
  encodeRevocationNotice,
  type RevocationChannel,
  type RevocationNotice,
  type RevocationSink,
  type RevocationSubscription,
  SessionError,
} from '@org/session-core';
import { Redis } from 'ioredis';
import { type AnyRedisClient, driverFor, type RedisDriver } from './client.js';

/** Default pub/sub channel: under the store's default key prefix, so it reads as the store's. */
export const DEFAULT_REVOCATION_CHANNEL = 'sess:revocations';

export interface RedisRevocationChannelOptions {
  /**
   * The client that publishes: a `RedisStore`'s `client`, or your own: any client the store
   * accepts (ioredis 5 or 6 `Redis` or `Cluster`, node-redis 5+ `createClient()` or
   * `createCluster()`, connected). Subscriptions open their own connection with its settings
   * (`duplicate()`), since a Redis connection in subscriber mode can do nothing else.
   */
  client?: AnyRedisClient;
  /** Or a `redis://` URL: the channel opens the publishing connection and `close()` ends it. */
  url?: string;
  /** The pub/sub channel name (default `sess:revocations`). */
  channel?: string;
  /** `CLIENT SETNAME` of subscription connections, to tell them apart in `CLIENT LIST` (default `session-revocations`). */
  connectionName?: string;
  /**
   * A subscription PINGs its connection this often (default 5000 ms; 0: never) and drops it when
   * the answer takes longer than that: a connection that died without a word (a frozen server, a
   * lost route) is reported `down` and replaced instead of staying silently deaf.
   */
  heartbeatMs?: number;
  /** Delay before the first reconnection attempt of a dropped subscription, doubling up to 1 s (default 50 ms). */
  reconnectDelayMs?: number;
}

/** Longest pause between two reconnection attempts of a subscription, in ms. */
const MAX_RECONNECT_DELAY_MS = 1000;

/**
 * Revocation notices over Redis pub/sub: `PUBLISH` on the store's client, `SUBSCRIBE` on a
 * connection of its own per subscription that reconnects by itself (and resubscribes) after a
 * restart, a failover or a `CLIENT KILL`, reporting `down` at once and `up` once subscribed again.
 * On a Redis Cluster, `PUBLISH` reaches subscribers on every node.
 *
 * Delivery is at most once: notices published while a subscriber is away are lost to it, which is
 * why a verifier falls back to the JWT TTL bound while `down`.
 *
 * @example
 * ```ts
 * const store = new RedisStore({ url })
 * const revocations = new RedisRevocationChannel({ client: store.client })
 * const sessions = createSessionManager({ store, revocation: { channel: revocations } })
 * // in a downstream service:
 * const list = createRevocationList({ channel: new RedisRevocationChannel({ url }) })
 * ```
 */
export class RedisRevocationChannel implements RevocationChannel {
  readonly channel: string;
  /** The publishing client (yours, or the ioredis client the channel opened from `url`). */
  readonly client: AnyRedisClient;
  private readonly driver: RedisDriver;
  private readonly ownsClient: boolean;
  private readonly reconnectDelayMs: number;
  private readonly connectionName: string;
  private readonly heartbeatMs: number;
  private readonly subscriptions = new Set<RevocationSubscription>();

  constructor(options: RedisRevocationChannelOptions) {
    if ((options?.client === undefined) === (options?.url === undefined)) {
      throw new SessionError('CONFIG_INVALID', 'Pass exactly one of client or url');
    }
    const channel = options.channel ?? DEFAULT_REVOCATION_CHANNEL;
    if (typeof channel !== 'string' || channel.length === 0 || channel.length > 256) {
      throw new SessionError('CONFIG_INVALID', 'channel must be a non-empty string of at most 256 characters');
    }
    const delay = options.reconnectDelayMs ?? 50;
    if (!Number.isFinite(delay) || delay <= 0) {
      throw new SessionError('CONFIG_INVALID', 'reconnectDelayMs must be a positive number');
    }
    this.channel = channel;
    this.reconnectDelayMs = delay;
    this.connectionName = options.connectionName ?? 'session-revocations';
    const heartbeat = options.heartbeatMs ?? 5000;
    if (!Number.isFinite(heartbeat) || heartbeat < 0) {
      throw new SessionError('CONFIG_INVALID', 'heartbeatMs must be a non-negative number');
    }
    this.heartbeatMs = heartbeat;
    if (options.client) {
      // Any client the store takes (CONFIG_INVALID otherwise): the driver speaks its dialect.
      this.driver = driverFor(options.client);
      this.client = options.client;
      this.ownsClient = false;
    } else {
      if (typeof options.url !== 'string' || !/^rediss?:\/\//.test(options.url)) {
        throw new SessionError('CONFIG_INVALID', 'url must start with redis:// or rediss://');
      }
      // Publishing is on the revocation path: fail fast rather than queue while disconnected.
      const client = new Redis(options.url, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        retryStrategy: (times) => Math.min(delay * 2 ** Math.min(times, 10), MAX_RECONNECT_DELAY_MS),
      });
      client.on('error', () => {});
      this.client = client;
      this.driver = driverFor(client);
      this.ownsClient = true;
    }
  }

  async publish(notice: RevocationNotice): Promise<void> {
    try {
      await this.driver.publish(this.channel, encodeRevocationNotice(notice));
    } catch (cause) {
      throw new SessionError('STORE_UNAVAILABLE', 'The revocation notice could not be published', {
        reason: 'publish_failed',
        cause,
      });
    }
  }

  subscribe(sink: RevocationSink): RevocationSubscription {
    let closed = false;
    let up = false;
    const connection = this.driver.subscribe(
      this.channel,
      {
        connectionName: this.connectionName,
        retryDelay: (times) => Math.min(this.reconnectDelayMs * 2 ** Math.min(times - 1, 10), MAX_RECONNECT_DELAY_MS),
      },
      {
        message: (text) => {
          const notice = decodeRevocationNotice(text);
          if (notice && !closed) sink.notice(notice);
        },
        up: () => {
          if (closed || up) return;
          up = true;
          sink.status('up');
        },
        down: (reason) => {
          if (closed || !up) return;
          up = false;
          sink.status('down', reason);
        },
      },
    );
    const heartbeat =
      this.heartbeatMs > 0
        ? setInterval(() => {
            if (!up) return;
            let answered = false;
            connection.ping().then(
              () => {
                answered = true;
              },
              () => {},
            );
            setTimeout(() => {
              // No answer within one interval: drop the connection; a new one subscribes again.
              if (!answered && up && !closed) {
                up = false;
                sink.status('down', 'heartbeat_timeout');
                connection.reconnect();
              }
            }, this.heartbeatMs).unref?.();
          }, this.heartbeatMs)
        : undefined;
    heartbeat?.unref?.();
    const subscription: RevocationSubscription = {
      close: async () => {
        if (closed) return;
        closed = true;
        clearInterval(heartbeat);
        this.subscriptions.delete(subscription);
        connection.close();
      },
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  /** Closes every subscription, and the publishing connection if the channel opened it. */
  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    if (this.ownsClient) (this.client as Redis).disconnect();
  }
}

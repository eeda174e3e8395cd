import {
  decodeRevocationNotice,
  encodeRevocationNotice,
  type RevocationChannel,
  type RevocationNotice,
  type RevocationSink,
  type RevocationSubscription,
  SessionError,
} from '@org/session-core';
import type * as Pg from 'pg';
import type { Client, ClientConfig, Notification } from 'pg';
import { adapterFor, type PostgresClient, pgAdapter, type QueryAdapter } from './client.js';
import { loadPg } from './pg.js';

/** Default `LISTEN`/`NOTIFY` channel. */
export const DEFAULT_REVOCATION_CHANNEL = 'session_revocations';

/** A channel name is an identifier: quoted for LISTEN, so it is kept to a plain shape. */
const CHANNEL_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/** Longest pause between two reconnection attempts of a listener, in ms. */
const MAX_RECONNECT_DELAY_MS = 1000;

export interface PostgresRevocationChannelOptions {
  /**
   * The client that publishes (a `PostgresStore`'s pool or yours): a `pg` Pool or a `postgres`
   * (porsager) client, never ended by the channel. Listeners are `pg` connections of their own
   * either way, opened from `connectionString`.
   */
  pool?: PostgresClient;
  /**
   * Connection string. Listeners always open a connection of their own from it (a pooled
   * connection cannot stay in `LISTEN`); without `pool`, publishing opens one too.
   */
  connectionString: string;
  /** More client settings for the connections the channel opens (`ssl`, `application_name`, ...). */
  clientConfig?: Omit<ClientConfig, 'connectionString'>;
  /** Channel name: lower-case letters, digits and `_` (default `session_revocations`). */
  channel?: string;
  /** First delay before reconnecting a dropped listener, doubling up to 1 s (default 50 ms). */
  reconnectDelayMs?: number;
  /** Bound on connecting and on each statement, in ms (default 1000). */
  timeoutMs?: number;
  /**
   * A listener runs `SELECT 1` this often (default 5000 ms; 0: never) and replaces its connection
   * when that fails or takes longer than `timeoutMs`: a connection that died without a word is
   * reported `down` instead of staying silently deaf.
   */
  heartbeatMs?: number;
}

/**
 * Revocation notices over PostgreSQL `NOTIFY`/`LISTEN`: `pg_notify` through the pool, and one
 * dedicated connection per subscription that reconnects and listens again by itself after a
 * restart or `pg_terminate_backend`, reporting `down` at once and `up` once listening again.
 * NOTIFY is transactional and delivered to every listener of the database.
 *
 * Delivery is at most once: a listener that was away misses what was sent meanwhile, which is why
 * a verifier falls back to the JWT TTL bound while `down`.
 *
 * @example
 * ```ts
 * const channel = new PostgresRevocationChannel({ connectionString })
 * const sessions = createSessionManager({ store, revocation: { channel } })
 * const list = createRevocationList({ channel }) // in a verifier
 * ```
 */
export class PostgresRevocationChannel implements RevocationChannel {
  readonly channel: string;
  private readonly publisher: QueryAdapter;
  private readonly ownsPool: boolean;
  private readonly config: ClientConfig;
  private readonly reconnectDelayMs: number;
  private readonly heartbeatMs: number;
  private readonly timeoutMs: number;
  private readonly subscriptions = new Set<RevocationSubscription>();
  /** Listeners are always `pg` connections (a pooled connection cannot stay in LISTEN). */
  private readonly pg: typeof Pg;

  constructor(options: PostgresRevocationChannelOptions) {
    if (!options || typeof options.connectionString !== 'string' || options.connectionString.length === 0) {
      throw new SessionError('CONFIG_INVALID', 'connectionString is required');
    }
    const channel = options.channel ?? DEFAULT_REVOCATION_CHANNEL;
    if (typeof channel !== 'string' || !CHANNEL_PATTERN.test(channel)) {
      throw new SessionError('CONFIG_INVALID', 'channel must be 1-63 lower-case letters, digits or _');
    }
    const delay = options.reconnectDelayMs ?? 50;
    const timeout = options.timeoutMs ?? 1000;
    if (!Number.isFinite(delay) || delay <= 0 || !Number.isFinite(timeout) || timeout <= 0) {
      throw new SessionError('CONFIG_INVALID', 'reconnectDelayMs and timeoutMs must be positive numbers');
    }
    const heartbeat = options.heartbeatMs ?? 5000;
    if (!Number.isFinite(heartbeat) || heartbeat < 0) {
      throw new SessionError('CONFIG_INVALID', 'heartbeatMs must be a non-negative number');
    }
    this.pg = loadPg('PostgresRevocationChannel (its listeners are pg connections)');
    this.channel = channel;
    this.reconnectDelayMs = delay;
    this.heartbeatMs = heartbeat;
    this.timeoutMs = timeout;
    this.config = {
      application_name: 'session-revocations',
      ...options.clientConfig,
      connectionString: options.connectionString,
      connectionTimeoutMillis: timeout,
      statement_timeout: timeout,
      keepAlive: true,
    };
    if (options.pool) {
      this.publisher = adapterFor(options.pool, 'pool');
      this.ownsPool = false;
    } else {
      const pool = new this.pg.Pool({ ...this.config, max: 2 });
      pool.on('error', () => {});
      this.publisher = pgAdapter(pool);
      this.ownsPool = true;
    }
  }

  async publish(notice: RevocationNotice): Promise<void> {
    try {
      await this.publisher.query('SELECT pg_notify($1, $2)', [this.channel, encodeRevocationNotice(notice)]);
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
    let client: Client | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let attempt = 0;

    const onNotification = (message: Notification) => {
      if (message.channel !== this.channel) return;
      const notice = decodeRevocationNotice(message.payload);
      if (notice) sink.notice(notice);
    };
    const lost = (reason: string) => {
      if (up) {
        up = false;
        sink.status('down', reason);
      }
      if (closed || timer !== undefined) return;
      const old = client;
      client = null;
      old?.removeAllListeners('notification');
      old?.end().catch(() => {});
      const wait = Math.min(this.reconnectDelayMs * 2 ** Math.min(attempt, 10), MAX_RECONNECT_DELAY_MS);
      attempt++;
      timer = setTimeout(() => {
        timer = undefined;
        void connect();
      }, wait);
    };
    const connect = async () => {
      if (closed) return;
      const next = new this.pg.Client(this.config);
      client = next;
      next.on('error', () => lost('disconnected'));
      next.on('end', () => {
        if (client === next) lost('ended');
      });
      next.on('notification', onNotification);
      try {
        await next.connect();
        await next.query(`LISTEN "${this.channel}"`);
      } catch {
        if (client === next) lost('connect_failed');
        return;
      }
      if (closed || client !== next) {
        await next.end().catch(() => {});
        return;
      }
      attempt = 0;
      up = true;
      sink.status('up');
    };
    void connect();
    const heartbeat =
      this.heartbeatMs > 0
        ? setInterval(() => {
            const current = client;
            if (!up || !current) return;
            let timer: ReturnType<typeof setTimeout> | undefined;
            const deadline = new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new Error('heartbeat timeout')), this.timeoutMs);
            });
            Promise.race([current.query('SELECT 1'), deadline]).then(
              () => clearTimeout(timer),
              () => {
                clearTimeout(timer);
                if (client === current) lost('heartbeat_failed');
              },
            );
          }, this.heartbeatMs)
        : undefined;
    heartbeat?.unref?.();

    const subscription: RevocationSubscription = {
      close: async () => {
        if (closed) return;
        closed = true;
        clearTimeout(timer);
        clearInterval(heartbeat);
        this.subscriptions.delete(subscription);
        const last = client;
        client = null;
        await last?.end().catch(() => {});
      },
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  /** Closes every subscription, and the pool if the channel opened it. */
  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    if (this.ownsPool) await this.publisher.end().catch(() => {});
  }
}

import { type Clock, systemClock } from './clock.js';
import { SessionError } from './errors.js';

/**
 * A revocation notice: what a store's channel carries from the instance that revoked to every
 * subscribed verifier. It names a session id or a user (never a token or JWT), so a notice seen by
 * a third party reveals no credential.
 *
 * - `session`: one session ended (`revoke`, logout, a refresh token reused).
 * - `user`: a user's epoch ("log out everywhere"): every session created before `validAfter` ended,
 *   except `keep` ("everywhere else").
 * - `everyone`: every session created before `validAfter` ended (`revokeEveryone`).
 *
 * `at` and `validAfter` are milliseconds since the epoch on the revoking instance's clock.
 */
export type RevocationNotice =
  | { kind: 'session'; sid: string; at: number }
  | { kind: 'user'; sub: string; validAfter: number; keep: string | null; at: number }
  | { kind: 'everyone'; validAfter: number; at: number };

/** What a subscription reports to its subscriber. */
export interface RevocationSink {
  /** A notice arrived. */
  notice(notice: RevocationNotice): void;
  /**
   * The subscription is live (`up`: subscribed, notices flow) or not (`down`: disconnected; the
   * channel reconnects on its own and says `up` again once subscribed).
   */
  status(state: 'up' | 'down', reason?: string): void;
}

/** An open subscription. */
export interface RevocationSubscription {
  /** Unsubscribes and releases the connection the subscription opened. */
  close(): Promise<void>;
}

/**
 * A channel that carries revocation notices between instances: the store's own pub/sub (Redis
 * `PUBLISH`/`SUBSCRIBE`, PostgreSQL `NOTIFY`/`LISTEN`). Delivery is at most once: a subscriber
 * that was disconnected misses what was published meanwhile, which is why verifiers fall back to
 * the JWT TTL bound while their subscription is down.
 */
export interface RevocationChannel {
  /** Sends a notice to every current subscriber. Rejects when the channel is unreachable. */
  publish(notice: RevocationNotice): Promise<void>;
  /** Subscribes; the sink hears `up` once notices flow and `down`/`up` on every change after. */
  subscribe(sink: RevocationSink): RevocationSubscription;
}

/**
 * Events of the revocation machinery, for logs and metrics. `revocation.channel.down`: a
 * verifier's subscription dropped; until `up`, a revoked session's JWT is refused only once it
 * expires (the TTL bound). `revocation.publish_failed`: a revocation happened in the store but its
 * notice did not go out; subscribed verifiers refuse that session's JWTs only once they expire.
 * `revocation.list_full`: the list dropped its oldest entry to stay within `maxEntries`.
 */
export type RevocationEvent =
  | { type: 'revocation.channel.up'; at: number; downForMs: number | null }
  | { type: 'revocation.channel.down'; at: number; reason: string }
  | { type: 'revocation.publish_failed'; at: number; kind: RevocationNotice['kind']; reason: string }
  | { type: 'revocation.list_full'; at: number; maxEntries: number };

/** A hook for {@link RevocationEvent}s; a listener that throws is ignored. */
export type RevocationEventListener = (event: RevocationEvent) => void;

/** Longest encoded notice accepted from a channel, in characters. */
export const MAX_NOTICE_LENGTH = 1024;

const MAX_ID_LENGTH = 256;

/**
 * The wire form of a notice: compact JSON with a version. Both store channels use it, so a Redis
 * publisher and a PostgreSQL subscriber would agree if bridged.
 *
 * @example
 * ```ts
 * await redis.publish(channel, encodeRevocationNotice({ kind: 'session', sid, at: Date.now() }))
 * ```
 */
export function encodeRevocationNotice(notice: RevocationNotice): string {
  switch (notice.kind) {
    case 'session':
      return JSON.stringify({ v: 1, k: 's', sid: notice.sid, at: notice.at });
    case 'user':
      return JSON.stringify({ v: 1, k: 'u', sub: notice.sub, va: notice.validAfter, keep: notice.keep, at: notice.at });
    case 'everyone':
      return JSON.stringify({ v: 1, k: 'e', va: notice.validAfter, at: notice.at });
  }
}

/**
 * Parses a notice from a channel; null for anything not exactly of the wire form (a channel is
 * shared with whoever can reach the store, so junk is dropped, never trusted half-way).
 */
export function decodeRevocationNotice(text: unknown): RevocationNotice | null {
  if (typeof text !== 'string' || text.length > MAX_NOTICE_LENGTH) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  if (v.v !== 1 || !isTime(v.at)) return null;
  if (v.k === 's' && isId(v.sid)) return { kind: 'session', sid: v.sid, at: v.at };
  if (v.k === 'u' && isId(v.sub) && isTime(v.va) && (v.keep === null || isId(v.keep))) {
    return { kind: 'user', sub: v.sub, validAfter: v.va, keep: v.keep, at: v.at };
  }
  if (v.k === 'e' && isTime(v.va)) return { kind: 'everyone', validAfter: v.va, at: v.at };
  return null;
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH;
}

function isTime(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** The claims a revocation check reads from a verified session JWT. */
export interface RevocableClaims {
  sid: string;
  sub: string;
  /** Seconds since the epoch. */
  iat: number;
}

export interface RevocationListOptions {
  /** Subscribed at once; without one the list only holds what {@link RevocationList.add} puts in. */
  channel?: RevocationChannel;
  /**
   * How long an entry is kept, in seconds: the longest a JWT issued before the revocation can
   * still verify, i.e. the max JWT TTL plus the clock tolerance (default 300 + 30). After that the
   * JWT's own `exp` refuses it.
   */
  retainSeconds?: number;
  /** Bound on entries (default 100 000); past it the oldest goes and `revocation.list_full` says so. */
  maxEntries?: number;
  clock?: Clock;
  onEvent?: RevocationEventListener | readonly RevocationEventListener[];
}

/** Default retention: the default JWT TTL (300 s) plus the default clock tolerance (30 s). */
export const DEFAULT_REVOCATION_RETAIN_SECONDS = 330;
export const DEFAULT_REVOCATION_MAX_ENTRIES = 100_000;

interface Entry {
  /** Epoch notices: sessions created before this (ms) are revoked; session notices: 0. */
  validAfter: number;
  keep: string | null;
  until: number;
}

/**
 * The revoked sessions a JWT verifier has heard of: session ids and user epochs from a
 * {@link RevocationChannel}, each kept for `retainSeconds` (then the JWT's `exp` takes over),
 * bounded by `maxEntries`. A check is two map lookups and runs on every verification, cached
 * tokens included. While the channel is down the list keeps what it has and keeps answering:
 * requests never fail for it, and the missed notices fall back to the TTL bound
 * (`revocation.channel.down` says when that starts, `revocation.channel.up` when it ends).
 *
 * An epoch revokes a JWT whose `iat` second is at or before the epoch's second: a JWT issued in
 * the same second as a "log out everywhere" is refused too (fail closed), until a new one is issued.
 *
 * @example
 * ```ts
 * const revocations = createRevocationList({ channel: new RedisRevocationChannel({ url }), onEvent: log })
 * const verifier = createJwtVerifier({ keys: jwksUrl, issuer, audience: 'orders', revocations })
 * ```
 */
export class RevocationList {
  readonly retainMs: number;
  readonly maxEntries: number;
  private readonly clock: Clock;
  private readonly listeners: RevocationEventListener[];
  private readonly sessions = new Map<string, Entry>();
  private readonly users = new Map<string, Entry>();
  private everyone: Entry | null = null;
  private subscription: RevocationSubscription | null = null;
  private state: 'up' | 'down' | 'connecting' | 'local' | 'closed';
  private downSince: number | null = null;
  private waiters: (() => void)[] = [];
  /** Notices applied since creation, for metrics and tests. */
  received = 0;

  /** @internal Use {@link createRevocationList}. */
  constructor(options: RevocationListOptions = {}) {
    const retain = options.retainSeconds ?? DEFAULT_REVOCATION_RETAIN_SECONDS;
    if (!Number.isFinite(retain) || retain <= 0) {
      throw new SessionError('CONFIG_INVALID', 'retainSeconds must be a positive number of seconds');
    }
    const max = options.maxEntries ?? DEFAULT_REVOCATION_MAX_ENTRIES;
    if (!Number.isInteger(max) || max < 1)
      throw new SessionError('CONFIG_INVALID', 'maxEntries must be a positive integer');
    this.retainMs = retain * 1000;
    this.maxEntries = max;
    this.clock = options.clock ?? systemClock;
    const hooks = options.onEvent;
    this.listeners = hooks === undefined ? [] : Array.isArray(hooks) ? [...hooks] : [hooks as RevocationEventListener];
    if (options.channel) {
      if (typeof options.channel.subscribe !== 'function') {
        throw new SessionError('CONFIG_INVALID', 'channel must be a RevocationChannel');
      }
      this.state = 'connecting';
      this.subscription = options.channel.subscribe({
        notice: (notice) => this.add(notice),
        status: (state, reason) => this.onStatus(state, reason ?? 'disconnected'),
      });
    } else {
      this.state = 'local';
    }
  }

  /**
   * `up`: subscribed; `down`: the subscription dropped (TTL bound meanwhile); `connecting`: not
   * yet subscribed; `local`: no channel; `closed`.
   */
  get status(): 'up' | 'down' | 'connecting' | 'local' | 'closed' {
    return this.state;
  }

  /** Entries held (sessions, users, and the everyone epoch), for metrics. */
  get size(): number {
    return this.sessions.size + this.users.size + (this.everyone ? 1 : 0);
  }

  /** Resolves once the subscription is up (at once without a channel); rejects after `timeoutMs`. */
  ready(timeoutMs = 5000): Promise<void> {
    if (this.state !== 'connecting' && this.state !== 'down') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new SessionError('STORE_UNAVAILABLE', 'The revocation channel did not come up in time'));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push(done);
    });
  }

  /** Applies a notice (from the channel, or in process). */
  add(notice: RevocationNotice): void {
    const now = this.clock.now();
    const until = now + this.retainMs;
    this.received++;
    if (notice.kind === 'session') {
      this.put(this.sessions, notice.sid, { validAfter: 0, keep: null, until }, now);
    } else if (notice.kind === 'user') {
      const known = this.users.get(notice.sub);
      // The store keeps the newest epoch; so does the list (notices may arrive out of order).
      if (known && known.until > now && known.validAfter > notice.validAfter) return;
      this.put(this.users, notice.sub, { validAfter: notice.validAfter, keep: notice.keep, until }, now);
    } else if (!this.everyone || this.everyone.until <= now || this.everyone.validAfter <= notice.validAfter) {
      this.everyone = { validAfter: notice.validAfter, keep: null, until };
    }
  }

  /** Whether a verified JWT with these claims belongs to a session the list knows revoked. */
  isRevoked(claims: RevocableClaims): boolean {
    if (this.sessions.size === 0 && this.users.size === 0 && this.everyone === null) return false;
    const now = this.clock.now();
    const session = this.sessions.get(claims.sid);
    if (session) {
      if (session.until > now) return true;
      this.sessions.delete(claims.sid);
    }
    const user = this.users.get(claims.sub);
    if (user) {
      if (user.until <= now) this.users.delete(claims.sub);
      else if (user.keep !== claims.sid && issuedBefore(claims.iat, user.validAfter)) return true;
    }
    const everyone = this.everyone;
    if (everyone) {
      if (everyone.until <= now) this.everyone = null;
      else if (issuedBefore(claims.iat, everyone.validAfter)) return true;
    }
    return false;
  }

  /** Unsubscribes and forgets every entry. */
  async close(): Promise<void> {
    this.state = 'closed';
    const subscription = this.subscription;
    this.subscription = null;
    this.sessions.clear();
    this.users.clear();
    this.everyone = null;
    await subscription?.close();
  }

  private put(map: Map<string, Entry>, key: string, entry: Entry, now: number): void {
    // Re-inserted at the end, so insertion order stays the order of `until` (one retention for all).
    map.delete(key);
    map.set(key, entry);
    // Expired entries leave from the front as new ones arrive: the sweep is amortised, no timer.
    for (const [first, oldest] of map) {
      if (oldest.until > now || first === key) break;
      map.delete(first);
    }
    if (this.sessions.size + this.users.size > this.maxEntries) {
      const victim = this.sessions.size > 0 ? this.sessions : this.users;
      const oldest = victim.keys().next().value as string;
      victim.delete(oldest);
      this.emit({ type: 'revocation.list_full', at: now, maxEntries: this.maxEntries });
    }
  }

  private onStatus(state: 'up' | 'down', reason: string): void {
    if (this.state === 'closed') return;
    const now = this.clock.now();
    if (state === 'up') {
      if (this.state === 'up') return;
      const downForMs = this.downSince === null ? null : now - this.downSince;
      this.state = 'up';
      this.downSince = null;
      this.emit({ type: 'revocation.channel.up', at: now, downForMs });
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
      return;
    }
    if (this.state === 'down') return;
    this.state = 'down';
    this.downSince = now;
    this.emit({ type: 'revocation.channel.down', at: now, reason });
  }

  private emit(event: RevocationEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // Metrics hooks never decide authentication.
      }
    }
  }
}

/**
 * Whether a JWT issued at `iat` (seconds) predates an epoch at `validAfterMs`. Compared by whole
 * seconds, and the epoch's own second counts as before: `iat` cannot tell which came first.
 */
function issuedBefore(iat: number, validAfterMs: number): boolean {
  return iat <= Math.floor(validAfterMs / 1000);
}

/**
 * Creates a {@link RevocationList}; see its documentation.
 *
 * @example
 * ```ts
 * const revocations = createRevocationList({ channel, retainSeconds: 330 })
 * await revocations.ready()
 * ```
 */
export function createRevocationList(options?: RevocationListOptions): RevocationList {
  return new RevocationList(options);
}

/**
 * Package-private: sends a notice for the manager, bounded by `call` (the store deadline). Never
 * rejects: the revocation already happened in the store; a lost notice leaves verifiers on the
 * TTL bound, which `revocation.publish_failed` reports.
 */
export async function publishNotice(
  channel: RevocationChannel | undefined,
  notice: RevocationNotice,
  call: <T>(operation: () => Promise<T>) => Promise<T>,
  onEvent: RevocationEventListener | undefined,
): Promise<void> {
  if (!channel) return;
  try {
    await call(() => channel.publish(notice));
  } catch (error) {
    const reason = (error as { reason?: unknown })?.reason;
    try {
      onEvent?.({
        type: 'revocation.publish_failed',
        at: notice.at,
        kind: notice.kind,
        reason: typeof reason === 'string' ? reason : 'unreachable',
      });
    } catch {
      // Ignored like every event hook.
    }
  }
}

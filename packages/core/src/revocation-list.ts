import { type Clock, systemClock } from './clock.js';
import { SessionError } from './errors.js';
import type {
  RevocationChannel,
  RevocationEvent,
  RevocationEventListener,
  RevocationNotice,
  RevocationSubscription,
} from './revocation.js';

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
  /** Source of the current time, for entry retention. Default: the system clock. */
  clock?: Clock;
  /** Hooks for `revocation.list_full` and `revocation.channel.down`/`up` events. Default: none. */
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

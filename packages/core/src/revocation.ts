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

/** Why a request was rejected; also the `reason` of the error and of the `csrf.rejected` event. */
export type CsrfRejectReason =
  | 'cross_site'
  | 'same_site'
  | 'fetch_site_invalid'
  | 'origin_null'
  | 'origin_mismatch'
  | 'referer_mismatch'
  | 'origin_missing'
  | 'token_missing'
  | 'token_invalid'
  | 'content_type';

/**
 * Every event, by its `type`: each entry lists exactly the fields that event carries. No event
 * carries a token, secret or JWT: a session is named by `sidHash`, a keyed hash of its id (first
 * 16 hex chars of HMAC-SHA256(logKey, id)), which can be logged and correlated but not replayed.
 * `at` is milliseconds since the epoch, from the manager's clock. `ip` and `userAgent` are the
 * request's (or, for `session.created`, the stored metadata's), `null` when unknown.
 *
 * @example
 * ```ts
 * function onRotation(event: SessionEventMap['session.rotated']) {
 *   audit.link(event.previousSidHash, event.sidHash)
 * }
 * ```
 */
export interface SessionEventMap {
  /** A new session (login). */
  'session.created': {
    type: 'session.created';
    at: number;
    sidHash: string;
    userId: string;
    ip: string | null;
    userAgent: string | null;
  };
  /** A new id for the same session; the old token stopped working in the same step. */
  'session.rotated': {
    type: 'session.rotated';
    at: number;
    sidHash: string;
    /** The keyed hash of the id that was replaced. */
    previousSidHash: string;
    userId: string;
    /** `reauthenticated` when the rotation followed a fresh authentication (`reauthenticated: true`). */
    reason: 'rotated' | 'reauthenticated';
  };
  /** An explicit extension of the idle deadline (`extend`); routine touches emit nothing. */
  'session.extended': {
    type: 'session.extended';
    at: number;
    sidHash: string;
    userId: string;
  };
  /**
   * Sessions ended on purpose. One session: `sidHash` and `userId` (reason `revoked`, `logout`,
   * `replaced_on_login`, `refresh_reuse` or the caller's). Every session of a user: `userId` only
   * (`revoked_all`, `revoked_others` or the caller's). Every session of every user: neither
   * (`revoked_everyone` or the caller's).
   */
  'session.revoked': {
    type: 'session.revoked';
    at: number;
    sidHash?: string;
    userId?: string;
    reason: string;
  };
  /** The oldest sessions of a user, deleted to keep them within `maxSessionsPerUser`. */
  'session.evicted': {
    type: 'session.evicted';
    at: number;
    sidHash: string;
    userId: string;
    reason: 'session_limit';
  };
  /** A request presented a session past its idle or absolute deadline; the record is deleted. */
  'session.expired': {
    type: 'session.expired';
    at: number;
    sidHash: string;
    userId: string;
    reason: 'idle_expired' | 'absolute_expired';
  };
  /**
   * A session token that proves nothing: not of the token's shape, an unknown id, a wrong secret,
   * or more than one live same-name cookie. It names no session, since none was proven.
   */
  'session.invalid_token': {
    type: 'session.invalid_token';
    at: number;
    reason: 'malformed' | 'unknown' | 'secret_mismatch' | 'ambiguous';
    ip: string | null;
  };
  /** The binding policy flagged or rejected a request (`reason` is the policy's, `binding` if it gave none). */
  'session.anomaly': {
    type: 'session.anomaly';
    at: number;
    sidHash: string;
    userId: string;
    reason: string;
    ip: string | null;
    userAgent: string | null;
  };
  /** A refresh token was exchanged for its successor. */
  'refresh.rotated': {
    type: 'refresh.rotated';
    at: number;
    sidHash: string;
    userId: string;
  };
  /** A refresh token was presented again after rotation: the family and its session are revoked. */
  'refresh.reuse_detected': {
    type: 'refresh.reuse_detected';
    at: number;
    sidHash: string;
    userId: string;
    /** `after_grace`: the previous token, past the grace window; `older_generation`: an older one. */
    reason: 'after_grace' | 'older_generation';
  };
  /**
   * A DPoP-bound refresh token was presented without a proof (`proof_missing`) or with a proof
   * from another key (`key_mismatch`): most likely a stolen token. It was refused; nothing rotated.
   */
  'refresh.dpop_mismatch': {
    type: 'refresh.dpop_mismatch';
    at: number;
    sidHash: string;
    userId: string;
    reason: 'proof_missing' | 'key_mismatch';
  };
  /** The same for a DPoP-bound session token or session JWT presented to an API. */
  'session.dpop_mismatch': {
    type: 'session.dpop_mismatch';
    at: number;
    sidHash: string;
    userId: string;
    reason: 'proof_missing' | 'key_mismatch';
    ip: string | null;
  };
  /** A browser registered a Device Bound Session key for the session (DBSC). */
  'session.dbsc_registered': {
    type: 'session.dbsc_registered';
    at: number;
    sidHash: string;
    userId: string;
    alg: 'ES256' | 'RS256';
  };
  /**
   * A DBSC registration or refresh was refused: no proof from the registered key (`key_mismatch`,
   * most likely a copied cookie without the device), a malformed or unsigned proof
   * (`proof_invalid`), a challenge that is unknown, expired or already used (`challenge_invalid`),
   * a session that is not bound or names another DBSC id (`not_bound`, `id_mismatch`), or a
   * second registration of a bound session (`already_bound`).
   */
  'session.dbsc_rejected': {
    type: 'session.dbsc_rejected';
    at: number;
    sidHash: string;
    userId: string;
    step: 'registration' | 'refresh';
    reason: 'key_mismatch' | 'proof_invalid' | 'challenge_invalid' | 'not_bound' | 'id_mismatch' | 'already_bound';
    ip: string | null;
  };
  /**
   * An unsafe request failed the CSRF checks (in report-only mode the reason is prefixed with
   * `report_only:` and the request went through). `sidHash` and `userId` when it carried a session.
   */
  'csrf.rejected': {
    type: 'csrf.rejected';
    at: number;
    sidHash?: string;
    userId?: string;
    reason: CsrfRejectReason | `report_only:${CsrfRejectReason}`;
    ip: string | null;
  };
  /** A JWT failed verification: `reason` is the error's reason, or its code when it has none. */
  'jwt.rejected': {
    type: 'jwt.rejected';
    at: number;
    reason: string;
  };
}

/** The `type` of each event. */
export type SessionEventType = keyof SessionEventMap;

/**
 * One event: a union on `type`, so checking the type gives that event's fields.
 *
 * @example
 * ```ts
 * onEvent: (event) => {
 *   if (event.type === 'session.rotated') log(event.previousSidHash, '->', event.sidHash)
 *   if (event.type === 'refresh.reuse_detected') alert(event.userId, event.reason)
 * }
 * ```
 */
export type SessionEvent = SessionEventMap[SessionEventType];

/**
 * An audit hook. It may be async (a database write): a returned promise that rejects is ignored
 * like a throw. (`void` as the return type accepts any function, async ones included.)
 */
export type SessionEventListener = (event: SessionEvent) => void;

/**
 * Calls each listener; a throwing listener, or an async one that rejects, never breaks
 * authentication (an unhandled rejection would end a Node process).
 *
 * @example
 * ```ts
 * const emit = createEmitter([auditLog, alerts])
 * emit({ type: 'session.revoked', at: Date.now(), userId, reason: 'revoked_all' })
 * ```
 */
export function createEmitter(
  listeners: SessionEventListener | readonly SessionEventListener[] | undefined,
): (event: SessionEvent) => void {
  const list =
    listeners === undefined ? [] : Array.isArray(listeners) ? [...listeners] : [listeners as SessionEventListener];
  if (list.length === 0) return () => {};
  return (event) => {
    for (const listener of list) {
      try {
        const outcome: unknown = listener(event);
        if (isThenable(outcome)) outcome.then(undefined, ignoreFailure);
      } catch {
        // Audit hooks must not decide whether a request is authenticated.
      }
    }
  };
}

function ignoreFailure(): void {}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

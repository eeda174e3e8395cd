import { base64urlDecode } from './encoding.js';
import { isSessionError, SessionError } from './errors.js';
import { expiryStatus } from './expiry.js';
import { secretMatchesHash } from './hash.js';
import { type IssuedSessionJwt, noJwtNearDeadline, type SessionJwt } from './jwt/session-jwt.js';
import { JwtVerifier, type VerifiedSessionJwt } from './jwt/verify.js';
import { runtimeOf, toSession } from './manager.js';
import type { SessionRuntime } from './runtime.js';
import { EXPIRED_RETENTION_MS } from './store.js';
import { parseSessionToken } from './token.js';
import type { RequestSignals, Session, SessionData, SessionRecord } from './types.js';

/** Default window, in seconds, in which an expired session JWT may still be exchanged. */
export const DEFAULT_EXCHANGE_WINDOW_SECONDS = 300;
/** Largest exchange window accepted, in seconds. */
export const MAX_EXCHANGE_WINDOW_SECONDS = 3600;

export interface SessionAuthorityOptions<D extends SessionData, C extends object> {
  /** The session JWTs (and through them the manager and store) this authority answers for. */
  jwt: SessionJwt<D, C>;
  /**
   * How long after its `exp` a genuine session JWT may still be exchanged for a fresh one, in
   * seconds (default 300, at most 3600). Past it, the JWT is refused with `JWT_EXPIRED`.
   */
  exchangeWindowSeconds?: number;
}

/** What to authenticate: exactly one of a session token or a session JWT. */
export interface AuthorityCredential {
  /** An opaque session token, as the session cookie carries it. */
  sessionToken?: string | null;
  /** A session JWT issued for the session (one expired within the exchange window is accepted too). */
  sessionJwt?: string | null;
}

export interface AuthorityAuthenticateOptions {
  /**
   * Pushes the session's idle deadline to now plus this many minutes (never past the absolute
   * deadline), without changing the token. Absent: the usual sliding renewal only.
   */
  extendMinutes?: number;
  /** Client signals for the binding policy (session-token path). */
  signals?: RequestSignals;
}

/** A live session and a fresh JWT for it (null in the session's last seconds, within the clock tolerance). */
export interface AuthorityAnswer<D extends SessionData, C extends object> {
  session: Session<D>;
  jwt: IssuedSessionJwt<C> | null;
  /** How the credential was recognised: a session token, a JWT still valid, or a JWT in the exchange window. */
  via: 'session_token' | 'session_jwt' | 'expired_session_jwt';
}

/** What to revoke: exactly one of a session id, a session token or a session JWT. */
export interface AuthorityRevokeInput extends AuthorityCredential {
  /** The id of the session to revoke (as listed by the session API), instead of a credential. */
  sessionId?: string | null;
}

/**
 * The central auth service's session functions, for the HTTP session API and for apps that do
 * the same in process: authenticate a session token or a session JWT (one expired no more than
 * the exchange window ago, too) and answer the live session with a fresh JWT; revoke by session
 * id, token or JWT. Every refusal throws a {@link SessionError} with a stable code; a store
 * outage throws `STORE_UNAVAILABLE` (never a pass).
 *
 * @example
 * ```ts
 * const authority = createSessionAuthority({ jwt: jwts, exchangeWindowSeconds: 300 })
 * const { session, jwt } = await authority.authenticate({ sessionJwt: expiredButGenuine })
 * await authority.revoke({ sessionJwt: jwt.token })
 * ```
 */
export interface SessionAuthority<D extends SessionData = SessionData, C extends object = Record<string, never>> {
  readonly jwt: SessionJwt<D, C>;
  readonly exchangeWindowSeconds: number;
  /**
   * The live session behind a session token or session JWT, with a fresh JWT. A JWT that
   * expired no more than {@link exchangeWindowSeconds} ago is accepted when its signature and
   * claims are genuine and its session is still live; beyond the window `JWT_EXPIRED`.
   */
  authenticate(credential: AuthorityCredential, options?: AuthorityAuthenticateOptions): Promise<AuthorityAnswer<D, C>>;
  /**
   * The claims of a genuine session JWT that is valid or expired within the window. Checks the
   * signature and every claim as the verifier does; does not ask the store.
   */
  verifyGenuine(sessionJwt: string | null | undefined): Promise<{ claims: VerifiedSessionJwt<C>; expired: boolean }>;
  /**
   * Revokes one session, named by its id, its token (the secret must match) or one of its JWTs
   * (genuine, expired within the window at most). Returns whether a session was revoked: false
   * for an unknown, expired or already revoked one.
   */
  revoke(input: AuthorityRevokeInput, options?: { reason?: string }): Promise<boolean>;
  /** A user's live sessions, most recently seen first (no secrets: the public view). */
  list(userId: string): Promise<Session<D>[]>;
}

/**
 * Creates a {@link SessionAuthority}; see its documentation.
 *
 * @example
 * ```ts
 * const authority = createSessionAuthority({ jwt: createSessionJwt({ manager, keys, issuer, audience: 'api' }) })
 * ```
 */
export function createSessionAuthority<D extends SessionData = SessionData, C extends object = Record<string, never>>(
  options: SessionAuthorityOptions<D, C>,
): SessionAuthority<D, C> {
  if (!options?.jwt) throw new SessionError('CONFIG_INVALID', 'A SessionJwt is required');
  const jwt = options.jwt;
  const rt = runtimeOf(jwt.manager);
  const windowSeconds = options.exchangeWindowSeconds ?? DEFAULT_EXCHANGE_WINDOW_SECONDS;
  if (!Number.isSafeInteger(windowSeconds) || windowSeconds < 0 || windowSeconds > MAX_EXCHANGE_WINDOW_SECONDS) {
    throw new SessionError('CONFIG_INVALID', 'exchangeWindowSeconds must be a whole number from 0 to 3600');
  }
  // The verifier's own issuer, audience and typ settings, read once.
  const pinned = jwt.verifier.joseOptions(jwt.keys.active);

  const verifyGenuine = async (token: string | null | undefined) => {
    try {
      return { claims: await jwt.verify(token), expired: false };
    } catch (error) {
      if (!isSessionError(error, 'JWT_EXPIRED')) throw error;
    }
    // Expired: check everything again as of one second before its `exp`, when it was valid, then
    // measure the window from `exp`. The payload is read before the signature only to pick that
    // moment; the verification below is the judge.
    const exp = unverifiedExp(token as string);
    if (exp === null) throw new SessionError('JWT_CLAIM_INVALID', undefined, { reason: 'exp_not_integer' });
    const now = rt.clock.now();
    if (now > (exp + windowSeconds) * 1000) {
      throw new SessionError('JWT_EXPIRED', 'The JWT expired before the exchange window', {
        reason: 'beyond_exchange_window',
      });
    }
    const asOf = (exp - 1) * 1000;
    const past = new JwtVerifier<C>({
      keys: jwt.keys,
      issuer: pinned.issuer as string[],
      audience: pinned.audience as string[],
      typ: jwt.verifier.typ,
      maxTokenAgeSeconds: jwt.verifier.maxTokenAgeSeconds,
      clockToleranceSeconds: jwt.verifier.clockToleranceSeconds,
      clock: { now: () => asOf },
      cacheSize: 0,
    });
    return { claims: await past.verify(token), expired: true };
  };

  /** The record behind a JWT's `sid`, live or not (read with the look-back that tells expired from gone). */
  const recordOf = async (id: string, now: number): Promise<SessionRecord<D> | null> =>
    rt.callStore(() => rt.store.get(id, now - EXPIRED_RETENTION_MS));

  const liveFromJwt = async (claims: VerifiedSessionJwt<C>, now: number): Promise<SessionRecord<D>> => {
    const record = await recordOf(claims.sid, now);
    if (!record || record.userId !== claims.sub) throw new SessionError('SESSION_REVOKED');
    if (expiryStatus(record, now) !== 'valid') throw new SessionError('SESSION_EXPIRED');
    const touched = rt.touch(record, now);
    return touched === null ? record : (await touched).record;
  };

  const authenticate = async (
    credential: AuthorityCredential,
    authOptions: AuthorityAuthenticateOptions = {},
  ): Promise<AuthorityAnswer<D, C>> => {
    const { sessionToken, sessionJwt } = credential ?? {};
    const hasToken = typeof sessionToken === 'string' && sessionToken.length > 0;
    const hasJwt = typeof sessionJwt === 'string' && sessionJwt.length > 0;
    if (hasToken === hasJwt) {
      throw new SessionError('UNAUTHENTICATED', 'Give exactly one of a session token or a session JWT', {
        reason: hasToken ? 'two_credentials' : 'no_credential',
      });
    }
    const extendMs = extension(authOptions.extendMinutes, rt);
    let session: Session<D>;
    let via: AuthorityAnswer<D, C>['via'];
    if (hasToken) {
      const result = await jwt.manager.validateToken(sessionToken, authOptions.signals);
      if (result.status !== 'valid') throw result.error;
      session = result.session;
      via = 'session_token';
    } else {
      const { claims, expired } = await verifyGenuine(sessionJwt);
      session = toSession(await liveFromJwt(claims, rt.clock.now()));
      via = expired ? 'expired_session_jwt' : 'session_jwt';
    }
    if (extendMs !== null) session = await jwt.manager.extend(session, { byMs: extendMs });
    const issued = await jwt.issue(session).catch(noJwtNearDeadline);
    return { session, jwt: issued, via };
  };

  const revoke = async (input: AuthorityRevokeInput, revokeOptions: { reason?: string } = {}): Promise<boolean> => {
    const { sessionId, sessionToken, sessionJwt } = input ?? {};
    const given = [sessionId, sessionToken, sessionJwt].filter((v) => typeof v === 'string' && v.length > 0);
    if (given.length !== 1) {
      throw new SessionError('UNAUTHENTICATED', 'Give exactly one of a session id, token or JWT', {
        reason: given.length === 0 ? 'no_credential' : 'two_credentials',
      });
    }
    if (typeof sessionId === 'string' && sessionId.length > 0) {
      return jwt.manager.revoke(sessionId, { reason: revokeOptions.reason ?? 'revoked_by_id' });
    }
    if (typeof sessionToken === 'string' && sessionToken.length > 0) {
      const parts = parseSessionToken(sessionToken);
      if (!parts) return false;
      const record = await recordOf(parts.id, rt.clock.now());
      // Hash even for an unknown id: both failures cost the same.
      if (!secretMatchesHash(parts.secret, record ? record.secretHash : UNKNOWN_ID_HASH) || !record) return false;
      return jwt.manager.revoke(record.id, {
        userId: record.userId,
        reason: revokeOptions.reason ?? 'revoked_by_token',
      });
    }
    const { claims } = await verifyGenuine(sessionJwt);
    return jwt.manager.revoke(claims.sid, { userId: claims.sub, reason: revokeOptions.reason ?? 'revoked_by_jwt' });
  };

  return Object.freeze({
    jwt,
    exchangeWindowSeconds: windowSeconds,
    authenticate,
    verifyGenuine,
    revoke,
    list: (userId: string) => {
      if (typeof userId !== 'string' || userId.length === 0 || userId.length > 256) {
        return Promise.reject(
          new SessionError('INPUT_INVALID', 'userId must be a non-empty string', { reason: 'user_id' }),
        );
      }
      return jwt.manager.list(userId);
    },
  });
}

/** Compared against when the id is unknown, so that both failures cost one hash and one compare. */
const UNKNOWN_ID_HASH = '0'.repeat(64);

/** `extendMinutes` in ms: a whole number of minutes up to the absolute timeout, or INPUT_INVALID. */
function extension<D extends SessionData>(minutes: number | undefined, rt: SessionRuntime<D>): number | null {
  if (minutes === undefined) return null;
  const most = Math.max(rt.policy.absoluteTimeoutMs, rt.policy.persistentAbsoluteTimeoutMs) / 60_000;
  if (!Number.isSafeInteger(minutes) || minutes < 1 || minutes > most) {
    throw new SessionError(
      'INPUT_INVALID',
      'extendMinutes must be a whole number of minutes within the absolute timeout',
      {
        reason: 'extend_minutes',
      },
    );
  }
  return minutes * 60_000;
}

/** The integer `exp` of a compact JWT's payload, unverified; null when unreadable. */
function unverifiedExp(token: string): number | null {
  const parts = token.split('.');
  const bytes = parts.length === 3 ? base64urlDecode(parts[1] as string) : null;
  if (bytes === null) return null;
  try {
    const payload = JSON.parse(new TextDecoder().decode(bytes)) as { exp?: unknown };
    return Number.isSafeInteger(payload.exp) ? (payload.exp as number) : null;
  } catch {
    return null;
  }
}

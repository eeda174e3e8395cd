import { SignJWT } from 'jose';
import { base64urlEncode } from '../encoding.js';
import { isSessionError, SessionError } from '../errors.js';
import { expiryStatus } from '../expiry.js';
import { sha256 } from '../hash.js';
import { runtimeOf, type SessionManager } from '../manager.js';
import { randomString } from '../random.js';
import type { SessionRuntime } from '../runtime.js';
import { type RequestSignals, recordExpiresAt, type Session, type SessionData } from '../types.js';
import type { ValidationResult } from '../validation.js';
import type { JwtKeySet } from './key-set.js';
import type { PublicJwks } from './keys.js';
import {
  checkTolerance,
  DEFAULT_JWT_TTL_SECONDS,
  JwtVerifier,
  type JwtVerifierOptions,
  positiveSeconds,
  REGISTERED_CLAIMS,
  rememberIssued,
  SESSION_JWT_TYP,
  type VerifiedSessionJwt,
  type VerifyOptions,
} from './verify.js';

/** Longest accepted JWT lifetime: a session JWT is short-lived by design (F13). */
export const MAX_JWT_TTL_SECONDS = 3600;

/**
 * Custom claim names refused at {@link SessionJwt.issue}: as members of a plain object they would
 * reach `Object.prototype` (`data.__proto__ = x` replaces an object's prototype), so claims with
 * these names never become session data.
 */
export const PROTOTYPE_CLAIM_NAMES: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export interface SessionJwtOptions<D extends SessionData, C extends object> {
  /** The sessions the JWTs stand for: issuing and strict checks ask its store. */
  manager: SessionManager<D>;
  /** Signing key plus verify-only keys; the active key signs. */
  keys: JwtKeySet;
  /** `iss` of issued tokens, and the only issuer accepted. */
  issuer: string;
  /** `aud` of issued tokens; verification accepts a token naming any of them. */
  audience: string | readonly string[];
  /** Lifetime in seconds (default 300, at most 3600). Also the verifier's max token age. */
  ttlSeconds?: number;
  /** Default 30, at most 300. */
  clockToleranceSeconds?: number;
  /** `typ` header (default `session+jwt`). */
  typ?: string;
  /**
   * Typed custom claims from the session (roles, tenant). Anyone holding the JWT can read them:
   * keep them minimal and free of personal data. Registered claim names are refused.
   */
  claims?: (session: Session<D>) => C;
  /** Verified-token cache bound (default 10 000; 0 disables). */
  cacheSize?: number;
  /** Pushed revocations the verifier also refuses (see `JwtVerifierOptions.revocations`). */
  revocations?: JwtVerifierOptions['revocations'];
}

/** A freshly signed session JWT. */
export interface IssuedSessionJwt<C extends object = Record<string, never>> {
  /** The compact JWT. A credential: never log it. */
  token: string;
  claims: VerifiedSessionJwt<C>;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  /** Seconds from now until `exp` (for `expires_in` and cookie Max-Age). */
  expiresIn: number;
}

/**
 * The outcome of {@link SessionJwt.authenticate}: a validation result plus `jwt`, a fresh JWT for
 * the session (null without a session, or in its last seconds, within the clock tolerance).
 */
export type AuthenticatedSession<D extends SessionData, C extends object> = ValidationResult<D> & {
  jwt: IssuedSessionJwt<C> | null;
};

/** Set by SessionJwt's static block: {@link issueSessionJwtAt} reaches its private issue through it. */
// biome-ignore lint/suspicious/noExplicitAny: set once by SessionJwt's static block, for JWTs of any type.
let issueAt: (jwt: SessionJwt<any, any>, session: Session<any>, nowMs: number) => Promise<IssuedSessionJwt<any>>;

/**
 * Session JWTs for the sessions of one {@link SessionManager} (the `session_token` +
 * `session_jwt` model): short-lived signed tokens any service can verify with the public JWKS,
 * issued only for live sessions and refreshed from them.
 *
 * @example
 * ```ts
 * const keys = createJwtKeySet({ active: await generateSigningKey() }) // ES256
 * const jwts = createSessionJwt({ manager, keys, issuer: 'https://auth.example.com', audience: 'api' })
 * const { jwt } = await jwts.authenticate(sessionToken)      // null unless the session is live
 * const claims = await jwts.verify(jwt.token)                // cached after the first call
 * const sure = await jwts.verify(jwt.token, { strict: true }) // also asks the store
 * ```
 */
export class SessionJwt<D extends SessionData = SessionData, C extends object = Record<string, never>> {
  readonly manager: SessionManager<D>;
  readonly keys: JwtKeySet;
  readonly verifier: JwtVerifier<C>;
  readonly issuer: string;
  readonly ttlSeconds: number;
  private readonly audience: string | string[];
  private readonly customClaims: ((session: Session<D>) => C) | undefined;
  readonly #rt: SessionRuntime<D>;

  /** @internal Use {@link createSessionJwt}. */
  constructor(options: SessionJwtOptions<D, C>) {
    if (!options?.manager || !options.keys) {
      throw new SessionError('CONFIG_INVALID', 'A session manager and a key set are required');
    }
    this.manager = options.manager;
    this.#rt = runtimeOf(options.manager);
    this.keys = options.keys;
    if (typeof options.issuer !== 'string' || options.issuer.length === 0) {
      throw new SessionError('CONFIG_INVALID', 'issuer is required');
    }
    this.issuer = options.issuer;
    this.audience = typeof options.audience === 'string' ? options.audience : [...(options.audience ?? [])];
    this.ttlSeconds = positiveSeconds('ttlSeconds', options.ttlSeconds, DEFAULT_JWT_TTL_SECONDS);
    if (this.ttlSeconds > MAX_JWT_TTL_SECONDS) {
      throw new SessionError('CONFIG_INVALID', 'ttlSeconds must not exceed 3600: session JWTs are short-lived');
    }
    // Fails early for a verify-only key set.
    void this.keys.active;
    this.customClaims = options.claims;
    this.verifier = new JwtVerifier<C>({
      keys: this.keys,
      issuer: this.issuer,
      audience: this.audience,
      typ: options.typ ?? SESSION_JWT_TYP,
      maxTokenAgeSeconds: this.ttlSeconds,
      clockToleranceSeconds: checkTolerance(options.clockToleranceSeconds),
      clock: this.#rt.clock,
      cacheSize: options.cacheSize,
      isSessionLive: (claims) => this.isSessionLive(claims.sid, claims.sub),
      // Bounded by the manager already.
      isSessionLiveTimeoutMs: null,
      onEvent: this.#rt.emit,
      revocations: options.revocations,
    });
  }

  /**
   * Signs a JWT for `session`, which the caller has just validated (or created). Its `exp` is at
   * most the session's deadline minus the clock tolerance, since verifiers accept a token up to
   * the tolerance past `exp`: no verification outlives the session. Throws `SESSION_EXPIRED` for a
   * session past its deadline or within the tolerance of it (reason `ends_within_tolerance`).
   * `bindToSecret` (the session token's secret) adds the `sth` claim that hybrid-mode cookies require,
   * and the session's CSRF id as `csrf_id`, so CSRF tokens survive rotation on the JWT path too.
   */
  issue(session: Session<D>, options: { bindToSecret?: string } = {}): Promise<IssuedSessionJwt<C>> {
    return this.#issueAt(session, this.#rt.clock.now(), options);
  }

  static {
    // Package-private: refresh tokens check the window and issue with one reading of the clock.
    issueAt = (jwt, session, nowMs) => jwt.#issueAt(session, nowMs, {});
  }

  async #issueAt(session: Session<D>, nowMs: number, options: { bindToSecret?: string }): Promise<IssuedSessionJwt<C>> {
    if (!session || typeof session.id !== 'string' || typeof session.userId !== 'string') {
      throw new SessionError('CONFIG_INVALID', 'issue() needs a session from the manager');
    }
    if (expiryStatus(session, nowMs) !== 'valid') throw new SessionError('SESSION_EXPIRED');
    const window = sessionJwtWindow(this, session, nowMs);
    if (!window) {
      throw new SessionError('SESSION_EXPIRED', 'The session ends within the clock tolerance: no JWT is issued', {
        reason: 'ends_within_tolerance',
      });
    }
    const { iat, exp } = window;

    const custom = this.customClaims ? this.customClaims(session) : undefined;
    if (custom !== undefined && (typeof custom !== 'object' || custom === null || Array.isArray(custom))) {
      throw new SessionError('CONFIG_INVALID', 'claims() must return a plain object');
    }
    for (const name of Object.keys(custom ?? {})) {
      if (REGISTERED_CLAIMS.includes(name)) {
        throw new SessionError('CONFIG_INVALID', `Custom claim "${name}" would override a registered claim`);
      }
      if (PROTOTYPE_CLAIM_NAMES.has(name)) {
        throw new SessionError('CONFIG_INVALID', `Custom claim "${name}" is refused: it names a prototype member`);
      }
    }
    const claims = {
      ...(custom as object),
      iss: this.issuer,
      sub: session.userId,
      aud: this.audience,
      sid: session.id,
      jti: randomString(16, this.#rt.random),
      iat,
      nbf: iat,
      exp,
      auth_time: Math.floor(session.authenticatedAt / 1000),
      ...(options.bindToSecret === undefined ? {} : { sth: sessionTokenBinding(options.bindToSecret) }),
      ...(options.bindToSecret !== undefined && typeof session.metadata?.csrfId === 'string'
        ? { csrf_id: session.metadata.csrfId }
        : {}),
      ...(typeof session.metadata?.dpopJkt === 'string' ? { cnf: { jkt: session.metadata.dpopJkt } } : {}),
    } as unknown as VerifiedSessionJwt<C>;
    const key = this.keys.active;
    const token = await new SignJWT(claims as unknown as Record<string, unknown>)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: this.verifier.typ })
      .sign(key.signingKey as CryptoKey);
    const frozen = Object.freeze(claims);
    rememberIssued(this.verifier, token, frozen, key);
    return { token, claims: frozen, expiresAt: exp * 1000, expiresIn: exp - iat };
  }

  /**
   * "Authenticate" with a session token: validates it against the store and, only while the
   * session is live, returns a fresh JWT with the result (none within the clock tolerance of the
   * session's deadline). Never throws for client input; a store outage comes back as status
   * `unavailable` with no JWT.
   */
  async authenticate(
    sessionToken: string | null | undefined,
    signals?: RequestSignals,
  ): Promise<AuthenticatedSession<D, C>> {
    const result = await this.manager.validateToken(sessionToken, signals);
    if (result.status !== 'valid') return { ...result, jwt: null };
    return { ...result, jwt: await this.issue(result.session).catch(noJwtNearDeadline) };
  }

  /**
   * Verifies a session JWT. Lax by default: a revoked session's JWT keeps verifying until its
   * `exp` (at most the TTL). `{ strict: true }` also asks the store whether `sid` is live.
   */
  verify(token: string | null | undefined, options?: VerifyOptions): Promise<VerifiedSessionJwt<C>> {
    return this.verifier.verify(token, options);
  }

  /** The public JWKS to serve (EdDSA/ES256 keys; empty for HS256). */
  jwks(): PublicJwks {
    return this.keys.exportJwks();
  }

  /** Whether session `sid` of user `sub` is live in the store; store errors propagate (fail closed). */
  async isSessionLive(sid: string, sub: string): Promise<boolean> {
    return (await this.#rt.lookupLive(sid, this.#rt.clock.now(), sub)) !== null;
  }
}

/**
 * Package-private (no entry point exports it): {@link SessionJwt.issue} at `nowMs`, the moment a
 * caller already checked with {@link sessionJwtWindow}, so the check and the signing agree.
 */
export function issueSessionJwtAt<D extends SessionData, C extends object>(
  jwt: SessionJwt<D, C>,
  session: Session<D>,
  nowMs: number,
): Promise<IssuedSessionJwt<C>> {
  return issueAt(jwt, session, nowMs) as Promise<IssuedSessionJwt<C>>;
}

/**
 * The `iat` and `exp` (seconds) of a JWT for `session` issued at `nowMs`: at most the TTL, and
 * `exp` at most the session's deadline minus the clock tolerance. Null when that leaves nothing,
 * in the session's last seconds: no JWT may be issued then.
 */
export function sessionJwtWindow(
  // biome-ignore lint/suspicious/noExplicitAny: only the TTL and the tolerance are read.
  jwt: SessionJwt<any, any>,
  session: { idleExpiresAt: number | null; absoluteExpiresAt: number },
  nowMs: number,
): { iat: number; exp: number } | null {
  const iat = Math.floor(nowMs / 1000);
  const lastExp = Math.floor(recordExpiresAt(session) / 1000) - jwt.verifier.clockToleranceSeconds;
  const exp = Math.min(iat + jwt.ttlSeconds, lastExp);
  return exp > iat ? { iat, exp } : null;
}

/**
 * Creates a {@link SessionJwt}; see its documentation.
 *
 * @example
 * ```ts
 * const jwts = createSessionJwt({ manager, keys, issuer: 'https://auth.example.com', audience: 'api' })
 * ```
 */
export function createSessionJwt<D extends SessionData = SessionData, C extends object = Record<string, never>>(
  options: SessionJwtOptions<D, C>,
): SessionJwt<D, C> {
  return new SessionJwt<D, C>(options);
}

/**
 * For callers of {@link SessionJwt.issue} with a session they have just validated: `SESSION_EXPIRED`
 * there means the session ends within the clock tolerance, so the answer is "no JWT" rather than
 * an error. Anything else is rethrown.
 *
 * @example
 * ```ts
 * const issued = await jwts.issue(session).catch(noJwtNearDeadline) // null in the session's last seconds
 * ```
 */
export function noJwtNearDeadline(error: unknown): null {
  if (isSessionError(error, 'SESSION_EXPIRED')) return null;
  throw error;
}

/**
 * The `sth` claim for a session token's secret: base64url of the first 16 bytes of its SHA-256.
 * Binds a hybrid-mode JWT cookie to the session cookie it was issued with, so the JWT cannot be
 * paired with any other value of that cookie. The hash reveals nothing usable about a 256-bit secret.
 */
export function sessionTokenBinding(secret: string): string {
  return base64urlEncode(sha256(secret).subarray(0, 16));
}

import { compactVerify, type JWTVerifyOptions, jwtVerify } from 'jose';
import { type Clock, systemClock } from '../clock.js';
import { Deadlines } from '../deadlines.js';
import { isSessionError, SessionError } from '../errors.js';
import { createEmitter, type SessionEvent, type SessionEventListener } from '../events.js';
import type { RevocableClaims } from '../revocation-list.js';
import { VerifiedTokenCache } from './cache.js';
import { type CheckedJwsHeader, fail, fromJoseError, inspectCompactJws, MAX_JWT_LENGTH } from './compact.js';
import type { JwtKeySource } from './key-set.js';
import type { JwtKey } from './keys.js';
import { RemoteJwks } from './remote.js';

/** The `typ` header of session JWTs (F7). */
export const SESSION_JWT_TYP = 'session+jwt';
/** Default lifetime of a session JWT, in seconds (F13). */
export const DEFAULT_JWT_TTL_SECONDS = 300;
/** Default clock tolerance, in seconds (F5). */
export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;
/** Largest clock tolerance accepted, in seconds ("a few minutes", RFC 7519 section 4.1.4). */
export const MAX_CLOCK_TOLERANCE_SECONDS = 300;
/** Default bound of the verified-token cache. */
export const DEFAULT_JWT_CACHE_SIZE = 10_000;

/** Claims every session JWT carries (F12): no personal data beyond the subject id. */
export interface SessionJwtClaims {
  iss: string;
  /** The user id. */
  sub: string;
  aud: string | string[];
  /** The session id: what strict mode and revocation look up. */
  sid: string;
  jti: string;
  /** Seconds since the epoch. */
  iat: number;
  nbf: number;
  exp: number;
  /** When the user last proved their identity, in seconds since the epoch. */
  auth_time?: number;
  /**
   * Session-token binding of hybrid-mode JWT cookies: base64url of the first 16 bytes of
   * SHA-256 of the session token's secret. Absent from JWTs issued for API use.
   */
  sth?: string;
  /**
   * The session's CSRF id, in hybrid-mode JWT cookies only (with `sth`): CSRF tokens stay bound to
   * it across rotation on the JWT path as on the store path. Useless without the CSRF key.
   */
  csrf_id?: string;
  /** Confirmation (RFC 9449): the thumbprint of the DPoP key a bound session's JWTs need a proof from. */
  cnf?: { jkt: string };
}

/** What a verification returns: the registered claims plus the app's typed custom claims. */
export type VerifiedSessionJwt<C extends object = Record<string, never>> = Readonly<SessionJwtClaims & C>;

/** Claims the library sets itself; custom claims may not use these names. */
export const REGISTERED_CLAIMS: readonly string[] = Object.freeze([
  'iss',
  'sub',
  'aud',
  'sid',
  'jti',
  'iat',
  'nbf',
  'exp',
  'auth_time',
  'sth',
  'csrf_id',
  'cnf',
]);

const REQUIRED_CLAIMS = ['exp', 'nbf', 'iat', 'sub', 'sid', 'jti'];
const MAX_CLAIM_STRING = 256;

export interface JwtVerifierOptions {
  /** A local key set, a {@link RemoteJwks}, or the URL of a JWKS (https, or loopback http). */
  keys: JwtKeySource | string | URL;
  /** Accepted `iss` values, compared exactly (F6). Required. */
  issuer: string | readonly string[];
  /** This verifier's audience(s); the token's `aud` must name one (F6). Required. */
  audience: string | readonly string[];
  /** Expected `typ` header (default `session+jwt`); `application/session+jwt` is accepted too. */
  typ?: string;
  /** Oldest accepted `iat`, and longest accepted `exp - iat`, in seconds (default 300). */
  maxTokenAgeSeconds?: number;
  /** Tolerance for `exp`, `nbf` and `iat` in seconds (default 30, at most 300). */
  clockToleranceSeconds?: number;
  /** Source of the current time, for `exp`, `nbf` and `iat`. Default: the system clock. */
  clock?: Clock;
  /** Bound of the verified-token cache (default 10 000; 0 disables it). */
  cacheSize?: number;
  /**
   * Strict mode's question: is this session still live? Called on every strict verification,
   * cached token or not. Without it, strict verification throws `CONFIG_INVALID`.
   */
  isSessionLive?: (claims: VerifiedSessionJwt<Record<string, unknown>>) => Promise<boolean>;
  /**
   * Bound in ms on each `isSessionLive` answer (default 2000): past it the verification fails
   * closed with 503 `STORE_UNAVAILABLE` (reason `timeout`), so a request never waits on an auth
   * server or store that hangs. `null` for none, for a callback bounded already (a `SessionJwt`'s
   * own check runs within its manager's `storeTimeoutMs`).
   */
  isSessionLiveTimeoutMs?: number | null;
  /** Verify strictly by default (default false: a JWT outlives revocation by at most its TTL). */
  strict?: boolean;
  /** Hook for `jwt.rejected` events (reason only, never the token). */
  onEvent?: SessionEventListener;
  /**
   * Revocations pushed by the auth server (a `RevocationList` subscribed to the store's channel):
   * a JWT of a session it names is refused with `JWT_REVOKED` (reason `revocation_notice`), cached
   * or not, strict or lax, within the channel's delivery delay instead of at `exp`.
   */
  revocations?: { isRevoked(claims: RevocableClaims): boolean };
}

export interface VerifyOptions {
  /** Ask `isSessionLive` even for a cached token (sensitive routes). */
  strict?: boolean;
}

/**
 * Verifies session JWTs: structural pre-checks of the compact form before any cryptography,
 * then `jose` with every option pinned (the key's own algorithm only, issuer, audience, `typ`,
 * required claims, max token age, clock tolerance), then integer time claims and a lifetime no
 * longer than the max age. Verified tokens are cached by their exact string until `exp`. Strict
 * mode asks whether `sid` is still live on every call (revocation by `sid`, never by token hash).
 *
 * Every failure throws a {@link SessionError} with its own code (`JWT_*`, `JWKS_UNAVAILABLE`).
 *
 * @example
 * ```ts
 * const verifier = createJwtVerifier({ keys: jwksUrl, issuer: 'https://auth.example.com', audience: 'orders' })
 * const claims = await verifier.verify(readBearerToken(req.headers.authorization))
 * ```
 */
export class JwtVerifier<C extends object = Record<string, never>> {
  readonly keys: JwtKeySource;
  readonly typ: string;
  readonly maxTokenAgeSeconds: number;
  readonly clockToleranceSeconds: number;
  readonly clock: Clock;
  private readonly issuers: string[];
  private readonly audiences: string[];
  readonly #cache: VerifiedTokenCache<VerifiedSessionJwt<C>>;
  private readonly isSessionLive: JwtVerifierOptions['isSessionLive'];
  /** Bounds `isSessionLive` (none when `isSessionLiveTimeoutMs` is null). */
  private readonly liveCheckDeadlines: Deadlines | null;
  private readonly strictByDefault: boolean;
  private readonly onEvent: ((event: SessionEvent) => void) | undefined;
  private readonly peekKey: (kid: string) => JwtKey | undefined;
  private readonly revocations: JwtVerifierOptions['revocations'];

  /** @internal Use {@link createJwtVerifier}. */
  constructor(options: JwtVerifierOptions) {
    if (!options || typeof options !== 'object') throw new SessionError('CONFIG_INVALID', 'Verifier options required');
    const keys = options.keys;
    this.keys =
      typeof keys === 'string' || keys instanceof URL ? new RemoteJwks({ url: keys, clock: options.clock }) : keys;
    if (!this.keys || typeof this.keys.resolve !== 'function') {
      throw new SessionError('CONFIG_INVALID', 'keys must be a JwtKeySet, a RemoteJwks or a JWKS URL');
    }
    this.issuers = nonEmptyList('issuer', options.issuer);
    this.audiences = nonEmptyList('audience', options.audience);
    this.typ = options.typ ?? SESSION_JWT_TYP;
    if (typeof this.typ !== 'string' || this.typ.length === 0 || this.typ.includes('/')) {
      throw new SessionError('CONFIG_INVALID', 'typ must be a media subtype such as "session+jwt"');
    }
    this.maxTokenAgeSeconds = positiveSeconds(
      'maxTokenAgeSeconds',
      options.maxTokenAgeSeconds,
      DEFAULT_JWT_TTL_SECONDS,
    );
    this.clockToleranceSeconds = checkTolerance(options.clockToleranceSeconds);
    this.clock = options.clock ?? systemClock;
    const cacheSize = options.cacheSize ?? DEFAULT_JWT_CACHE_SIZE;
    if (!Number.isInteger(cacheSize) || cacheSize < 0) {
      throw new SessionError('CONFIG_INVALID', 'cacheSize must be a non-negative integer');
    }
    this.#cache = new VerifiedTokenCache(cacheSize);
    issuedTokenCaches.set(this, this.#cache);
    this.isSessionLive = options.isSessionLive;
    const liveTimeout = options.isSessionLiveTimeoutMs === undefined ? 2000 : options.isSessionLiveTimeoutMs;
    if (
      liveTimeout !== null &&
      (typeof liveTimeout !== 'number' || !Number.isFinite(liveTimeout) || liveTimeout <= 0)
    ) {
      throw new SessionError('CONFIG_INVALID', 'isSessionLiveTimeoutMs must be a positive number or null');
    }
    this.liveCheckDeadlines = liveTimeout === null ? null : new Deadlines(liveTimeout, liveCheckTimedOut);
    this.strictByDefault = options.strict === true;
    this.onEvent = options.onEvent === undefined ? undefined : createEmitter(options.onEvent);
    this.peekKey = (kid) => this.keys.peek(kid);
    if (options.revocations !== undefined && typeof options.revocations?.isRevoked !== 'function') {
      throw new SessionError('CONFIG_INVALID', 'revocations must be a RevocationList');
    }
    this.revocations = options.revocations;
  }

  /** Number of tokens in the verified-token cache. */
  get cacheEntries(): number {
    return this.#cache.size;
  }

  /**
   * Verifies `token` and returns its claims, or throws a coded {@link SessionError}.
   * In strict mode also throws `JWT_REVOKED` when the session has ended, and `STORE_UNAVAILABLE`
   * when that cannot be known (fail closed).
   */
  async verify(token: string | null | undefined, options: VerifyOptions = {}): Promise<VerifiedSessionJwt<C>> {
    const strict = options.strict ?? this.strictByDefault;
    let claims = typeof token === 'string' ? this.#cache.get(token, this.clock.now(), this.peekKey) : undefined;
    if (claims === undefined) {
      try {
        claims = await this.verifyUncached(token);
      } catch (error) {
        this.report(error);
        throw error;
      }
    }
    if (this.revocations?.isRevoked(claims)) {
      const error = fail('JWT_REVOKED', 'revocation_notice');
      this.report(error);
      throw error;
    }
    if (strict) await this.assertLive(claims);
    return claims;
  }

  /**
   * The claims of `token` if the cache holds it (verified, before `exp`, key still present), with
   * no cryptography and no I/O; otherwise undefined. Does not consult `isSessionLive`.
   */
  peek(token: string): VerifiedSessionJwt<C> | undefined {
    const claims = this.#cache.get(token, this.clock.now(), this.peekKey);
    // A revoked session's token is no cache hit: the caller's full path refuses it.
    return claims && this.revocations?.isRevoked(claims) ? undefined : claims;
  }

  /** Empties the verified-token cache. */
  clearCache(): void {
    this.#cache.clear();
  }

  /** The options this verifier passes to `jose.jwtVerify` (exposed for tests and audits). */
  joseOptions(key: JwtKey): JWTVerifyOptions {
    return {
      algorithms: [key.alg],
      issuer: this.issuers,
      audience: this.audiences,
      typ: this.typ,
      requiredClaims: REQUIRED_CLAIMS,
      maxTokenAge: this.maxTokenAgeSeconds,
      clockTolerance: this.clockToleranceSeconds,
      currentDate: new Date(this.clock.now()),
    };
  }

  private async verifyUncached(token: unknown): Promise<VerifiedSessionJwt<C>> {
    const header = inspectCompactJws(token, { algorithms: this.keys.algorithms, typ: this.typ, requireKid: true });
    const key = await this.keys.resolve(header.kid as string);
    if (key.alg !== header.alg) throw fail('JWT_ALG_REJECTED', 'alg_not_bound_to_key');
    let payload: Record<string, unknown>;
    try {
      payload = (await jwtVerify(token as string, key.verificationKey, this.joseOptions(key))).payload;
    } catch (error) {
      throw fromJoseError(error);
    }
    const claims = this.checkClaims(payload);
    this.#cache.set(token as string, claims, claims.exp * 1000, key);
    return claims;
  }

  /** What `jose` leaves open: integer times, string ids, a lifetime within the max age. */
  private checkClaims(payload: Record<string, unknown>): VerifiedSessionJwt<C> {
    for (const claim of ['exp', 'nbf', 'iat'] as const) {
      if (!Number.isSafeInteger(payload[claim])) throw fail('JWT_CLAIM_INVALID', `${claim}_not_integer`);
    }
    for (const claim of ['sub', 'sid', 'jti'] as const) {
      const value = payload[claim];
      if (typeof value !== 'string' || value.length === 0 || value.length > MAX_CLAIM_STRING) {
        throw fail('JWT_CLAIM_INVALID', `${claim}_invalid`);
      }
    }
    const exp = payload.exp as number;
    const iat = payload.iat as number;
    if (exp - iat > this.maxTokenAgeSeconds) throw fail('JWT_CLAIM_INVALID', 'lifetime_too_long');
    if (payload.auth_time !== undefined) {
      const authTime = payload.auth_time;
      if (!Number.isSafeInteger(authTime) || (authTime as number) > iat + this.clockToleranceSeconds) {
        throw fail('JWT_CLAIM_INVALID', 'auth_time_invalid');
      }
    }
    return Object.freeze(payload) as unknown as VerifiedSessionJwt<C>;
  }

  private async assertLive(claims: VerifiedSessionJwt<C>): Promise<void> {
    if (!this.isSessionLive) {
      throw new SessionError('CONFIG_INVALID', 'Strict verification needs isSessionLive (or a SessionJwt)');
    }
    let live: boolean;
    try {
      const answer = this.isSessionLive(claims as VerifiedSessionJwt<Record<string, unknown>>);
      const deadlines = this.liveCheckDeadlines;
      live = await (deadlines === null ? answer : deadlines.settle(Promise.resolve(answer)));
    } catch (error) {
      if (isSessionError(error)) throw error;
      throw new SessionError('STORE_UNAVAILABLE', undefined, { cause: error });
    }
    if (!live) {
      const error = fail('JWT_REVOKED', 'session_ended');
      this.report(error);
      throw error;
    }
  }

  private report(error: unknown): void {
    if (!this.onEvent || !isSessionError(error)) return;
    // The emitter ignores listeners that throw or reject: audit hooks never decide authentication.
    this.onEvent({ type: 'jwt.rejected', at: this.clock.now(), reason: error.reason ?? error.code });
  }
}

/**
 * The verified-token caches by verifier, so that {@link rememberIssued} can write to them and
 * nothing outside this package can.
 */
// biome-ignore lint/suspicious/noExplicitAny: one registry for verifiers of every claims type.
const issuedTokenCaches = new WeakMap<JwtVerifier<any>, VerifiedTokenCache<any>>();

/**
 * Adds a token this process has just signed with `key` to `verifier`'s cache, so that its first
 * verification is a cache hit. Package-private: session JWTs call it after signing; no entry point
 * exports it, so no caller can plant claims in the cache.
 */
export function rememberIssued<C extends object>(
  verifier: JwtVerifier<C>,
  token: string,
  claims: VerifiedSessionJwt<C>,
  key: JwtKey,
): void {
  issuedTokenCaches.get(verifier)?.set(token, claims, claims.exp * 1000, key);
}

/**
 * Creates a {@link JwtVerifier}; see its documentation.
 *
 * @example
 * ```ts
 * const verifier = createJwtVerifier({ keys, issuer: 'https://auth.example.com', audience: 'web' })
 * ```
 */
export function createJwtVerifier<C extends object = Record<string, never>>(
  options: JwtVerifierOptions,
): JwtVerifier<C> {
  return new JwtVerifier<C>(options);
}

export interface VerifiedJws {
  header: CheckedJwsHeader;
  payload: Uint8Array;
}

/**
 * Low-level: verifies the signature of any compact JWS with one key the caller chose, after the
 * same pre-checks as session JWTs (the key's algorithm only; `kid` optional; no `typ` rule).
 * Checks no claims. Used for published test vectors and other JWS, not for sessions.
 *
 * @example
 * ```ts
 * const { payload } = await verifyCompactJws(jws, await importJwtKey({ alg: 'EdDSA', key: publicJwk }))
 * ```
 */
export async function verifyCompactJws(
  token: string,
  key: JwtKey,
  options: { maxLength?: number } = {},
): Promise<VerifiedJws> {
  const header = inspectCompactJws(token, {
    algorithms: new Set([key.alg]),
    requireKid: false,
    maxLength: options.maxLength ?? MAX_JWT_LENGTH,
  });
  try {
    const result = await compactVerify(token, key.verificationKey, { algorithms: [key.alg] });
    return { header, payload: result.payload };
  } catch (error) {
    throw fromJoseError(error);
  }
}

function nonEmptyList(name: string, value: string | readonly string[] | undefined): string[] {
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? [...value] : [];
  if (list.length === 0 || list.some((item) => typeof item !== 'string' || item.length === 0)) {
    throw new SessionError('CONFIG_INVALID', `${name} is required: a non-empty string or list of strings`);
  }
  return list;
}

/** Checks a positive whole number of seconds, falling back to a default. */
export function positiveSeconds(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isSafeInteger(resolved) || resolved <= 0) {
    throw new SessionError('CONFIG_INVALID', `${name} must be a positive whole number of seconds`);
  }
  return resolved;
}

/** Clock tolerance in seconds: default 30, capped at 300 (F5, CL-02). */
export function checkTolerance(value: number | undefined): number {
  const resolved = value ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
  if (!Number.isSafeInteger(resolved) || resolved < 0 || resolved > MAX_CLOCK_TOLERANCE_SECONDS) {
    throw new SessionError('CONFIG_INVALID', 'clockToleranceSeconds must be a whole number from 0 to 300');
  }
  return resolved;
}

function liveCheckTimedOut(): SessionError {
  return new SessionError('STORE_UNAVAILABLE', 'isSessionLive did not answer in time', { reason: 'timeout' });
}

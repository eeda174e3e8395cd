/**
 * Every error this library throws is a {@link SessionError} with a stable `code` from this closed
 * union. Codes never change meaning between versions; messages may. No message ever contains a
 * token, secret, cookie value or JWT.
 */
export type SessionErrorCode =
  // Credentials presented by a client
  | 'UNAUTHENTICATED'
  | 'TOKEN_MALFORMED'
  | 'SESSION_EXPIRED'
  | 'SESSION_REVOKED'
  | 'SESSION_NOT_FOUND'
  | 'SESSION_REJECTED'
  | 'REAUTH_REQUIRED'
  | 'SESSION_LIMIT_REACHED'
  | 'CSRF_REJECTED'
  | 'CONTENT_TYPE_REJECTED'
  // Values an app passes in (user ids, session data, metadata)
  | 'INPUT_INVALID'
  // Session JWTs
  | 'JWT_INVALID'
  | 'JWT_MALFORMED'
  | 'JWT_ALG_REJECTED'
  | 'JWT_HEADER_REJECTED'
  | 'JWT_KID_UNKNOWN'
  | 'JWT_SIGNATURE_INVALID'
  | 'JWT_EXPIRED'
  | 'JWT_NOT_YET_VALID'
  | 'JWT_CLAIM_INVALID'
  | 'JWT_TYP_INVALID'
  | 'JWT_CRIT_UNSUPPORTED'
  | 'JWT_REVOKED'
  | 'JWKS_UNAVAILABLE'
  // Refresh tokens
  | 'REFRESH_INVALID'
  | 'REFRESH_REUSED'
  // DPoP proofs (RFC 9449)
  | 'DPOP_PROOF_INVALID'
  | 'DPOP_PROOF_REPLAYED'
  | 'DPOP_NONCE_REQUIRED'
  | 'DPOP_KEY_MISMATCH'
  // Device Bound Session Credentials (DBSC)
  | 'DBSC_PROOF_INVALID'
  | 'DBSC_CHALLENGE_INVALID'
  | 'DBSC_BINDING_REQUIRED'
  // Server-side configuration and environment
  | 'CONFIG_INVALID'
  | 'KEY_WEAK'
  | 'COOKIE_INVALID'
  | 'COOKIE_TOO_LARGE'
  | 'INSECURE_TRANSPORT'
  | 'CRYPTO_UNAVAILABLE'
  // Storage
  | 'STORE_UNAVAILABLE'
  | 'STORE_CONFLICT'
  // Services calling the session API
  | 'CALLER_UNAUTHENTICATED'
  | 'RATE_LIMITED'
  // Anything unexpected: reported without detail
  | 'INTERNAL_ERROR';

/**
 * The one table that maps codes to HTTP statuses. Adapters never choose a status themselves.
 * Server-side misconfiguration maps to 500: the client cannot fix it.
 */
export const errorStatus: Readonly<Record<SessionErrorCode, number>> = Object.freeze({
  UNAUTHENTICATED: 401,
  TOKEN_MALFORMED: 401,
  SESSION_EXPIRED: 401,
  SESSION_REVOKED: 401,
  SESSION_NOT_FOUND: 404,
  SESSION_REJECTED: 401,
  REAUTH_REQUIRED: 401,
  SESSION_LIMIT_REACHED: 409,
  CSRF_REJECTED: 403,
  CONTENT_TYPE_REJECTED: 415,
  INPUT_INVALID: 400,
  JWT_INVALID: 401,
  JWT_MALFORMED: 401,
  JWT_ALG_REJECTED: 401,
  JWT_HEADER_REJECTED: 401,
  JWT_KID_UNKNOWN: 401,
  JWT_SIGNATURE_INVALID: 401,
  JWT_EXPIRED: 401,
  JWT_NOT_YET_VALID: 401,
  JWT_CLAIM_INVALID: 401,
  JWT_TYP_INVALID: 401,
  JWT_CRIT_UNSUPPORTED: 401,
  JWT_REVOKED: 401,
  JWKS_UNAVAILABLE: 503,
  REFRESH_INVALID: 401,
  REFRESH_REUSED: 401,
  DPOP_PROOF_INVALID: 401,
  DPOP_PROOF_REPLAYED: 401,
  DPOP_NONCE_REQUIRED: 401,
  DPOP_KEY_MISMATCH: 401,
  DBSC_PROOF_INVALID: 401,
  DBSC_CHALLENGE_INVALID: 401,
  DBSC_BINDING_REQUIRED: 401,
  CONFIG_INVALID: 500,
  KEY_WEAK: 500,
  COOKIE_INVALID: 500,
  COOKIE_TOO_LARGE: 500,
  INSECURE_TRANSPORT: 500,
  CRYPTO_UNAVAILABLE: 500,
  STORE_UNAVAILABLE: 503,
  STORE_CONFLICT: 409,
  CALLER_UNAUTHENTICATED: 401,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
});

export const errorCodes = Object.freeze(Object.keys(errorStatus) as SessionErrorCode[]);

/**
 * One generic, credential-free message per code. Error responses always use these (see
 * `errorResponse`), so a detailed message passed to the constructor only ever reaches logs.
 */
const defaultMessages: Readonly<Record<SessionErrorCode, string>> = Object.freeze({
  UNAUTHENTICATED: 'No valid session',
  TOKEN_MALFORMED: 'The token is not in the expected format',
  SESSION_EXPIRED: 'The session has expired',
  SESSION_REVOKED: 'The session has been revoked',
  SESSION_NOT_FOUND: 'No such session',
  SESSION_REJECTED: 'The session was rejected by the binding policy',
  REAUTH_REQUIRED: 'This action requires recent authentication',
  SESSION_LIMIT_REACHED: 'Too many active sessions for this user',
  CSRF_REJECTED: 'Cross-site request rejected',
  CONTENT_TYPE_REJECTED: 'Unsupported content type',
  INPUT_INVALID: 'A value cannot be stored with the session',
  JWT_INVALID: 'The JWT is invalid',
  JWT_MALFORMED: 'The JWT is not in the expected format',
  JWT_ALG_REJECTED: 'The JWT algorithm is not allowed',
  JWT_HEADER_REJECTED: 'The JWT header is not allowed',
  JWT_KID_UNKNOWN: 'The JWT key id is unknown',
  JWT_SIGNATURE_INVALID: 'The JWT signature is invalid',
  JWT_EXPIRED: 'The JWT has expired',
  JWT_NOT_YET_VALID: 'The JWT is not yet valid',
  JWT_CLAIM_INVALID: 'A JWT claim is invalid',
  JWT_TYP_INVALID: 'The JWT type is not accepted',
  JWT_CRIT_UNSUPPORTED: 'The JWT uses an unsupported critical header',
  JWT_REVOKED: 'The JWT has been revoked',
  JWKS_UNAVAILABLE: 'The key set could not be fetched',
  REFRESH_INVALID: 'The refresh token is invalid',
  REFRESH_REUSED: 'The refresh token was already used',
  DPOP_PROOF_INVALID: 'The DPoP proof is invalid',
  DPOP_PROOF_REPLAYED: 'The DPoP proof was already used',
  DPOP_NONCE_REQUIRED: 'The DPoP proof must carry the server nonce',
  DPOP_KEY_MISMATCH: 'The token is bound to another key',
  DBSC_PROOF_INVALID: 'The device-bound session proof is invalid',
  DBSC_CHALLENGE_INVALID: 'The device-bound session challenge is unknown, expired or used',
  DBSC_BINDING_REQUIRED: 'This route requires a fresh device-bound session',
  CONFIG_INVALID: 'The session configuration is invalid',
  KEY_WEAK: 'The key is too weak',
  COOKIE_INVALID: 'The cookie is invalid',
  COOKIE_TOO_LARGE: 'The cookie is too large',
  INSECURE_TRANSPORT: 'Sessions require a secure transport',
  CRYPTO_UNAVAILABLE: 'Web Crypto is not available in this runtime',
  STORE_UNAVAILABLE: 'The session store is unavailable',
  STORE_CONFLICT: 'The session was changed concurrently',
  CALLER_UNAUTHENTICATED: 'The calling service is not authenticated',
  RATE_LIMITED: 'Too many requests',
  INTERNAL_ERROR: 'Internal error',
});

/**
 * The generic message for `code`: what clients see, whatever detail the thrower recorded.
 *
 * @example
 * ```ts
 * defaultErrorMessage('SESSION_EXPIRED') // 'The session has expired'
 * ```
 */
export function defaultErrorMessage(code: SessionErrorCode): string {
  return defaultMessages[code];
}

export interface SessionErrorOptions {
  /** The underlying error, kept as the standard `Error.cause`. Default: none. */
  cause?: unknown;
  /** Machine-readable detail (never a credential), for logs and tests. */
  reason?: string;
  /** When the client may try again (429, 503): sent as `Retry-After` by `errorResponse`. */
  retryAfterSeconds?: number;
}

/**
 * The base class of every error thrown by the library.
 *
 * @example
 * ```ts
 * try { await manager.requireFresh(session, 10 * 60_000) }
 * catch (err) { if (isSessionError(err, 'REAUTH_REQUIRED')) redirect('/login') }
 * ```
 */
export class SessionError extends Error {
  override readonly name = 'SessionError';
  readonly code: SessionErrorCode;
  readonly status: number;
  readonly reason: string | undefined;
  /** Whole seconds until the client may try again, when known. */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: SessionErrorCode, message?: string, options: SessionErrorOptions = {}) {
    super(message ?? defaultMessages[code], { cause: options.cause });
    this.code = code;
    this.status = errorStatus[code];
    this.reason = options.reason;
    const retry = options.retryAfterSeconds;
    this.retryAfterSeconds =
      typeof retry === 'number' && Number.isFinite(retry) ? Math.max(0, Math.ceil(retry)) : undefined;
  }
}

/**
 * True when `value` is a {@link SessionError} (optionally with one of the given codes). Checks the
 * `code` rather than `instanceof`, so two copies of this package in one app still recognise each
 * other's errors.
 *
 * @example
 * ```ts
 * if (isSessionError(error, 'SESSION_EXPIRED', 'SESSION_REVOKED')) return redirect('/login')
 * ```
 */
export function isSessionError(value: unknown, ...codes: SessionErrorCode[]): value is SessionError {
  if (typeof value !== 'object' || value === null) return false;
  const code = (value as { code?: unknown }).code;
  if (typeof code !== 'string' || !Object.hasOwn(errorStatus, code)) return false;
  if ((value as { name?: unknown }).name !== 'SessionError') return false;
  return codes.length === 0 || codes.includes(code as SessionErrorCode);
}

/**
 * Normalises anything thrown into a SessionError without leaking its message to clients.
 *
 * @example
 * ```ts
 * throw toSessionError(error, 'STORE_UNAVAILABLE') // keeps coded errors, wraps the rest
 * ```
 */
export function toSessionError(value: unknown, fallback: SessionErrorCode): SessionError {
  if (isSessionError(value)) return value;
  return new SessionError(fallback, undefined, { cause: value });
}

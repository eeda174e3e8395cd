import type { SessionError } from './errors.js';
import type { Session, SessionData, SessionMetadata } from './types.js';

/** How a validation ended: `valid`, or why there is no session. */
export type ValidationStatus =
  | 'valid'
  | 'absent'
  | 'malformed'
  | 'invalid'
  | 'expired'
  | 'ambiguous'
  | 'rejected'
  | 'unavailable';

/**
 * A session built from a verified session JWT (hybrid mode), not read from the store: `id` is the
 * `sid` claim, `userId` the `sub`, `authenticatedAt` the `auth_time`; it has no idle deadline, no
 * metadata and version 0, so a write (`update`, `rotate`, `extend`) needs a strict validation
 * first. `source: 'jwt'` tells it apart from a store-backed {@link Session} at run time too.
 */
export interface JwtSession<D extends SessionData = SessionData> extends Session<D> {
  readonly source: 'jwt';
  idleExpiresAt: null;
  metadata: SessionMetadata;
  version: 0;
}

/** What every validation result carries, valid or not. */
interface ResultBase {
  /**
   * Set-Cookie values the response must carry (renewal, a new session JWT, or the deletion of a
   * dead cookie). Never optional: apply it to every response, with or without a session.
   */
  cookies: string[];
}

/** A session read from the store (the session token decided). */
export interface StoreValidation<D extends SessionData = SessionData> extends ResultBase {
  status: 'valid';
  /** The session token was checked against the store. */
  source: 'store';
  session: Session<D>;
  error: null;
  /** The validated session token; needed to re-issue the cookie after changes. Never log it. */
  token: string;
}

/** A session that rests on a verified session-JWT cookie alone (hybrid mode, no store call). */
export interface JwtValidation<D extends SessionData = SessionData> extends ResultBase {
  status: 'valid';
  /** The session JWT cookie decided; the store was not asked. */
  source: 'jwt';
  session: JwtSession<D>;
  error: null;
  /** The session token the JWT is bound to. Never log it. */
  token: string;
}

/** A request with a session. */
export type ValidSession<D extends SessionData = SessionData> = StoreValidation<D> | JwtValidation<D>;

/** A request without a session, and the reason. */
export interface NoSession extends ResultBase {
  status: Exclude<ValidationStatus, 'valid'>;
  /** The session-token path answered (with or without a store call). */
  source: 'store';
  session: null;
  /** What a guard throws when a session is required: 401 `UNAUTHENTICATED`, `SESSION_EXPIRED`, 503 ... */
  error: SessionError;
  token: null;
}

/**
 * The outcome of validating a request's credentials, discriminated on `status`: after
 * `if (result.status === 'valid')` the session is there, typed; `source` then says whether it came
 * from the store or from a session JWT.
 *
 * @example
 * ```ts
 * const result = await sessions.validateCookie(request.headers.get('cookie'))
 * for (const c of result.cookies) response.headers.append('set-cookie', c)
 * if (result.status !== 'valid') throw result.error
 * result.session.userId // string, no cast
 * ```
 */
export type ValidationResult<D extends SessionData = SessionData> = ValidSession<D> | NoSession;

/** Options of {@link SessionStrategy.validate}. */
export interface ValidateOptions {
  /**
   * Ask the store even when a session JWT cookie would do (hybrid mode; sensitive actions). The
   * cookie strategy always asks the store.
   */
  strict?: boolean;
}

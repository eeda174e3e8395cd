import {
  type CookieHeaderInput,
  type CookiePolicy,
  getCookieValues,
  isCookieHeaderCut,
  serializeDeletionCookie,
  serializeSessionCookie,
} from './cookie.js';
import { SessionError } from './errors.js';
import { constantTimeEqualString, secretMatchesBinding } from './hash.js';
import type { SessionJwt } from './jwt/session-jwt.js';
import { noJwtNearDeadline, PROTOTYPE_CLAIM_NAMES } from './jwt/session-jwt.js';
import type { VerifiedSessionJwt } from './jwt/verify.js';
import {
  type CreateSessionInput,
  type IssuedSession,
  type RotateOptions,
  runtimeOf,
  type SessionManager,
} from './manager.js';
import type { SessionRuntime } from './runtime.js';
import { answerNow, cookieStrategy, type SessionStrategy, validateNow } from './strategy.js';
import { parseSessionToken } from './token.js';
import type { RequestSignals, Session, SessionData } from './types.js';
import type { JwtSession, ValidateOptions, ValidationResult } from './validation.js';

export interface HybridSessionsOptions<D extends SessionData, C extends object> {
  /** Issues and verifies the JWT cookie; its manager owns the session-token cookie. */
  jwt: SessionJwt<D, C>;
  /**
   * Name of the JWT cookie. Defaults to `__Host-sjwt` when the session cookie is a `__Host-`
   * cookie, `__Secure-sjwt` for other secure cookies, `sjwt` in development mode.
   */
  cookieName?: string;
  /**
   * Builds `session.data` on the JWT path from the verified claims. Default: the custom claims
   * (everything but the registered ones). Session data never goes into the JWT by itself: put
   * what requests need into `SessionJwt`'s `claims` option.
   */
  dataFromClaims?: (claims: VerifiedSessionJwt<C>) => D;
}

/**
 * A {@link ValidationResult} plus the claims of the session JWT the answer rests on (verified, or
 * issued with this response), or null.
 */
export type HybridValidationResult<D extends SessionData, C extends object> = ValidationResult<D> & {
  claims: VerifiedSessionJwt<C> | null;
};

const REGISTERED = new Set(['iss', 'sub', 'aud', 'sid', 'jti', 'iat', 'nbf', 'exp', 'auth_time', 'sth', 'csrf_id']);

/**
 * Hybrid browser sessions: next to the session-token cookie, a short-lived session-JWT cookie
 * (same attributes, Max-Age = the JWT's remaining life) lets most requests validate without a
 * store round trip. When it is missing, expired or invalid, the session token is checked against
 * the store and a new JWT cookie is issued in `cookies`. `{ strict: true }` forces the store
 * check. A revoked session therefore stays usable on the JWT path for at most the JWT TTL
 * (default 5 minutes): the bound is explicit, documented in docs/jwt.md and tested.
 *
 * On the JWT path the session view is built from the claims: `id` = `sid`, `userId` = `sub`,
 * `authenticatedAt` = `auth_time`, `data` from {@link HybridSessionsOptions.dataFromClaims},
 * `metadata` only the CSRF id (the `csrf_id` claim) and `version` 0 (a write needs a strict
 * validation first). The binding policy (user agent, IP) runs on the store path only.
 *
 * @example
 * ```ts
 * const hybrid = createHybridSessions({ jwt: jwts })
 * const result = await hybrid.validate(req.headers.cookie)
 * for (const c of result.cookies) res.append('set-cookie', c)
 * const sure = await hybrid.validate(req.headers.cookie, {}, { strict: true }) // before a payment
 * ```
 */
export class HybridSessions<D extends SessionData = SessionData, C extends object = Record<string, never>>
  implements SessionStrategy<D>
{
  readonly jwt: SessionJwt<D, C>;
  readonly manager: SessionManager<D>;
  /** The JWT cookie's name. */
  readonly cookieName: string;
  /** The session cookie's name, then the JWT cookie's. */
  readonly cookieNames: readonly string[];
  private readonly dataFromClaims: (claims: VerifiedSessionJwt<C>) => D;
  readonly #rt: SessionRuntime<D>;
  /** The session-token cookie on its own: the store path, logins, rotations and logouts. */
  readonly #cookies: SessionStrategy<D>;
  /** The session cookie's policy under the JWT cookie's name: both cookies share every attribute. */
  readonly #jwtPolicy: CookiePolicy;
  /**
   * For each verified (cached) JWT, the session token it was found bound to (sid and `sth`). Only
   * that token can ever match, so a request carrying it again is compared in constant time
   * instead of hashed. It holds no more than the process already can: its signing key.
   */
  readonly #boundTokens = new WeakMap<VerifiedSessionJwt<C>, string>();

  /** @internal Use {@link createHybridSessions}. */
  constructor(options: HybridSessionsOptions<D, C>) {
    if (!options?.jwt) throw new SessionError('CONFIG_INVALID', 'A SessionJwt is required');
    this.jwt = options.jwt;
    this.manager = options.jwt.manager;
    this.#rt = runtimeOf(this.manager);
    this.#cookies = cookieStrategy(this.manager);
    const policy = this.#rt.cookie;
    this.cookieName =
      options.cookieName ??
      (policy.name.startsWith('__Host-') ? '__Host-sjwt' : policy.secure ? '__Secure-sjwt' : 'sjwt');
    if (this.cookieName === policy.name) {
      throw new SessionError('CONFIG_INVALID', 'The JWT cookie needs its own name');
    }
    this.cookieNames = Object.freeze([policy.name, this.cookieName]);
    this.#jwtPolicy = Object.freeze({ ...policy, name: this.cookieName });
    try {
      this.deletionCookie();
    } catch (error) {
      throw new SessionError('CONFIG_INVALID', (error as Error).message);
    }
    this.dataFromClaims = options.dataFromClaims ?? customClaimsAsData;
    answerNow(this, (cookieHeader, signals) => this.#validateNow(cookieHeader, signals, false));
  }

  /**
   * Validates a request from its raw `Cookie` header(s): from the JWT cookie alone when it is
   * valid and `strict` is not set (`source: 'jwt'`), else from the session cookie and the store
   * (`source: 'store'`, with a new JWT cookie in `cookies` when the session lives). Never rejects
   * for client input.
   */
  validate(
    cookieHeader: CookieHeaderInput,
    signals: RequestSignals = {},
    options: ValidateOptions = {},
  ): Promise<HybridValidationResult<D, C>> {
    try {
      const result = this.#validateNow(cookieHeader, signals, Boolean(options.strict));
      return result instanceof Promise ? result : Promise.resolve(result);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** {@link validate} without a promise when nothing has to wait (a verified-token cache hit). */
  #validateNow(
    cookieHeader: CookieHeaderInput,
    signals: RequestSignals,
    strict: boolean,
  ): HybridValidationResult<D, C> | Promise<HybridValidationResult<D, C>> {
    // Two distinct values are enough to know the JWT cookie is not unique (see verifiedClaims).
    const jwtValues = getCookieValues(cookieHeader, this.cookieName, 2);
    const found = jwtValues.length === 1 ? this.verifiedClaims(jwtValues[0] as string, cookieHeader) : null;
    if (found instanceof Promise) {
      return found.then((claims) => this.#answer(claims, jwtValues.length, cookieHeader, signals, strict));
    }
    return this.#answer(found, jwtValues.length, cookieHeader, signals, strict);
  }

  #answer(
    claims: VerifiedClaims<C> | null,
    jwtCookies: number,
    cookieHeader: CookieHeaderInput,
    signals: RequestSignals,
    strict: boolean,
  ): HybridValidationResult<D, C> | Promise<HybridValidationResult<D, C>> {
    if (claims && !strict) {
      return {
        session: this.sessionFromClaims(claims),
        status: 'valid',
        source: 'jwt',
        cookies: [],
        error: null,
        token: claims.token,
        claims: claims.claims,
      };
    }
    const result = validateNow(this.#cookies, cookieHeader, signals);
    if (result instanceof Promise) {
      return result.then((stored) => this.#fromStore(stored, claims, jwtCookies, cookieHeader));
    }
    return this.#fromStore(result, claims, jwtCookies, cookieHeader);
  }

  /** The store's answer, with the JWT cookie deleted, kept or renewed to match. */
  #fromStore(
    result: ValidationResult<D>,
    claims: VerifiedClaims<C> | null,
    jwtCookies: number,
    cookieHeader: CookieHeaderInput,
  ): HybridValidationResult<D, C> | Promise<HybridValidationResult<D, C>> {
    if (result.status !== 'valid') {
      // A dead session takes its JWT cookie with it. Whenever the manager keeps the session cookie
      // (an outage, several same-name cookies that may have been planted, a header cut at 64 KiB),
      // the JWT cookie stays too; and a cut header may hide the session cookie itself.
      const sessionCookieKept = result.status !== 'absent' && result.cookies.length === 0;
      const keep = jwtCookies === 0 || sessionCookieKept || isCookieHeaderCut(cookieHeader);
      const cookies = keep ? result.cookies : [...result.cookies, this.deletionCookie()];
      return { ...result, cookies, claims: null };
    }
    if (claims && claims.claims.sid === result.session.id) return { ...result, claims: claims.claims };
    return this.jwt
      .issue(result.session, { bindToSecret: secretOf(result.token) })
      .catch(noJwtNearDeadline)
      .then((issued) => {
        // In the session's last seconds (within the clock tolerance) no JWT is issued: the store answers.
        if (!issued) return { ...result, claims: null };
        return {
          ...result,
          cookies: [...result.cookies, this.jwtCookie(issued.token, issued.expiresIn)],
          claims: issued.claims,
        };
      });
  }

  /** Creates a session (login) and returns both cookies. */
  async create(input: CreateSessionInput<D>): Promise<IssuedSession<D>> {
    return this.withJwtCookie(await this.#cookies.create(input));
  }

  /** Rotates a session (privilege change, re-authentication) and re-issues both cookies. */
  async rotate(session: Pick<Session<D>, 'id'>, options?: RotateOptions<D>): Promise<IssuedSession<D>> {
    return this.withJwtCookie(await this.#cookies.rotate(session, options));
  }

  /** Revokes a session (logout) and returns the cookies that delete both. */
  async logout(sessionId: string | null | undefined): Promise<string[]> {
    return [...(await this.#cookies.logout(sessionId)), this.deletionCookie()];
  }

  /** Set-Cookie values deleting the session cookie and the JWT cookie. */
  deletionCookies(): string[] {
    return [...this.#cookies.deletionCookies(), this.deletionCookie()];
  }

  /**
   * The Set-Cookie value carrying a session JWT, alive for `maxAgeSeconds`: the session cookie's
   * policy (path, domain, Secure, HttpOnly, SameSite, Partitioned) under the JWT cookie's name.
   */
  jwtCookie(token: string, maxAgeSeconds: number): string {
    return serializeSessionCookie(this.#jwtPolicy, token, Math.max(0, Math.floor(maxAgeSeconds)));
  }

  /** Adds the JWT cookie to a login or rotation, unless the session ends within the clock tolerance. */
  private async withJwtCookie(issued: IssuedSession<D>): Promise<IssuedSession<D>> {
    const jwt = await this.jwt.issue(issued.session, { bindToSecret: secretOf(issued.token) }).catch(noJwtNearDeadline);
    return jwt ? { ...issued, cookies: [...issued.cookies, this.jwtCookie(jwt.token, jwt.expiresIn)] } : issued;
  }

  private deletionCookie(): string {
    return serializeDeletionCookie(this.#jwtPolicy);
  }

  /**
   * The JWT cookie's claims when it verifies, has not reached `exp` (no tolerance: this server
   * issued it, so the staleness bound is exactly the TTL), and belongs to the one session cookie
   * sent along. A JWT without its session cookie (closed browser, logout elsewhere) never counts.
   */
  private verifiedClaims(
    jwt: string,
    cookieHeader: CookieHeaderInput,
  ): VerifiedClaims<C> | null | Promise<VerifiedClaims<C> | null> {
    const sessionValues = getCookieValues(cookieHeader, this.#rt.cookie.name, 2);
    if (sessionValues.length !== 1) return null;
    const token = sessionValues[0] as string;
    let cached: VerifiedSessionJwt<C> | undefined;
    try {
      cached = this.jwt.verifier.peek(jwt);
    } catch {
      return null;
    }
    if (cached) {
      // The very session token this JWT was found bound to before: no parse and no hash again.
      const bound = this.#boundTokens.get(cached);
      if (bound !== undefined && constantTimeEqualString(token, bound)) return this.currentClaims(cached, token);
    }
    const parts = parseSessionToken(token);
    if (!parts) return null;
    if (cached) return this.boundClaims(cached, parts, token);
    return this.jwt.verify(jwt).then(
      (claims) => this.boundClaims(claims, parts, token),
      () => null,
    );
  }

  /** `claims` if they are current and bound to the session cookie `token` (its id and secret). */
  private boundClaims(
    claims: VerifiedSessionJwt<C>,
    parts: { id: string; secret: string },
    token: string,
  ): VerifiedClaims<C> | null {
    if (claims.sid !== parts.id) return null;
    // The JWT counts only with the very session cookie it was issued with (its secret, not just its
    // id): a leaked API JWT or a forged `<sid>.<anything>` cookie gets no session from this path.
    if (typeof claims.sth !== 'string' || !secretMatchesBinding(parts.secret, claims.sth)) {
      return null;
    }
    this.#boundTokens.set(claims, token);
    return this.currentClaims(claims, token);
  }

  /** `claims` until their `exp`. */
  private currentClaims(claims: VerifiedSessionJwt<C>, token: string): VerifiedClaims<C> | null {
    return claims.exp * 1000 <= this.#rt.clock.now() ? null : { claims, token };
  }

  private sessionFromClaims(found: { claims: VerifiedSessionJwt<C> }): JwtSession<D> {
    const claims = found.claims;
    const authenticatedAt = (claims.auth_time ?? claims.iat) * 1000;
    return {
      id: claims.sid,
      userId: claims.sub,
      createdAt: authenticatedAt,
      lastSeenAt: claims.iat * 1000,
      idleExpiresAt: null,
      absoluteExpiresAt: claims.exp * 1000,
      authenticatedAt,
      persistent: false,
      data: this.dataFromClaims(claims),
      // The CSRF id the cookie carries, so tokens bind to it as on the store path (kept across rotation).
      metadata: typeof claims.csrf_id === 'string' ? { csrfId: claims.csrf_id } : {},
      version: 0,
      source: 'jwt',
    };
  }
}

/**
 * Creates {@link HybridSessions}; see its documentation.
 *
 * @example
 * ```ts
 * const hybrid = createHybridSessions({ jwt: createSessionJwt({ manager, keys, issuer, audience: 'web' }) })
 * ```
 */
export function createHybridSessions<D extends SessionData = SessionData, C extends object = Record<string, never>>(
  options: HybridSessionsOptions<D, C>,
): HybridSessions<D, C> {
  return new HybridSessions<D, C>(options);
}

function secretOf(token: string): string | undefined {
  return parseSessionToken(token)?.secret;
}

/**
 * The custom claims as a plain object. Members are defined, never assigned, and prototype names
 * (refused at issue) are skipped: a `__proto__` claim can never become the data's prototype.
 */
/** Claims of a session-JWT cookie that passed every check, with the session token it is bound to. */
type VerifiedClaims<C extends object> = { claims: VerifiedSessionJwt<C>; token: string };

function customClaimsAsData<D extends SessionData, C extends object>(claims: VerifiedSessionJwt<C>): D {
  let template = dataTemplates.get(claims);
  if (template === undefined) {
    template = {};
    for (const [name, value] of Object.entries(claims)) {
      if (REGISTERED.has(name) || PROTOTYPE_CLAIM_NAMES.has(name)) continue;
      Object.defineProperty(template, name, { value, enumerable: true, writable: true, configurable: true });
    }
    dataTemplates.set(claims, template);
  }
  // A fresh copy per request (the app may change it); spreading defines members, never assigns them.
  return { ...template } as D;
}

/** The custom claims of each verified (frozen, cached) claims object, picked out once. */
const dataTemplates = new WeakMap<object, Record<string, unknown>>();

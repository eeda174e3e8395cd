import type {
  RegisteredData,
  RotateOptions,
  Session,
  SessionData,
  SessionManager,
  ValidationResult,
} from '@org/session-core';
import type { RequestLoginInput, RequireSessionOptions, SessionStrategy } from '@org/session-core/adapter';
import type { CsrfCheckOptions, CsrfSettings } from '@org/session-core/csrf';
import type { SessionJwtClaims } from '@org/session-core/jwt';
import type { NextRequest } from 'next/server.js';

// The adapter's public types, apart from its implementation so that dbsc.ts and dpop.ts can name
// them without importing index.ts (which imports them).
export interface NextSessionsOptions<D extends SessionData = SessionData> {
  /** CSRF protection (`key`, `allowedOrigins`, ...); the manager is filled in. Needed by `verifyCsrf()`, `csrfToken()` and `csrf` routes. */
  csrf?: CsrfSettings;
  /** Hybrid mode (`createHybridSessions` on the same manager): requests validate from a short-lived session-JWT cookie. */
  hybrid?: SessionStrategy<D>;
  /**
   * `next start` gives handlers no peer address, so production mode over plain http is refused
   * unless this is true and the `Host` is loopback. Never where the server is reachable from another machine.
   */
  trustLoopbackHost?: boolean;
  /**
   * Behind a TLS-terminating proxy you trust: read the scheme and client address from
   * `X-Forwarded-Proto` and `X-Forwarded-For` (which clients can forge without such a proxy). Default false.
   */
  trustProxy?: boolean;
}

/** Guards and checks of a route handler made with {@link NextSessions.route}. */
export interface RouteOptions {
  /** `true` or `{ strict }`: 401/503 without a session. */
  session?: boolean | RequireSessionOptions;
  /** 401 `REAUTH_REQUIRED` unless the user authenticated within this many ms (always strict). */
  freshWithinMs?: number;
  /** Core's CSRF check of unsafe requests (`true`, or its options such as `{ requireJson: true }`). */
  csrf?: boolean | CsrfCheckOptions;
}

/**
 * Who called a JSON API route (see {@link NextSessions.api}): a session from the cookie or a bearer
 * session token (checked with the store), or the verified claims of a bearer session JWT.
 */
export type ApiAuth<D extends SessionData> =
  | { via: 'cookie' | 'token'; session: Session<D>; claims: null }
  | { via: 'jwt'; session: null; claims: Readonly<SessionJwtClaims> };

export interface ApiOptions {
  /** Verifies `Authorization: Bearer <session JWT>`; without it a JWT is refused (401 `JWT_INVALID`). */
  jwt?: { verify(token: string): Promise<Readonly<SessionJwtClaims>> };
}

export interface ProxyOptions {
  /** Paths needing a session: prefixes (`/account` covers `/account/...`) or a predicate. */
  protect: readonly string[] | ((pathname: string) => boolean);
  /** Where anonymous visitors of a protected page go, with `?next=<their path>`. Default `/login`. */
  loginPath?: string;
  /** Paths whose forms are shown before login: the proxy starts the CSRF pre-session there, since a page cannot set cookies. */
  preSessionPaths?: readonly string[];
}

/** A route handler as the app writes it. */
export type RouteHandler<C> = (request: NextRequest, context: C) => Response | Promise<Response>;
/** A route handler as Next calls it (`export const GET = ...`). */
export type WrappedRouteHandler<C> = (request: NextRequest, context: C) => Promise<Response>;

export interface NextSessions<D extends SessionData = RegisteredData> {
  readonly manager: SessionManager<D>;
  /** The request's session, or null: in server components, route handlers and server actions (validated once per request). */
  getSession(): Promise<Session<D> | null>;
  /** The full validation outcome (status, error) behind `getSession()`. */
  getSessionResult(): Promise<ValidationResult<D>>;
  /** The session, or throws the coded error (401 `UNAUTHENTICATED`, `SESSION_EXPIRED`, ..., 503). */
  requireSession(options?: RequireSessionOptions): Promise<Session<D>>;
  /** As `requireSession`, plus `REAUTH_REQUIRED` unless the user authenticated within `maxAgeMs`. */
  requireFresh(maxAgeMs: number): Promise<Session<D>>;
  /** A CSRF token for a form's `_csrf` field (session-bound; before login, bound to the proxy's pre-session). */
  csrfToken(): Promise<string>;
  /** Server actions: our CSRF check on top of Next's origin check (403 `CSRF_REJECTED`). Pass the action's FormData. */
  verifyCsrf(form?: FormData | Record<string, unknown> | null, options?: CsrfCheckOptions): Promise<void>;
  /** Server action or route handler: always a new session; revokes the request's one and ends the pre-session. */
  login(input: RequestLoginInput<D>): Promise<Session<D>>;
  /** Server action or route handler: revokes the session, then deletes the cookie. */
  logout(): Promise<void>;
  /** Server action or route handler: new token for the same session (privilege change). */
  rotate(options?: RotateOptions<D>): Promise<Session<D>>;
  /** Server action or route handler: pushes the idle deadline out, and re-sends the cookie. */
  extend(options?: { byMs?: number }): Promise<Session<D>>;
  /** A route handler with guards and CSRF, whose response carries core's cookies exactly; errors become core's JSON answers. */
  route<C = unknown>(handler: RouteHandler<C>, options?: RouteOptions): WrappedRouteHandler<C>;
  /** A JSON API route taking `Authorization: Bearer` (session token or session JWT) or the cookie. */
  api<C = unknown>(
    handler: (request: NextRequest, auth: ApiAuth<D>, context: C) => Response | Promise<Response>,
    options?: ApiOptions,
  ): WrappedRouteHandler<C>;
  /** The `proxy.ts` function: renews cookies on every matched request and sends anonymous visitors of protected paths to login. */
  proxy(options: ProxyOptions): (request: NextRequest) => Promise<Response>;
}

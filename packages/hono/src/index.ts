import {
  errorResponse,
  isSessionError,
  type RegisteredData,
  type RotateOptions,
  type Session,
  type SessionData,
  SessionError,
  type SessionManager,
  type ValidationResult,
} from '@org/session-core';
import {
  createRequestContexts,
  type RequestContext,
  type RequestContextInput,
  type RequestLoginInput,
  type RequireSessionOptions,
  type SessionStrategy,
} from '@org/session-core/adapter';
import { type CsrfCheckOptions, type CsrfSettings, createCsrfProtection } from '@org/session-core/csrf';
import type { Dbsc, DbscAnswer, DbscState } from '@org/session-core/dbsc';
import {
  authenticateDpopRequest,
  type DpopAuthentication,
  type DpopVerifier,
  dpopErrorResponse,
} from '@org/session-core/dpop';
import type { Context, ErrorHandler, MiddlewareHandler } from 'hono';
import type { GetConnInfo } from 'hono/conninfo';
import { HTTPException } from 'hono/http-exception';

/**
 * Core's, re-exported. Declare your session data type once, for every adapter, and `c.var.session`
 * is typed everywhere: `declare module '@org/session-core' { interface Register { data: AppData } }`.
 */
export type { Register, RegisteredData } from '@org/session-core';

/** What the middleware sets on the context: `c.var.session` and `c.var.sessionResult`. */
export interface SessionVariables<D extends SessionData = RegisteredData> {
  /** The validated session, or null (absent, invalid, expired, logged out, or the store is down). */
  session: Session<D> | null;
  /** The full validation outcome (status, error) behind `c.var.session`. */
  sessionResult: ValidationResult<D> | null;
}

/** The Hono `Env` of an app using the middleware: `new Hono<SessionEnv>()`. */
export interface SessionEnv<D extends SessionData = RegisteredData> {
  Variables: SessionVariables<D>;
}

declare module 'hono' {
  // Typed `c.var.session` even in apps that do not pass SessionEnv to `new Hono()`.
  interface ContextVariableMap extends SessionVariables {}
}

export interface HonoSessionsOptions<D extends SessionData = SessionData> {
  /** CSRF protection (`key`, `allowedOrigins`, ...); the manager is filled in. Needed by `csrf()` and `csrfToken()`. */
  csrf?: CsrfSettings;
  /** `Cache-Control: no-store` on every response that passed a guard (B8). Default true. */
  noStoreOnGuarded?: boolean;
  /** Renders a rejection instead of core's JSON error response (e.g. redirect pages to /login). */
  onError?: (error: SessionError, c: Context) => Response | Promise<Response>;
  /**
   * Hybrid mode (`createHybridSessions` on the same manager): requests validate from a short-lived
   * session-JWT cookie without a store round trip; `{ strict: true }` guards ask the store.
   */
  hybrid?: SessionStrategy<D>;
  /**
   * The runtime's `getConnInfo` (`@hono/node-server/conninfo`, `hono/bun`, `hono/deno`): the
   * connection's own peer address, which production mode over plain http needs to be loopback.
   * Without it the client IP is unknown and plain http is refused outside `trustLoopbackHost`.
   */
  getConnInfo?: GetConnInfo;
  /**
   * For runtimes that give no peer address (workerd, some dev servers): a loopback `Host` alone
   * allows plain http in production mode. Never where the server is reachable from another machine.
   */
  trustLoopbackHost?: boolean;
}

/** Input of {@link HonoSessions.login}: who authenticated; the request supplies IP and user agent. */
export type LoginInput<D extends SessionData> = RequestLoginInput<D>;

export interface HonoSessions<D extends SessionData = RegisteredData> {
  readonly manager: SessionManager<D>;
  /** Validates the session cookie once per request, sets `c.var.session` and writes the response's cookies. */
  middleware: MiddlewareHandler<SessionEnv<D>>;
  /** 401 (`UNAUTHENTICATED`, `SESSION_EXPIRED`, ...) or 503 `STORE_UNAVAILABLE` without a session. `strict` (default false): see {@link RequireSessionOptions}. */
  requireSession(options?: RequireSessionOptions): MiddlewareHandler<SessionEnv<D>>;
  /** As `requireSession`, plus 401 `REAUTH_REQUIRED` unless the user authenticated within `maxAgeMs`. Always strict (a JWT-cookie session is confirmed with the store). */
  requireFresh(maxAgeMs: number): MiddlewareHandler<SessionEnv<D>>;
  /** 403 `CSRF_REJECTED` (or 415) for unsafe requests that fail the CSRF checks; reads a form or JSON body's token field. */
  csrf(options?: CsrfCheckOptions): MiddlewareHandler<SessionEnv<D>>;
  /** Always a new session; revokes the one the request carried and ends the pre-session (fixation-proof). */
  login(c: Context, input: LoginInput<D>): Promise<Session<D>>;
  /** Revokes the session server-side, then deletes the cookie. */
  logout(c: Context): Promise<void>;
  /** New token for the same session (privilege change; `reauthenticated: true` after a password prompt). */
  rotate(c: Context, options?: RotateOptions<D>): Promise<Session<D>>;
  /** Pushes the idle deadline out (never past the absolute one). */
  extend(c: Context, options?: { byMs?: number }): Promise<Session<D>>;
  /** A CSRF token for forms and `x-csrf-token`: session-bound, or bound to a pre-session cookie before login. */
  csrfToken(c: Context): string;
  /** For `app.onError`: answers `SessionError`s (and anything else, as 500) with core's status and JSON body. */
  errorHandler: ErrorHandler;
}

/**
 * Where the middleware keeps the request's context on Hono's `Context`: a property, not a `c.set`
 * variable, because `c.var` copies every variable into a new object on each read.
 */
const contextKey = Symbol('org-session-context');
type WithContext = { [contextKey]?: RequestContext<SessionData> };

/**
 * What core reads of a request. The Cookie header and URL are read at once (every request needs
 * them); the other headers, the method and the user agent when core asks (CSRF, login metadata,
 * a binding policy); the peer address and the host only for plain http, then once. Getters on a
 * class, because an object literal with getters costs more to create on V8. It also carries the
 * request's own state (its Hono context, whether core changed anything), so that one shared
 * `onChange` serves every request and the cookie writer needs no state of its own.
 */
class HonoRequestInput implements RequestContextInput {
  readonly cookieHeader: string | undefined;
  readonly headers: Headers;
  readonly protocol: string;
  /** Core reported a change (login, logout, rotate, ...) or validation renewed a cookie: the response needs ours. */
  touched = false;
  private readonly url: string;
  private readonly scheme: number;
  private peer: string | null | undefined = undefined;
  constructor(
    readonly c: Context,
    private readonly getConnInfo: GetConnInfo | undefined,
  ) {
    const raw = c.req.raw;
    const url = raw.url;
    this.url = url;
    this.scheme = url.indexOf(':');
    this.headers = raw.headers;
    this.cookieHeader = this.headers.get('cookie') ?? undefined;
    this.protocol = protocolOf(url, this.scheme);
  }
  get method(): string {
    return this.c.req.method;
  }
  get userAgent(): string | null {
    return this.headers.get('user-agent');
  }
  /** The URL's authority: the Host header as the runtime (or a proxy it trusts) set it. */
  get host(): string {
    const path = this.url.indexOf('/', this.scheme + 3);
    return this.url.slice(this.scheme + 3, path === -1 ? undefined : path);
  }
  get ip(): string | null {
    return this.peerAddress;
  }
  get peerAddress(): string | null {
    if (this.peer === undefined) this.peer = this.getConnInfo?.(this.c).remote.address ?? null;
    return this.peer;
  }
}

/** The URL's scheme; the two usual ones without a new string per request. */
function protocolOf(url: string, colon: number): string {
  if (colon === 5 && url.startsWith('https')) return 'https';
  if (colon === 4 && url.startsWith('http')) return 'http';
  return url.slice(0, colon);
}

/** Every context's `onChange`: its later changes (login, logout, rotate) show in `c.var` at once. */
function mirrorChange<D extends SessionData>(context: RequestContext<D>): void {
  const input = context.input as HonoRequestInput;
  input.touched = true;
  showSession(input.c, context);
}

/** `c.var.session` and `c.var.sessionResult` from the context as it stands. */
function showSession<D extends SessionData>(c: Context, context: RequestContext<D>): void {
  (c as Context<SessionEnv<D>>).set('session', context.session);
  (c as Context<SessionEnv<D>>).set('sessionResult', context.result);
}

/**
 * Hono 4 adapter: hands core the raw `Cookie` header, method, headers, URL protocol and host and
 * the runtime's peer address, and writes core's cookies onto the response. Every decision is
 * core's. Web APIs only: the same build runs on Node, Bun, Deno and Cloudflare Workers.
 *
 * @example
 * ```ts
 * const auth = honoSessions(manager, { csrf: { key, allowedOrigins: ['https://app.example.com'] }, getConnInfo })
 * const app = new Hono<SessionEnv>()
 * app.use(auth.middleware)
 * app.post('/login', auth.csrf(), async (c) => {
 *   const user = await checkPassword(await c.req.parseBody())
 *   await auth.login(c, { userId: user.id })
 *   return c.redirect('/', 303)
 * })
 * app.get('/account', auth.requireSession(), (c) => c.json({ user: c.var.session?.userId }))
 * app.onError(auth.errorHandler)
 * ```
 */
export function honoSessions<D extends SessionData = RegisteredData>(
  manager: SessionManager<D>,
  options: HonoSessionsOptions<D> = {},
): HonoSessions<D> {
  const csrf = options.csrf ? createCsrfProtection({ ...options.csrf, manager }) : null;
  const contexts = createRequestContexts({
    manager,
    csrf,
    hybrid: options.hybrid,
    trustLoopbackHost: options.trustLoopbackHost,
  });

  const fail = (error: unknown, c: Context): Response | Promise<Response> => {
    if (options.onError && isSessionError(error)) return options.onError(error, c);
    const { status, headers, body } = errorResponse(error);
    return new Response(JSON.stringify(body), { status, headers });
  };
  const contextOf = (c: Context): RequestContext<D> => {
    const context = (c as WithContext)[contextKey] as RequestContext<D> | undefined;
    if (!context) throw new SessionError('CONFIG_INVALID', 'Mount auth.middleware before guards and helpers');
    return context;
  };
  const guard = (check: (context: RequestContext<D>, c: Context) => unknown, noStore = false) => {
    const handler: MiddlewareHandler<SessionEnv<D>> = async (c, next) => {
      try {
        await check(contextOf(c), c);
      } catch (error) {
        return fail(error, c);
      }
      await next();
      if (noStore && options.noStoreOnGuarded !== false) c.res.headers.set('cache-control', 'no-store');
    };
    return handler;
  };

  /**
   * Runs the rest of the chain with the context in place, then writes core's cookies if it has
   * any (the one closure a request still costs: `.then` must know its context).
   */
  const handle = (c: Context<SessionEnv<D>>, context: RequestContext<D>, next: () => Promise<void>): Promise<void> => {
    (c as WithContext)[contextKey] = context as RequestContext<SessionData>;
    showSession(c, context);
    if (context.result.cookies.length > 0) (context.input as HonoRequestInput).touched = true;
    return next().then(() => writeCookies(c, context));
  };

  return {
    manager,

    middleware: (c, next) => {
      let opened: RequestContext<D> | Promise<RequestContext<D>>;
      try {
        opened = contexts.openNow(new HonoRequestInput(c, options.getConnInfo), mirrorChange);
      } catch (error) {
        return Promise.resolve(fail(error, c));
      }
      // A store that answers synchronously (memory, a verified session JWT) costs no extra hop.
      if (!(opened instanceof Promise)) return handle(c, opened, next);
      return opened.then(
        (context) => handle(c, context, next),
        (error: unknown) => fail(error, c),
      );
    },
    requireSession: (options) => guard((context) => context.requireSession(options), true),
    requireFresh: (maxAgeMs) => guard((context) => context.requireFresh(maxAgeMs), true),
    csrf: (checkOptions) => {
      contexts.requireCsrf();
      return guard(async (context, c) => context.verifyCsrf(await readBody(c), checkOptions));
    },
    login: async (c, input) => contextOf(c).login(input),
    logout: async (c) => contextOf(c).logout(),
    rotate: async (c, rotateOptions) => contextOf(c).rotate(rotateOptions),
    extend: async (c, extendOptions) => contextOf(c).extend(extendOptions),
    csrfToken: (c) => contextOf(c).csrfToken(),
    // Hono's own HTTP exceptions (a body limit, a validator) keep their response.
    errorHandler: (error, c) => (error instanceof HTTPException ? error.getResponse() : fail(error, c)),
  };
}

/**
 * Once, on the final response (also one that app.onError produced): ours replace same-named
 * cookies. A plain read leaves the response alone: on @hono/node-server, reading `c.res.headers`
 * turns its cheap response into a full one, which costs more than our whole read path.
 */
function writeCookies<D extends SessionData>(c: Context, context: RequestContext<D>): void {
  if (!(context.input as HonoRequestInput).touched) return;
  const update = context.responseHeaders(c.res.headers.getSetCookie());
  if (!update) return;
  c.res.headers.delete('set-cookie');
  for (const cookie of update.setCookie) c.res.headers.append('set-cookie', cookie);
  if (update.cacheControl) c.res.headers.set('cache-control', update.cacheControl);
}

/**
 * The parsed form or JSON body, for the CSRF token field; Hono caches it, so the handler can read
 * it again. Anything else (or a body that does not parse) is no body: core decides what that means.
 */
async function readBody(c: Context): Promise<unknown> {
  const type = c.req.header('content-type')?.toLowerCase() ?? '';
  try {
    if (type.startsWith('application/x-www-form-urlencoded') || type.startsWith('multipart/form-data')) {
      return await c.req.parseBody();
    }
    if (type.startsWith('application/json')) return await c.req.json();
  } catch {
    return undefined;
  }
  return undefined;
}

declare module 'hono' {
  interface ContextVariableMap {
    /** Set by `honoDpop`: the request's credential and its verified DPoP proof, if any. */
    dpop: DpopAuthentication;
  }
}

export interface HonoDpopOptions {
  /**
   * The origin clients call (`https://api.example.com`), which their proofs' `htu` names. Default:
   * the request URL's own (behind a proxy that rewrites the host or scheme, set it).
   */
  origin?: string;
  /** This route issues tokens: refusals are 400 with the OAuth error in the body (RFC 9449 section 5). */
  tokenEndpoint?: boolean;
}

/**
 * DPoP (RFC 9449) for API routes: verifies the `DPoP` proof against the method, the URL and the
 * `Authorization: DPoP` token, and sets `c.var.dpop` (`{ scheme, token, proof }`). A refused proof
 * is answered as the RFC says (401 with `WWW-Authenticate: DPoP error=...`, 400 at a token
 * endpoint, `DPoP-Nonce` when nonces are on). Whether the token is bound to the proof's key is
 * checked where the token is looked up (`refresh.refresh(token, { dpop })`,
 * `assertSessionDpopBinding`, `assertDpopBinding(claims.cnf?.jkt, proof)`).
 *
 * @example
 * ```ts
 * app.get('/api/me', honoDpop(createDpopVerifier({ replay: store })), async (c) => {
 *   const { session } = await manager.validateToken(c.var.dpop.token)
 *   ...
 * })
 * ```
 */
export function honoDpop(verifier: DpopVerifier, options: HonoDpopOptions = {}): MiddlewareHandler {
  return async (c, next) => {
    let auth: DpopAuthentication;
    try {
      const url = new URL(c.req.url);
      auth = await authenticateDpopRequest(verifier, {
        method: c.req.method,
        url: options.origin ? `${options.origin}${url.pathname}${url.search}` : url,
        authorization: c.req.header('authorization'),
        dpop: c.req.header('dpop'),
      });
    } catch (error) {
      if (!isSessionError(error)) throw error;
      const answer = dpopErrorResponse(error, verifier, { tokenEndpoint: options.tokenEndpoint });
      return c.json(answer.body, answer.status as 400, answer.headers);
    }
    c.set('dpop', auth);
    await next();
    const nonce = verifier.currentNonce();
    if (nonce !== null) c.header('dpop-nonce', nonce);
  };
}

/** The Hono side of DBSC (`@org/session-core/dbsc`): its endpoints and a guard. */
export interface HonoDbsc {
  /** Adds `Secure-Session-Registration` to a response that signed the user in (call after `auth.login`). */
  offer(c: Context, session: Pick<Session, 'id'>): void;
  /** The registration endpoint (`POST dbsc.registrationPath`): needs the session cookie. */
  register: MiddlewareHandler;
  /** The refresh endpoint (`POST dbsc.refreshPath`): 403 with a challenge, then a new bound cookie. */
  refresh: MiddlewareHandler;
  /**
   * A guard for sensitive routes: 401 `DBSC_BINDING_REQUIRED` when a bound session comes without
   * a fresh bound cookie, and with `'always'` for sessions that never bound one.
   */
  requireBound(require?: 'if-bound' | 'always'): MiddlewareHandler;
  /** Deletes the bound cookie (with `auth.logout`). */
  clear(c: Context): void;
  /** `fresh`, `stale` or `unbound` for the request's session (`unbound` without a session). */
  state(c: Context): DbscState;
}

/**
 * Device Bound Session Credentials on Hono: mount `register` and `refresh` at the DBSC paths after
 * `auth.middleware`, call `offer` after login, and guard sensitive routes with `requireBound()`.
 *
 * @example
 * ```ts
 * const dbsc = honoDbsc(createDbsc(manager, { secret: dbscKey }))
 * app.post('/dbsc/register', dbsc.register)
 * app.post('/dbsc/refresh', dbsc.refresh)
 * app.post('/transfer', auth.requireSession(), dbsc.requireBound(), transfer)
 * ```
 */
export function honoDbsc<D extends SessionData = RegisteredData>(dbsc: Dbsc<D>): HonoDbsc {
  const fail = (error: unknown): Response => {
    const { status, headers, body } = errorResponse(error);
    return new Response(JSON.stringify(body), { status, headers });
  };
  const sessionOf = (c: Context) => (c.get('session' as never) as Session<D> | null | undefined) ?? null;
  const endpoint = (step: 'register' | 'refresh'): MiddlewareHandler => {
    return async (c) => {
      const session = sessionOf(c);
      if (!session) {
        const result = c.get('sessionResult' as never) as ValidationResult<D> | null | undefined;
        return fail(result?.error ?? new SessionError('UNAUTHENTICATED'));
      }
      const request = {
        proof: c.req.header('secure-session-response') ?? null,
        sessionIdHeader: c.req.header('sec-secure-session-id') ?? null,
      };
      let answer: DbscAnswer;
      try {
        answer = step === 'register' ? await dbsc.register(session, request) : await dbsc.refresh(session, request);
      } catch (error) {
        return fail(error);
      }
      const headers = new Headers(answer.headers);
      for (const cookie of answer.cookies) headers.append('set-cookie', cookie);
      if (!answer.body) return new Response(null, { status: answer.status, headers });
      headers.set('content-type', 'application/json');
      return new Response(JSON.stringify(answer.body), { status: answer.status, headers });
    };
  };
  return {
    offer: (c, session) => c.header('secure-session-registration', dbsc.registrationHeader(session)),
    register: endpoint('register'),
    refresh: endpoint('refresh'),
    requireBound: (require = 'if-bound') => {
      return async (c, next) => {
        const session = sessionOf(c);
        if (!session) return fail(new SessionError('UNAUTHENTICATED'));
        try {
          dbsc.assertBound(session, c.req.header('cookie'), require);
        } catch (error) {
          return fail(error);
        }
        await next();
      };
    },
    clear: (c) => c.header('set-cookie', dbsc.deletionCookie(), { append: true }),
    state: (c) => {
      const session = sessionOf(c);
      return session ? dbsc.state(session, c.req.header('cookie')) : 'unbound';
    },
  };
}

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
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Core's, re-exported. Declare your session data type once, for every adapter, and `req.session` is
 * typed everywhere: `declare module '@org/session-core' { interface Register { data: AppData } }`.
 * A declaration through this package's name (`declare module '@org/session-express'`) merges into
 * the same interface.
 */
export type { Register, RegisteredData } from '@org/session-core';

declare global {
  namespace Express {
    interface Request {
      /** The validated session, or null (absent, invalid, expired, or the store is down). */
      session: Session<RegisteredData> | null;
      /** The full validation outcome (status, error) behind `req.session`. */
      sessionResult: ValidationResult<RegisteredData> | null;
      /** Set by `expressDpop`: the request's credential and its verified DPoP proof, if any. */
      dpop?: DpopAuthentication;
    }
  }
}

export interface ExpressSessionsOptions<D extends SessionData = SessionData> {
  /** CSRF protection (`key`, `allowedOrigins`, ...); the manager is filled in. Needed by `csrf()` and `csrfToken()`. */
  csrf?: CsrfSettings;
  /** `Cache-Control: no-store` on every response that passed a guard (B8). Default true. */
  noStoreOnGuarded?: boolean;
  /** Renders a rejection instead of core's JSON error response (e.g. redirect pages to /login). */
  onError?: (error: SessionError, req: Request, res: Response, next: NextFunction) => void;
  /**
   * Hybrid mode (`createHybridSessions` on the same manager): requests validate from a short-lived
   * session-JWT cookie without a store round trip; `{ strict: true }` guards ask the store.
   */
  hybrid?: SessionStrategy<D>;
}

/** Input of {@link ExpressSessions.login}: who authenticated; the request supplies IP and user agent. */
export type LoginInput<D extends SessionData> = RequestLoginInput<D>;

export interface ExpressSessions<D extends SessionData = RegisteredData> {
  readonly manager: SessionManager<D>;
  /** Validates the session cookie once per request and sets `req.session` and `req.sessionResult`. */
  middleware: RequestHandler;
  /** 401 (`UNAUTHENTICATED`, `SESSION_EXPIRED`, ...) or 503 `STORE_UNAVAILABLE` without a session. `strict` (default false): see {@link RequireSessionOptions}. */
  requireSession(options?: RequireSessionOptions): RequestHandler;
  /** As `requireSession`, plus 401 `REAUTH_REQUIRED` unless the user authenticated within `maxAgeMs`. Always strict (a JWT-cookie session is confirmed with the store). */
  requireFresh(maxAgeMs: number): RequestHandler;
  /** 403 `CSRF_REJECTED` (or 415) for unsafe requests that fail the CSRF checks. Parse form bodies first. */
  csrf(options?: CsrfCheckOptions): RequestHandler;
  /** Always a new session; revokes the one the request carried and ends the pre-session (fixation-proof). */
  login(req: Request, res: Response, input: LoginInput<D>): Promise<Session<D>>;
  /** Revokes the session server-side, then deletes the cookie. */
  logout(req: Request, res: Response): Promise<void>;
  /** New token for the same session (privilege change; `reauthenticated: true` after a password prompt). */
  rotate(req: Request, res: Response, options?: RotateOptions<D>): Promise<Session<D>>;
  /** Pushes the idle deadline out (never past the absolute one). */
  extend(req: Request, res: Response, options?: { byMs?: number }): Promise<Session<D>>;
  /** A CSRF token for forms and `x-csrf-token`: session-bound, or bound to a pre-session cookie before login. */
  csrfToken(req: Request, res: Response): string;
  /** Error middleware answering `SessionError`s thrown by handlers with core's status and JSON body. */
  errorHandler: ErrorRequestHandler;
}

/**
 * Each request's context, kept in `res.locals` (Express's per-request `Object.create(null)`) under a
 * symbol: Express swaps every request's prototype (`Object.setPrototypeOf`), after which each new
 * property of `req` costs a map of its own (microseconds a request for three), and a WeakMap entry
 * per request costs the garbage collector more. `req.session` and `req.sessionResult` are accessors
 * on the app's request prototype that read the context.
 */
const contextKey = Symbol('org-session');
type Locals = { [contextKey]?: RequestContext<SessionData> };
const prototypesWithAccessors = new WeakSet<object>();

// biome-ignore lint/suspicious/noExplicitAny: a context of any session data type.
function contextOfRequest(req: { res?: { locals?: unknown } }): RequestContext<any> | undefined {
  return (req.res?.locals as Locals | undefined)?.[contextKey];
}

/**
 * Defines `session` and `sessionResult` on a request prototype (once): they read the request's
 * context, so they follow login, logout and rotation. An assignment by the app defines a plain
 * property on that request, as before.
 */
function defineSessionAccessors(prototype: object): void {
  prototypesWithAccessors.add(prototype);
  const accessor = (name: string, read: (context: RequestContext) => unknown) => {
    Object.defineProperty(prototype, name, {
      configurable: true,
      get(this: Request) {
        const context = contextOfRequest(this);
        return context ? read(context) : null;
      },
      set(this: object, value: unknown) {
        Object.defineProperty(this, name, { value, writable: true, enumerable: true, configurable: true });
      },
    });
  };
  accessor('session', (context) => context.session);
  accessor('sessionResult', (context) => context.result);
}

/**
 * What core reads of a request. Express's proxy-aware getters (`req.ip`, `req.host`) cost more
 * than a session read, so they are read only when core needs them (the address for events and
 * login metadata, the host on plain http): getters on a class, because an object literal with
 * getters costs more to create on V8 than the getters save.
 */
class ExpressRequestInput implements RequestContextInput {
  readonly cookieHeader: string | undefined;
  readonly method: string;
  readonly headers: Request['headers'];
  constructor(
    readonly req: Request,
    readonly res: Response,
  ) {
    const headers = req.headers;
    this.cookieHeader = headers.cookie;
    this.method = req.method;
    this.headers = headers;
  }
  /** Login metadata and binding policies only: a plain read never looks the header up. */
  get userAgent(): string | null {
    return this.headers['user-agent'] ?? null;
  }
  /**
   * Read by the transport check in production mode only. Without an `X-Forwarded-Proto` header
   * Express's `req.protocol` is the socket's, whatever `trust proxy` says: answered here without
   * its settings lookup and trust check (the plain http read path).
   */
  get protocol(): string {
    if (this.headers['x-forwarded-proto'] === undefined) {
      return (this.req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
    }
    return this.req.protocol;
  }
  get ip(): string | null {
    return this.req.ip ?? null;
  }
  /** As `protocol`: without an `X-Forwarded-Host` header Express's `req.host` is the `Host` header. */
  get host(): string | undefined {
    if (this.headers['x-forwarded-host'] === undefined) return this.headers.host || undefined;
    return this.req.host;
  }
  /** The socket's own peer, not `req.ip`: trust proxy settings and headers cannot change it. */
  get peerAddress(): string | null {
    return this.req.socket.remoteAddress ?? null;
  }
}

/**
 * Express 5 adapter: hands core the raw `Cookie` header, method, headers, `req.ip` and
 * `req.protocol` (as `trust proxy` sees them), the socket's peer address, and applies core's
 * outputs. Every decision is core's.
 *
 * @example
 * ```ts
 * const auth = expressSessions(manager, { csrf: { key, allowedOrigins: ['https://app.example.com'] } })
 * app.use(express.urlencoded({ extended: false }), auth.middleware)
 * app.post('/login', auth.csrf(), async (req, res) => {
 *   await auth.login(req, res, { userId: (await checkPassword(req.body)).id })
 *   res.redirect(303, '/')
 * })
 * app.get('/account', auth.requireSession(), (req, res) => res.json({ user: req.session?.userId }))
 * app.use(auth.errorHandler)
 * ```
 */
export function expressSessions<D extends SessionData = RegisteredData>(
  manager: SessionManager<D>,
  options: ExpressSessionsOptions<D> = {},
): ExpressSessions<D> {
  const csrf = options.csrf ? createCsrfProtection({ ...options.csrf, manager }) : null;
  const contexts = createRequestContexts({ manager, csrf, hybrid: options.hybrid });
  /** The prototype of the last request (its app's `app.request`): most requests skip the WeakSet. */
  let lastPrototype: object | null = null;

  const fail = (error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (options.onError && isSessionError(error)) return options.onError(error, req, res, next);
    const { status, headers, body } = errorResponse(error);
    for (const [name, value] of headers) res.setHeader(name, value);
    res.status(status).json(body);
  };
  const contextOf = (req: Request): RequestContext<D> => {
    const context = contextOfRequest(req) as RequestContext<D> | undefined;
    if (!context) throw new SessionError('CONFIG_INVALID', 'Mount auth.middleware before guards and helpers');
    return context;
  };
  /** Where `req.session` was assigned (by the app, or another middleware), a plain property: keep it current too. */
  const mirror = (req: Request, context: RequestContext<D>) => {
    // `req` is typed for the app's registered data, the manager for D: the app declares both.
    if (Object.hasOwn(req, 'session')) req.session = context.session as Session<RegisteredData> | null;
    if (Object.hasOwn(req, 'sessionResult')) {
      req.sessionResult = context.result as unknown as ValidationResult<RegisteredData>;
    }
  };
  /** Writes the context's cookies onto `res`: at the start when validation renewed one, and after every change. */
  const sync = (req: Request, res: Response, context: RequestContext<D>) => {
    mirror(req, context);
    const update = context.responseHeaders(res.getHeader('set-cookie'));
    if (!update) return;
    if (update.setCookie.length > 0) res.setHeader('set-cookie', update.setCookie);
    else res.removeHeader('set-cookie');
    if (update.cacheControl) res.setHeader('cache-control', update.cacheControl);
  };
  /** One function for every request (no closure each): the context's input holds `req` and `res`. */
  const onChange = (context: RequestContext<D>) => {
    const { req, res } = context.input as ExpressRequestInput;
    sync(req, res, context);
  };
  const start = (req: Request, res: Response, next: NextFunction, context: RequestContext<D>) => {
    // Express's app.handle creates res.locals; a bare Router on a plain server may not have it.
    let locals = res.locals as Locals | undefined;
    if (!locals) {
      locals = Object.create(null) as Locals;
      res.locals = locals;
    }
    locals[contextKey] = context as RequestContext<SessionData>;
    const prototype = Object.getPrototypeOf(req) as object;
    if (prototype !== lastPrototype) {
      if (!prototypesWithAccessors.has(prototype)) defineSessionAccessors(prototype);
      lastPrototype = prototype;
    }
    mirror(req, context);
    // A plain read (no renewed cookie) leaves the response's headers alone.
    if (context.result.cookies.length > 0) sync(req, res, context);
    next();
  };
  const handler = (check: (context: RequestContext<D>, req: Request) => unknown, noStore = false): RequestHandler => {
    return async (req, res, next) => {
      try {
        await check(contextOf(req), req);
        if (noStore && options.noStoreOnGuarded !== false) res.setHeader('cache-control', 'no-store');
      } catch (error) {
        return fail(error, req, res, next);
      }
      next();
    };
  };

  return {
    manager,

    // Not an async function: a store that answers synchronously (memory, a verified session JWT)
    // costs no promise and no microtask per request.
    middleware: (req, res, next) => {
      let opened: RequestContext<D> | Promise<RequestContext<D>>;
      try {
        opened = contexts.openNow(new ExpressRequestInput(req, res), onChange);
      } catch (error) {
        return fail(error, req, res, next);
      }
      if (!(opened instanceof Promise)) return start(req, res, next, opened);
      // Express 5 passes a rejection of the returned promise to next(error).
      return opened.then(
        (context) => start(req, res, next, context),
        (error: unknown) => fail(error, req, res, next),
      );
    },
    requireSession: (guard) => handler((context) => context.requireSession(guard), true),
    requireFresh: (maxAgeMs) => handler((context) => context.requireFresh(maxAgeMs), true),
    csrf: (checkOptions) => {
      contexts.requireCsrf();
      return handler((context, req) => context.verifyCsrf(req.body, checkOptions));
    },
    // `res` is the one the middleware saw: the context writes its cookies there.
    login: async (req, _res, input) => contextOf(req).login(input),
    logout: async (req) => contextOf(req).logout(),
    rotate: async (req, _res, rotateOptions) => contextOf(req).rotate(rotateOptions),
    extend: async (req, _res, extendOptions) => contextOf(req).extend(extendOptions),
    csrfToken: (req) => contextOf(req).csrfToken(),
    errorHandler: (error, req, res, next) => {
      if (!isSessionError(error) || res.headersSent) return next(error);
      fail(error, req, res, next);
    },
  };
}

export interface ExpressDpopOptions {
  /**
   * The origin clients call (`https://api.example.com`), which their proofs' `htu` names. Default:
   * `req.protocol` and `req.host`, as `trust proxy` sees them.
   */
  origin?: string;
  /** This route issues tokens: refusals are 400 with the OAuth error in the body (RFC 9449 section 5). */
  tokenEndpoint?: boolean;
}

/**
 * DPoP (RFC 9449) for API routes: verifies the `DPoP` proof against the method, the URL and the
 * `Authorization: DPoP` token, and sets `req.dpop` (`{ scheme, token, proof }`). A refused proof is
 * answered as the RFC says (401 with `WWW-Authenticate: DPoP error=...`, 400 at a token endpoint,
 * `DPoP-Nonce` when nonces are on). Whether the token is bound to the proof's key is checked where
 * the token is looked up: `refresh.refresh(token, { dpop })`, `assertSessionDpopBinding`,
 * `assertDpopBinding(claims.cnf?.jkt, proof)`; answer their errors with `dpopErrorResponse`.
 *
 * @example
 * ```ts
 * const dpop = createDpopVerifier({ replay: store })
 * app.get('/api/me', expressDpop(dpop), async (req, res) => {
 *   const { session } = await manager.validateToken(req.dpop?.token)
 *   ...
 * })
 * ```
 */
export function expressDpop(verifier: DpopVerifier, options: ExpressDpopOptions = {}): RequestHandler {
  return async (req, res, next) => {
    try {
      const origin = options.origin ?? `${req.protocol}://${req.host}`;
      req.dpop = await authenticateDpopRequest(verifier, {
        method: req.method,
        url: `${origin}${req.originalUrl}`,
        authorization: req.headers.authorization,
        // Distinct values: Node joins repeated headers with a comma, which would hide a second proof.
        dpop: req.headersDistinct.dpop,
      });
    } catch (error) {
      if (!isSessionError(error)) return next(error);
      const answer = dpopErrorResponse(error, verifier, { tokenEndpoint: options.tokenEndpoint });
      for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
      res.status(answer.status).json(answer.body);
      return;
    }
    const nonce = verifier.currentNonce();
    if (nonce !== null) res.setHeader('dpop-nonce', nonce);
    next();
  };
}

/** The Express side of DBSC (`@org/session-core/dbsc`): its endpoints and a guard. */
export interface ExpressDbsc {
  /** Adds `Secure-Session-Registration` to a response that signed the user in (call after `auth.login`). */
  offer(res: Response, session: Pick<Session, 'id'>): void;
  /** The registration endpoint (`POST dbsc.registrationPath`): needs the session cookie. */
  register: RequestHandler;
  /** The refresh endpoint (`POST dbsc.refreshPath`): 403 with a challenge, then a new bound cookie. */
  refresh: RequestHandler;
  /**
   * A guard for sensitive routes, after `requireSession`: 401 `DBSC_BINDING_REQUIRED` when a bound
   * session comes without a fresh bound cookie (a copied session cookie), and with `'always'` for
   * sessions of browsers that never bound one.
   */
  requireBound(require?: 'if-bound' | 'always'): RequestHandler;
  /** Deletes the bound cookie (with `auth.logout`). */
  clear(res: Response): void;
  /** `fresh`, `stale` or `unbound` for the request's session (`unbound` without a session). */
  state(req: Request): DbscState;
}

/**
 * Device Bound Session Credentials on Express: mount `register` and `refresh` at the DBSC paths,
 * after `auth.middleware`, call `offer` after login, and guard sensitive routes with `requireBound()`. Browsers without
 * DBSC keep ordinary sessions unless a route says `'always'`.
 *
 * @example
 * ```ts
 * const dbsc = expressDbsc(createDbsc(manager, { secret: dbscKey }))
 * app.post('/dbsc/register', dbsc.register)
 * app.post('/dbsc/refresh', dbsc.refresh)
 * app.post('/login', auth.csrf(), async (req, res) => { dbsc.offer(res, await auth.login(req, res, { userId })); res.redirect(303, '/') })
 * app.post('/transfer', auth.requireSession(), dbsc.requireBound(), transfer)
 * ```
 */
export function expressDbsc<D extends SessionData = RegisteredData>(dbsc: Dbsc<D>): ExpressDbsc {
  const fail = (error: unknown, res: Response) => {
    const { status, headers, body } = errorResponse(error);
    for (const [name, value] of headers) res.setHeader(name, value);
    res.status(status).json(body);
  };
  const answer = (res: Response, result: DbscAnswer) => {
    for (const [name, value] of Object.entries(result.headers)) res.setHeader(name, value);
    for (const cookie of result.cookies) res.append('set-cookie', cookie);
    if (result.body) res.status(result.status).json(result.body);
    else res.status(result.status).end();
  };
  const endpoint = (step: 'register' | 'refresh'): RequestHandler => {
    return async (req, res) => {
      const session = req.session as Session<D> | null;
      if (!session) return fail(req.sessionResult?.error ?? new SessionError('UNAUTHENTICATED'), res);
      const request = {
        proof: req.get('secure-session-response') ?? null,
        sessionIdHeader: req.get('sec-secure-session-id') ?? null,
        ip: req.ip ?? null,
      };
      try {
        answer(res, step === 'register' ? await dbsc.register(session, request) : await dbsc.refresh(session, request));
      } catch (error) {
        fail(error, res);
      }
    };
  };
  return {
    offer: (res, session) => {
      res.setHeader('secure-session-registration', dbsc.registrationHeader(session));
    },
    register: endpoint('register'),
    refresh: endpoint('refresh'),
    requireBound: (require = 'if-bound') => {
      return (req, res, next) => {
        const session = req.session as Session<D> | null;
        if (!session) return fail(new SessionError('UNAUTHENTICATED'), res);
        try {
          dbsc.assertBound(session, req.headers.cookie, require);
        } catch (error) {
          return fail(error, res);
        }
        next();
      };
    },
    clear: (res) => {
      res.append('set-cookie', dbsc.deletionCookie());
    },
    // \`req.session\` is typed by the app's Register; the DBSC helper's own data type need not match.
    state: (req) => (req.session ? dbsc.state(req.session as unknown as Session<D>, req.headers.cookie) : 'unbound'),
  };
}

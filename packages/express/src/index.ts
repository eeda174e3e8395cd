import {
  assertSecureTransport,
  type CreateSessionInput,
  type CsrfCheckOptions,
  type CsrfOptions,
  type CsrfProtection,
  cookieHeaders,
  createCsrfProtection,
  errorResponse,
  getCookieValues,
  isSessionError,
  type RotateOptions,
  type Session,
  type SessionData,
  SessionError,
  type SessionManager,
  type ValidationResult,
} from '@org/session-core';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Declare your session data type once, and `req.session` is typed everywhere:
 * `declare module '@org/session-express' { interface Register { data: { role: string } } }`
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by declaration merging in apps.
export interface Register {}
export type RegisteredData = Register extends { data: infer D }
  ? D extends SessionData
    ? D
    : SessionData
  : SessionData;

declare global {
  namespace Express {
    interface Request {
      /** The validated session, or null (absent, invalid, expired, or the store is down). */
      session: Session<RegisteredData> | null;
      /** The full validation outcome (status, error) behind `req.session`. */
      sessionResult: ValidationResult<RegisteredData> | null;
    }
  }
}

export interface ExpressSessionsOptions {
  /** CSRF protection (`key`, `allowedOrigins`, ...); the manager is filled in. Needed by `csrf()` and `csrfToken()`. */
  csrf?: Omit<CsrfOptions, 'manager'>;
  /** `Cache-Control: no-store` on every response that passed a guard (B8). Default true. */
  noStoreOnGuarded?: boolean;
  /** Renders a rejection instead of core's JSON error response (e.g. redirect pages to /login). */
  onError?: (error: SessionError, req: Request, res: Response, next: NextFunction) => void;
}

/** Input of {@link ExpressSessions.login}: who authenticated; the request supplies IP and user agent. */
export type LoginInput<D extends SessionData> = Omit<CreateSessionInput<D>, 'replaces'>;

export interface ExpressSessions<D extends SessionData = RegisteredData> {
  readonly manager: SessionManager<D>;
  /** Validates the session cookie once per request and sets `req.session` and `req.sessionResult`. */
  middleware: RequestHandler;
  /** 401 (`UNAUTHENTICATED`, `SESSION_EXPIRED`, ...) or 503 `STORE_UNAVAILABLE` without a session. */
  requireSession(): RequestHandler;
  /** As `requireSession`, plus 401 `REAUTH_REQUIRED` unless the user authenticated within `maxAgeMs`. */
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

interface RequestState<D extends SessionData> {
  session: Session<D> | null;
  result: ValidationResult<D>;
  /** Set-Cookie values of this response by name (null: dropped again): one per name (B5). */
  cookies: Map<string, string | null>;
  preSessionId: string | null;
}

const stateKey = Symbol('org-session');

/**
 * Express 5 adapter: hands core the raw `Cookie` header, method, headers, `req.ip` and
 * `req.protocol` (as `trust proxy` sees them) and applies core's outputs. Every decision is core's.
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
  options: ExpressSessionsOptions = {},
): ExpressSessions<D> {
  const csrf: CsrfProtection | null = options.csrf ? createCsrfProtection({ ...options.csrf, manager }) : null;

  const fail = (error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (options.onError && isSessionError(error)) return options.onError(error, req, res, next);
    const { status, headers, body } = errorResponse(error);
    for (const [name, value] of headers) res.setHeader(name, value);
    res.status(status).json(body);
  };
  const stateOf = (req: Request): RequestState<D> => {
    const state = (req as unknown as { [stateKey]?: RequestState<D> })[stateKey];
    if (!state) throw new SessionError('CONFIG_INVALID', 'Mount auth.middleware before guards and helpers');
    return state;
  };
  const needCsrf = (): CsrfProtection => {
    if (!csrf) throw new SessionError('CONFIG_INVALID', 'Pass the csrf option to expressSessions()');
    return csrf;
  };
  const current = (req: Request) => {
    const state = stateOf(req);
    if (!state.session) throw state.result.error ?? new SessionError('UNAUTHENTICATED');
    return { state, session: state.session };
  };
  const setSession = (req: Request, state: RequestState<D>, session: Session<D> | null) => {
    state.session = session;
    req.session = session as Session<RegisteredData> | null;
  };
  const signals = (req: Request) => ({ ip: req.ip ?? null, userAgent: req.get('user-agent') ?? null });
  const guard = (check: (session: Session<D>) => void): RequestHandler => {
    return (req, res, next) => {
      try {
        check(current(req).session);
        if (options.noStoreOnGuarded !== false) res.setHeader('cache-control', 'no-store');
        next();
      } catch (error) {
        fail(error, req, res, next);
      }
    };
  };

  return {
    manager,

    middleware: async (req, res, next) => {
      try {
        assertSecureTransport({ protocol: req.protocol, host: req.host }, manager.cookie.mode);
      } catch (error) {
        return fail(error, req, res, next);
      }
      const result = await manager.validateCookie(req.headers.cookie, signals(req));
      const state: RequestState<D> = { session: null, result, cookies: new Map(), preSessionId: null };
      (req as unknown as { [stateKey]: RequestState<D> })[stateKey] = state;
      req.sessionResult = result as ValidationResult<RegisteredData>;
      setSession(req, state, result.session);
      writeCookies(res, state, result.cookies);
      next();
    },

    requireSession: () => guard(() => {}),

    requireFresh: (maxAgeMs) => guard((session) => manager.requireFresh(session, maxAgeMs)),

    csrf: (checkOptions) => {
      const protection = needCsrf();
      return (req, res, next) => {
        try {
          const state = stateOf(req);
          const body: unknown = req.body;
          protection.verify(
            {
              method: req.method,
              headers: req.headers,
              session: state.session,
              sessionUnavailable: state.result.status === 'unavailable',
              formToken:
                typeof body === 'object' && body !== null ? Reflect.get(body, protection.fieldName) : undefined,
              ip: req.ip ?? null,
            },
            checkOptions,
          );
          next();
        } catch (error) {
          fail(error, req, res, next);
        }
      };
    },

    async login(req, res, input) {
      const state = stateOf(req);
      const metadata = { ...signals(req), ...input.metadata };
      const issued = await manager.create({ ...input, metadata, replaces: state.session?.id ?? null });
      setSession(req, state, issued.session);
      // D3: pre-login state ends here, including a pre-session started earlier in this response.
      if (csrf) state.cookies.set(csrf.preSessionCookieName, null);
      writeCookies(res, state, [...issued.cookies, ...(csrf?.endPreSession(req.headers.cookie) ?? [])]);
      return issued.session;
    },

    async logout(req, res) {
      const state = stateOf(req);
      // The store could not say whether the session lives: claiming a logout would be a lie.
      if (!state.session && state.result.status === 'unavailable') throw state.result.error;
      if (state.session) await manager.revoke(state.session.id, { reason: 'logout' });
      const heldCookie = getCookieValues(req.headers.cookie, manager.cookie.name, 1).length > 0;
      if (state.session || heldCookie) writeCookies(res, state, [manager.deletionCookie()]);
      setSession(req, state, null);
    },

    async rotate(req, res, rotateOptions) {
      const { state, session } = current(req);
      const issued = await manager.rotate(session, rotateOptions);
      setSession(req, state, issued.session);
      writeCookies(res, state, issued.cookies);
      return issued.session;
    },

    async extend(req, _res, extendOptions) {
      const { state, session } = current(req);
      const extended = await manager.extend(session, extendOptions);
      setSession(req, state, extended);
      return extended;
    },

    csrfToken(req, res) {
      const state = stateOf(req);
      const { session, preSessionId } = state;
      const issued = needCsrf().token({ session, cookieHeader: req.headers.cookie, preSessionId });
      state.preSessionId = issued.preSessionId;
      writeCookies(res, state, issued.cookies);
      // A page carrying a token is per user: never cache it.
      res.setHeader('cache-control', 'no-store');
      return issued.token;
    },

    errorHandler: (error, req, res, next) => {
      if (!isSessionError(error) || res.headersSent) return next(error);
      fail(error, req, res, next);
    },
  };
}

/** Rewrites the Set-Cookie list so that it holds at most one cookie per name this adapter manages. */
function writeCookies<D extends SessionData>(res: Response, state: RequestState<D>, cookies: readonly string[]): void {
  if (cookies.length === 0) return;
  const nameOf = (cookie: string) => cookie.slice(0, cookie.indexOf('='));
  for (const cookie of cookies) state.cookies.set(nameOf(cookie), cookie);
  const existing = res.getHeader('set-cookie');
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
  const ours = cookieHeaders([...state.cookies.values()].filter((c): c is string => c !== null));
  const foreign = list.filter((cookie) => !state.cookies.has(nameOf(cookie)));
  res.setHeader('set-cookie', [...foreign, ...ours.filter(([n]) => n === 'set-cookie').map(([, v]) => v)]);
  for (const [name, value] of ours) if (name !== 'set-cookie') res.setHeader(name, value);
}

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
  type ValidationResult as SessionValidationResult,
} from '@org/session-core';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

/**
 * Declare your session data type once, and `request.session` is typed everywhere:
 * `declare module '@org/session-fastify' { interface Register { data: { role: string } } }`
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by declaration merging in apps.
export interface Register {}
export type RegisteredData = Register extends { data: infer D }
  ? D extends SessionData
    ? D
    : SessionData
  : SessionData;

declare module 'fastify' {
  interface FastifyRequest {
    /** The validated session, or null (absent, invalid, expired, or the store is down). */
    session: Session<RegisteredData> | null;
    /** The full validation outcome (status, error) behind `request.session`. */
    sessionResult: SessionValidationResult<RegisteredData> | null;
  }
  interface FastifyInstance {
    /** Guards and helpers of `@org/session-fastify`. */
    sessions: FastifySessions<RegisteredData>;
  }
}

export interface FastifySessionsOptions {
  // biome-ignore lint/suspicious/noExplicitAny: any session data type; request.session is typed by Register.
  manager: SessionManager<any>;
  /** CSRF protection (`key`, `allowedOrigins`, ...); the manager is filled in. Needed by `csrf()` and `csrfToken()`. */
  csrf?: Omit<CsrfOptions, 'manager'>;
  /** Close the manager's store when the app closes (only if this app owns it). Default false. */
  closeStore?: boolean;
  /** `Cache-Control: no-store` on every response that passed a guard (B8). Default true. */
  noStoreOnGuarded?: boolean;
  /** Answer `SessionError`s with core's status and JSON body in this scope's error handler. Default true. */
  errorHandler?: boolean;
}

/** Input of {@link FastifySessions.login}: who authenticated; the request supplies IP and user agent. */
export type LoginInput<D extends SessionData> = Omit<CreateSessionInput<D>, 'replaces'>;
type Hook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

export interface FastifySessions<D extends SessionData = RegisteredData> {
  readonly manager: SessionManager<D>;
  /** preHandler: 401 (`UNAUTHENTICATED`, `SESSION_EXPIRED`, ...) or 503 `STORE_UNAVAILABLE` without a session. */
  requireSession(): Hook;
  /** preHandler: as `requireSession`, plus 401 `REAUTH_REQUIRED` unless authenticated within `maxAgeMs`. */
  requireFresh(maxAgeMs: number): Hook;
  /** preHandler: 403 `CSRF_REJECTED` (or 415) for unsafe requests that fail the CSRF checks. */
  csrf(options?: CsrfCheckOptions): Hook;
  /** Always a new session; revokes the one the request carried and ends the pre-session (fixation-proof). */
  login(request: FastifyRequest, reply: FastifyReply, input: LoginInput<D>): Promise<Session<D>>;
  /** Revokes the session server-side, then deletes the cookie. */
  logout(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  /** New token for the same session (privilege change; `reauthenticated: true` after a password prompt). */
  rotate(request: FastifyRequest, reply: FastifyReply, options?: RotateOptions<D>): Promise<Session<D>>;
  /** Pushes the idle deadline out (never past the absolute one). */
  extend(request: FastifyRequest, reply: FastifyReply, options?: { byMs?: number }): Promise<Session<D>>;
  /** A CSRF token for forms and `x-csrf-token`: session-bound, or bound to a pre-session cookie before login. */
  csrfToken(request: FastifyRequest, reply: FastifyReply): string;
}

interface RequestState {
  session: Session | null;
  result: SessionValidationResult;
  /** Set-Cookie values of this response by name (null: dropped again): one per name (B5). */
  cookies: Map<string, string | null>;
  preSessionId: string | null;
}

const kState = Symbol('org-session');

const plugin: FastifyPluginAsync<FastifySessionsOptions> = async (app, options) => {
  const { manager } = options;
  const csrf: CsrfProtection | null = options.csrf ? createCsrfProtection({ ...options.csrf, manager }) : null;
  const stateOf = (request: FastifyRequest): RequestState => {
    const state = (request as unknown as { [kState]: RequestState | null })[kState];
    if (!state) throw new SessionError('CONFIG_INVALID', 'The session hook did not run for this request');
    return state;
  };
  const needCsrf = (): CsrfProtection => {
    if (!csrf) throw new SessionError('CONFIG_INVALID', 'Pass the csrf option to fastifySessions');
    return csrf;
  };
  const current = (request: FastifyRequest) => {
    const state = stateOf(request);
    if (!state.session) throw state.result.error ?? new SessionError('UNAUTHENTICATED');
    return { state, session: state.session };
  };
  const setSession = (request: FastifyRequest, state: RequestState, session: Session | null) => {
    state.session = session;
    request.session = session;
  };
  const signals = (request: FastifyRequest) => ({ ip: request.ip, userAgent: request.headers['user-agent'] ?? null });
  const guard = (check: (session: Session) => void): Hook => {
    return async (request, reply) => {
      check(current(request).session);
      if (options.noStoreOnGuarded !== false) reply.header('cache-control', 'no-store');
    };
  };

  app.decorateRequest('session', null);
  app.decorateRequest('sessionResult', null);
  app.decorateRequest(kState as unknown as string, null);

  app.addHook('onRequest', async (request, reply) => {
    assertSecureTransport({ protocol: request.protocol, host: request.host }, manager.cookie.mode);
    const result = await manager.validateCookie(request.headers.cookie, signals(request));
    const state: RequestState = { session: null, result, cookies: new Map(), preSessionId: null };
    (request as unknown as { [kState]: RequestState })[kState] = state;
    request.sessionResult = result;
    setSession(request, state, result.session);
    writeCookies(reply, state, result.cookies);
  });

  if (options.errorHandler !== false) {
    app.setErrorHandler((error, _request, reply) => {
      // Anything else goes on to the error handler this one replaced.
      if (!isSessionError(error)) throw error;
      const { status, headers, body } = errorResponse(error);
      return reply.code(status).headers(Object.fromEntries(headers)).send(body);
    });
  }
  if (options.closeStore) app.addHook('onClose', async () => manager.store.close?.());

  const sessions: FastifySessions<SessionData> = {
    manager,
    requireSession: () => guard(() => {}),
    requireFresh: (maxAgeMs) => guard((session) => manager.requireFresh(session, maxAgeMs)),

    csrf: (checkOptions) => {
      const protection = needCsrf();
      return async (request) => {
        const state = stateOf(request);
        const body: unknown = request.body;
        protection.verify(
          {
            method: request.method,
            headers: request.headers,
            session: state.session,
            sessionUnavailable: state.result.status === 'unavailable',
            formToken: typeof body === 'object' && body !== null ? Reflect.get(body, protection.fieldName) : undefined,
            ip: request.ip,
          },
          checkOptions,
        );
      };
    },

    async login(request, reply, input) {
      const state = stateOf(request);
      const metadata = { ...signals(request), ...input.metadata };
      const issued = await manager.create({ ...input, metadata, replaces: state.session?.id ?? null });
      setSession(request, state, issued.session);
      // D3: pre-login state ends here, including a pre-session started earlier in this response.
      if (csrf) state.cookies.set(csrf.preSessionCookieName, null);
      writeCookies(reply, state, [...issued.cookies, ...(csrf?.endPreSession(request.headers.cookie) ?? [])]);
      return issued.session;
    },

    async logout(request, reply) {
      const state = stateOf(request);
      // The store could not say whether the session lives: claiming a logout would be a lie.
      if (!state.session && state.result.status === 'unavailable') throw state.result.error;
      if (state.session) await manager.revoke(state.session.id, { reason: 'logout' });
      const heldCookie = getCookieValues(request.headers.cookie, manager.cookie.name, 1).length > 0;
      if (state.session || heldCookie) writeCookies(reply, state, [manager.deletionCookie()]);
      setSession(request, state, null);
    },

    async rotate(request, reply, rotateOptions) {
      const { state, session } = current(request);
      const issued = await manager.rotate(session, rotateOptions);
      setSession(request, state, issued.session);
      writeCookies(reply, state, issued.cookies);
      return issued.session;
    },

    async extend(request, _reply, extendOptions) {
      const { state, session } = current(request);
      const extended = await manager.extend(session, extendOptions);
      setSession(request, state, extended);
      return extended;
    },

    csrfToken(request, reply) {
      const state = stateOf(request);
      const { session, preSessionId } = state;
      const issued = needCsrf().token({ session, cookieHeader: request.headers.cookie, preSessionId });
      state.preSessionId = issued.preSessionId;
      writeCookies(reply, state, issued.cookies);
      // A page carrying a token is per user: never cache it.
      reply.header('cache-control', 'no-store');
      return issued.token;
    },
  };
  app.decorate('sessions', sessions);
};

/**
 * Fastify 5 plugin: an `onRequest` hook validates the raw `Cookie` header once per request and
 * sets `request.session`; `app.sessions` holds preHandler guards and helpers. Every decision is core's.
 *
 * @example
 * ```ts
 * await app.register(fastifySessions, { manager, csrf: { key, allowedOrigins: ['https://app.example.com'] } })
 * app.post('/login', { preHandler: app.sessions.csrf() }, async (request, reply) => {
 *   await app.sessions.login(request, reply, { userId: (await checkPassword(request.body)).id })
 *   return { ok: true }
 * })
 * app.get('/account', { preHandler: app.sessions.requireSession() }, async (request) => ({ user: request.session?.userId }))
 * ```
 */
export const fastifySessions = fp(plugin, { fastify: '5.x', name: '@org/session-fastify' });

/** Rewrites the Set-Cookie list so that it holds at most one cookie per name this plugin manages. */
function writeCookies(reply: FastifyReply, state: RequestState, cookies: readonly string[]): void {
  if (cookies.length === 0) return;
  const nameOf = (cookie: string) => cookie.slice(0, cookie.indexOf('='));
  for (const cookie of cookies) state.cookies.set(nameOf(cookie), cookie);
  const existing = reply.getHeader('set-cookie');
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
  const ours = cookieHeaders([...state.cookies.values()].filter((c): c is string => c !== null));
  const foreign = list.filter((cookie) => !state.cookies.has(nameOf(cookie)));
  const next = [...foreign, ...ours.filter(([n]) => n === 'set-cookie').map(([, v]) => v)];
  reply.removeHeader('set-cookie');
  if (next.length > 0) reply.header('set-cookie', next);
  for (const [name, value] of ours) if (name !== 'set-cookie') reply.header(name, value);
}

export default fastifySessions;

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
import {
  authenticateDpopRequest,
  type DpopAuthentication,
  type DpopVerifier,
  dpopErrorResponse,
} from '@org/session-core/dpop';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

/**
 * Core's, re-exported. Declare your session data type once, for every adapter, and
 * `request.session` is typed everywhere:
 * `declare module '@org/session-core' { interface Register { data: AppData } }`.
 * A declaration through this package's name (`declare module '@org/session-fastify'`) merges into
 * the same interface.
 */
export type { Register, RegisteredData } from '@org/session-core';
export { type FastifyDbsc, type FastifyDbscGuard, type FastifyDbscHandler, fastifyDbsc } from './dbsc.js';

/**
 * `request.sessionResult`. Inside `declare module 'fastify'` the name `ValidationResult` means
 * Fastify's own, non-generic type, and the declaration bundler turns an aliased import back into
 * that name; a type of our own declared out here keeps the two apart in the published `.d.ts`.
 */
type SessionValidationResult<D extends SessionData> = ValidationResult<D>;
/**
 * `request.session`, for the same reason: @fastify/session declares a `Session` interface inside
 * `declare module 'fastify'`, where it would hide core's `Session` when both are installed.
 */
type RequestSession<D extends SessionData> = Session<D>;

declare module 'fastify' {
  interface FastifyRequest {
    /** The validated session, or null (absent, invalid, expired, or the store is down). */
    session: RequestSession<RegisteredData> | null;
    /** The full validation outcome (status, error) behind `request.session`. */
    sessionResult: SessionValidationResult<RegisteredData> | null;
  }
  interface FastifyInstance {
    /** Guards and helpers of `@org/session-fastify`. */
    sessions: FastifySessions<RegisteredData>;
  }
}

export interface FastifySessionsOptions {
  /** The session manager behind `request.session`, `login`, `logout` and the other decorations; required. */
  // biome-ignore lint/suspicious/noExplicitAny: any session data type; request.session is typed by Register.
  manager: SessionManager<any>;
  /** CSRF protection (`key`, `allowedOrigins`, ...); the manager is filled in. Needed by `csrf()` and `csrfToken()`. */
  csrf?: CsrfSettings;
  /** Close the manager's store when the app closes (only if this app owns it). Default false. */
  closeStore?: boolean;
  /** `Cache-Control: no-store` on every response that passed a guard (B8). Default true. */
  noStoreOnGuarded?: boolean;
  /** Answer `SessionError`s with core's status and JSON body in this scope's error handler. Default true. */
  errorHandler?: boolean;
  /**
   * Hybrid mode (`createHybridSessions` on the same manager): requests validate from a short-lived
   * session-JWT cookie without a store round trip; `{ strict: true }` guards ask the store.
   */
  // biome-ignore lint/suspicious/noExplicitAny: any session data type, as for manager.
  hybrid?: SessionStrategy<any>;
}

/** Input of {@link FastifySessions.login}: who authenticated; the request supplies IP and user agent. */
export type LoginInput<D extends SessionData> = RequestLoginInput<D>;
type Hook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

export interface FastifySessions<D extends SessionData = RegisteredData> {
  readonly manager: SessionManager<D>;
  /** preHandler: 401 (`UNAUTHENTICATED`, `SESSION_EXPIRED`, ...) or 503 `STORE_UNAVAILABLE` without a session. `strict` (default false): see {@link RequireSessionOptions}. */
  requireSession(options?: RequireSessionOptions): Hook;
  /** preHandler: as `requireSession`, plus 401 `REAUTH_REQUIRED` unless authenticated within `maxAgeMs`. Always strict (a JWT-cookie session is confirmed with the store). */
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

const kContext = Symbol('org-session');

/**
 * What core reads of a request. Proxy-aware getters (`request.ip`, `request.host`) are read only
 * when core needs them (the address for events and login metadata, the host on plain http):
 * getters on a class, because an object literal with getters costs more to create on V8.
 */
class FastifyRequestInput implements RequestContextInput {
  readonly cookieHeader: string | undefined;
  readonly method: string;
  readonly headers: FastifyRequest['headers'];
  readonly userAgent: string | null;
  constructor(
    readonly request: FastifyRequest,
    readonly reply: FastifyReply,
  ) {
    const headers = request.headers;
    this.cookieHeader = headers.cookie;
    this.method = request.method;
    this.headers = headers;
    this.userAgent = headers['user-agent'] ?? null;
  }
  /** Read by the transport check in production mode only. */
  get protocol(): string {
    return this.request.protocol;
  }
  get ip(): string {
    return this.request.ip;
  }
  get host(): string {
    return this.request.host;
  }
  /** The socket's own peer, not `request.ip`: trustProxy and headers cannot change it. */
  get peerAddress(): string | null {
    return this.request.raw.socket?.remoteAddress ?? null;
  }
}
type WithContext = { [kContext]: RequestContext | null };

const plugin: FastifyPluginAsync<FastifySessionsOptions> = async (app, options) => {
  const { manager } = options;
  const csrf = options.csrf ? createCsrfProtection({ ...options.csrf, manager }) : null;
  const contexts = createRequestContexts<SessionData>({ manager, csrf, hybrid: options.hybrid });
  const contextOf = (request: FastifyRequest): RequestContext => {
    const context = (request as unknown as WithContext)[kContext];
    if (!context) throw new SessionError('CONFIG_INVALID', 'The session hook did not run for this request');
    return context;
  };
  /** Mirrors the context onto `request` and its cookies onto `reply`: at the start and after every change. */
  const sync = (request: FastifyRequest, reply: FastifyReply, context: RequestContext) => {
    // `request` is typed for the data the app registered (Register), which its manager holds.
    request.session = context.session as Session<RegisteredData> | null;
    request.sessionResult = context.result as SessionValidationResult<RegisteredData>;
    const update = context.responseHeaders(reply.getHeader('set-cookie'));
    if (!update) return;
    // reply.header appends to Set-Cookie, so the merged list replaces the old one.
    reply.removeHeader('set-cookie');
    if (update.setCookie.length > 0) reply.header('set-cookie', update.setCookie);
    if (update.cacheControl) reply.header('cache-control', update.cacheControl);
  };
  const guard = (check: (context: RequestContext) => Promise<unknown>): Hook => {
    return async (request, reply) => {
      await check(contextOf(request));
      if (options.noStoreOnGuarded !== false) reply.header('cache-control', 'no-store');
    };
  };

  app.decorateRequest('session', null);
  app.decorateRequest('sessionResult', null);
  app.decorateRequest(kContext as unknown as string, null);

  /** One function for every request (no closure each): the context's input holds both. */
  const onChange = (context: RequestContext) => {
    const { request, reply } = context.input as FastifyRequestInput;
    sync(request, reply, context);
  };
  const start = (request: FastifyRequest, reply: FastifyReply, context: RequestContext) => {
    (request as unknown as WithContext)[kContext] = context;
    request.session = context.session as Session<RegisteredData> | null;
    request.sessionResult = context.result as SessionValidationResult<RegisteredData>;
    // A plain read (no renewed cookie) leaves the reply's headers alone.
    if (context.result.cookies.length > 0) sync(request, reply, context);
  };
  // A callback hook, not an async one: a store that answers synchronously (memory, a verified
  // session JWT) costs no promise and no microtask per request.
  app.addHook('onRequest', (request, reply, done) => {
    let opened: RequestContext | Promise<RequestContext>;
    try {
      opened = contexts.openNow(new FastifyRequestInput(request, reply), onChange);
    } catch (error) {
      return done(error as Error);
    }
    if (!(opened instanceof Promise)) {
      start(request, reply, opened);
      return done();
    }
    opened
      .then((context) => start(request, reply, context))
      .then(
        () => done(),
        (error: unknown) => done(error as Error),
      );
  });

  if (options.errorHandler !== false) {
    app.setErrorHandler((error, _request, reply) => {
      // Anything else goes on to the error handler this one replaced.
      if (!isSessionError(error)) throw error;
      const { status, headers, body } = errorResponse(error);
      return reply.code(status).headers(Object.fromEntries(headers)).send(body);
    });
  }
  if (options.closeStore) app.addHook('onClose', () => manager.close());

  const sessions: FastifySessions<SessionData> = {
    manager,
    requireSession: (guardOptions) => guard((context) => context.requireSession(guardOptions)),
    requireFresh: (maxAgeMs) => guard((context) => context.requireFresh(maxAgeMs)),
    csrf: (checkOptions) => {
      contexts.requireCsrf();
      return async (request) => {
        contextOf(request).verifyCsrf(request.body, checkOptions);
      };
    },
    // `reply` is the one the hook saw: the context writes its cookies there.
    login: async (request, _reply, input) => contextOf(request).login(input),
    logout: async (request) => contextOf(request).logout(),
    rotate: async (request, _reply, rotateOptions) => contextOf(request).rotate(rotateOptions),
    extend: async (request, _reply, extendOptions) => contextOf(request).extend(extendOptions),
    csrfToken: (request) => contextOf(request).csrfToken(),
  };
  // Through unknown: the manager's private state is invariant in the data type, which the app registered.
  app.decorate('sessions', sessions as unknown as FastifySessions<RegisteredData>);
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

export default fastifySessions;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `fastifyDpop`: the request's credential and its verified DPoP proof, if any. */
    dpop?: DpopAuthentication;
  }
}

export interface FastifyDpopOptions {
  /**
   * The origin clients call (`https://api.example.com`), which their proofs' `htu` names. Default:
   * `request.protocol` and `request.host`, as `trustProxy` sees them.
   */
  origin?: string;
  /** This route issues tokens: refusals are 400 with the OAuth error in the body (RFC 9449 section 5). */
  tokenEndpoint?: boolean;
}

/**
 * DPoP (RFC 9449) for API routes, as a `preHandler`: verifies the `DPoP` proof against the method,
 * the URL and the `Authorization: DPoP` token, and sets `request.dpop` (`{ scheme, token, proof }`).
 * A refused proof is answered as the RFC says (401 with `WWW-Authenticate: DPoP error=...`, 400 at a
 * token endpoint, `DPoP-Nonce` when nonces are on). Whether the token is bound to the proof's key
 * is checked where the token is looked up (`refresh.refresh(token, { dpop })`,
 * `assertSessionDpopBinding`, `assertDpopBinding(claims.cnf?.jkt, proof)`).
 *
 * @example
 * ```ts
 * app.get('/api/me', { preHandler: fastifyDpop(createDpopVerifier({ replay: store })) }, async (request) => {
 *   const { session } = await manager.validateToken(request.dpop?.token)
 * })
 * ```
 */
export function fastifyDpop(
  verifier: DpopVerifier,
  options: FastifyDpopOptions = {},
): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (request, reply) => {
    try {
      const origin = options.origin ?? `${request.protocol}://${request.host}`;
      request.dpop = await authenticateDpopRequest(verifier, {
        method: request.method,
        url: `${origin}${request.url}`,
        authorization: request.headers.authorization,
        // Distinct values: Node joins repeated headers with a comma, which would hide a second proof.
        dpop: request.raw.headersDistinct.dpop,
      });
    } catch (error) {
      if (!isSessionError(error)) throw error;
      const answer = dpopErrorResponse(error, verifier, { tokenEndpoint: options.tokenEndpoint });
      await reply.code(answer.status).headers(answer.headers).send(answer.body);
      return;
    }
    const nonce = verifier.currentNonce();
    if (nonce !== null) reply.header('dpop-nonce', nonce);
  };
}

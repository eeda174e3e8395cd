import { type CookieHeaderInput, getCookieValues } from './cookie.js';
import type { CsrfCheckOptions, CsrfProtection, CsrfVerdict, HeaderSource } from './csrf.js';
import { SessionError } from './errors.js';
import { assertSecureTransport } from './http.js';
import { type CreateSessionInput, type RotateOptions, runtimeOf, type SessionManager } from './manager.js';
import { cookieStrategy, type SessionStrategy, validateNow } from './strategy.js';
import type { RequestSignals, Session, SessionData } from './types.js';
import type { JwtSession, ValidationResult } from './validation.js';

/**
 * The request-level session flow every adapter needs, once, framework-neutral: validate the
 * request, hold its session, apply login/logout/rotate/extend and CSRF with today's rules, and
 * keep at most one `Set-Cookie` per managed cookie name per response (B5). Adapters translate
 * their request into {@link RequestContextInput} and write what {@link RequestContext.responseHeaders}
 * returns; they decide nothing.
 */

/** A request as core needs it; adapters fill it from their framework's request. */
export interface RequestContextInput {
  /** The raw `Cookie` header(s), never the framework's parsed cookies (they disagree on duplicates). */
  cookieHeader: CookieHeaderInput;
  /** The method as received, never an override header or field. */
  method: string;
  /** Request headers, for the CSRF origin signals and token header. */
  headers: HeaderSource;
  /**
   * Client address as the framework's proxy settings see it. Read only when needed (events, a
   * binding policy, login metadata): an adapter may define it as a getter (on a class: an object
   * literal with getters costs more to create than the getter saves).
   */
  ip?: string | null;
  /**
   * The `User-Agent` header, recorded as login metadata (and read by a binding policy). Default:
   * none (`null`). Read only when needed: an adapter may define it as a getter, as `ip`.
   */
  userAgent?: string | null;
  /** `http` or `https` as the framework's proxy settings see it (B9). */
  protocol: string;
  /**
   * The `Host` as the framework's proxy settings see it. Read only for plain http (an adapter
   * may define it, and `peerAddress`, as getters).
   */
  host: string | null | undefined;
  /**
   * The address of the connected peer, from the socket (`req.socket.remoteAddress`), never from a
   * header. Plain http in production mode needs it to be a loopback address: a `Host: localhost`
   * header alone proves nothing. Leave it out where the runtime cannot tell (see `trustLoopbackHost`).
   */
  peerAddress?: string | null;
}

export interface RequestContextOptions<D extends SessionData = SessionData> {
  /** The session manager that reads, issues and ends this request's session; required. */
  manager: SessionManager<D>;
  /** Needed by `csrfToken()` and `verifyCsrf()`. */
  csrf?: CsrfProtection | null;
  /**
   * Hybrid sessions (`createHybridSessions` on the same manager): validate from a session-JWT
   * cookie, asking the store only when it is missing, expired or on strict checks. Without it,
   * every request's session cookie is checked against the store.
   */
  hybrid?: SessionStrategy<D> | null;
  /**
   * Production mode over plain http is allowed only when the peer's socket address and the `Host`
   * are both loopback. `true` lets a loopback `Host` alone do, for runtimes that give no peer
   * address (some local dev servers); anyone can send `Host: localhost`, so never set it where the
   * server is reachable from another machine. Default false.
   */
  trustLoopbackHost?: boolean;
}

/** Input of {@link RequestContext.login}: who authenticated; the request supplies IP and user agent. */
export type RequestLoginInput<D extends SessionData = SessionData> = Omit<CreateSessionInput<D>, 'replaces'>;

export interface RequireSessionOptions {
  /**
   * Hybrid mode: confirm a session that came from the JWT cookie with the store first, so a
   * revoked session is refused at once (sensitive routes). Default false: a session JWT then
   * outlives a revocation by at most its TTL. No effect with cookie sessions, which always ask the
   * store. (`requireFresh` is always strict.)
   */
  strict?: boolean;
}

/** What an adapter writes to the response after a context operation. */
export interface ResponseHeaderUpdate {
  /** The whole `Set-Cookie` list, replacing the response's: cookies the app set itself first, then ours. */
  setCookie: string[];
  /** `no-store` when the response carries one of our cookies or a CSRF token (B8). */
  cacheControl: 'no-store' | null;
}

/** A response's current `Set-Cookie` value as frameworks report it. */
export type SetCookieHeaderValue = string | number | readonly string[] | null | undefined;

/** Created once per app by {@link createRequestContexts}; opens one context per request. */
export interface RequestContexts<D extends SessionData = SessionData> {
  readonly manager: SessionManager<D>;
  readonly csrf: CsrfProtection | null;
  /** How requests carry their session (cookie or hybrid), chosen once for every context. */
  readonly strategy: SessionStrategy<D>;
  /**
   * Checks the transport (500 `INSECURE_TRANSPORT` in production mode over plain http, unless
   * both the peer address and the `Host` are loopback) and validates the request's cookies. Never rejects for client input.
   * `onChange` runs after every later change of the session or the cookies (login, logout,
   * rotate, extend, csrfToken, a strict check), so an adapter mirrors the context in one place.
   */
  open(input: RequestContextInput, onChange?: (context: RequestContext<D>) => void): Promise<RequestContext<D>>;
  /**
   * As {@link open}, without a promise when nothing has to wait (a store that reads synchronously,
   * such as the memory store, or a hybrid session JWT already verified): a context, or a promise of
   * one. The transport check throws `INSECURE_TRANSPORT` synchronously. For adapters on the hot path.
   */
  openNow(
    input: RequestContextInput,
    onChange?: (context: RequestContext<D>) => void,
  ): RequestContext<D> | Promise<RequestContext<D>>;
  /** The CSRF protection, or `CONFIG_INVALID` when none was configured (fail at route definition). */
  requireCsrf(): CsrfProtection;
}

/**
 * Prepares request contexts for one app: checks the configuration once, then `open` runs per request.
 *
 * @example
 * ```ts
 * const contexts = createRequestContexts({ manager, csrf: createCsrfProtection({ key, allowedOrigins, manager }) })
 * const context = await contexts.open({
 *   cookieHeader: request.headers.get('cookie'), method: request.method, headers: request.headers,
 *   ip, userAgent: request.headers.get('user-agent'), protocol: url.protocol, host: url.host, peerAddress,
 * })
 * if (request.method === 'POST') context.verifyCsrf(form)
 * await context.login({ userId: user.id })
 * const update = context.responseHeaders(null)
 * for (const cookie of update?.setCookie ?? []) response.headers.append('set-cookie', cookie)
 * ```
 */
export function createRequestContexts<D extends SessionData = SessionData>(
  options: RequestContextOptions<D>,
): RequestContexts<D> {
  const { manager } = options;
  if (!manager) throw new SessionError('CONFIG_INVALID', 'A session manager is required');
  const mode = runtimeOf(manager).cookie.mode;
  const csrf = options.csrf ?? null;
  if (options.hybrid && options.hybrid.manager !== manager) {
    throw new SessionError('CONFIG_INVALID', 'The hybrid sessions must use the same session manager');
  }
  const strategy = options.hybrid ?? cookieStrategy(manager);
  const setup = { manager, csrf, strategy };
  const transport = { trustLoopbackHost: options.trustLoopbackHost === true };
  const openNow = (
    input: RequestContextInput,
    onChange?: (context: RequestContext<D>) => void,
  ): RequestContext<D> | Promise<RequestContext<D>> => {
    assertSecureTransport(input, mode, transport);
    const signals = new RequestInputSignals(input);
    const result = validateNow(strategy, input.cookieHeader, signals);
    if (result instanceof Promise) {
      return result.then((validated) => new RequestContext(setup, input, signals, validated, onChange));
    }
    return new RequestContext(setup, input, signals, result, onChange);
  };
  return {
    manager,
    csrf,
    strategy,
    async open(input, onChange) {
      return openNow(input, onChange);
    },
    openNow,
    requireCsrf: () => requireCsrf(csrf),
  };
}

/**
 * One request's session state: the validation result, the current session, and the cookies this
 * response must carry. Open it with {@link RequestContexts.open}.
 */
export class RequestContext<D extends SessionData = SessionData> {
  private current: Session<D> | JwtSession<D> | null;
  private validation: ValidationResult<D>;
  /** Set-Cookie values of this response by name (null: dropped again); created on first use. */
  private cookies: Map<string, string | null> | null = null;
  private changed = false;
  private tokenIssued = false;
  /** A pre-session started earlier in this response, so that two CSRF tokens agree. */
  private preSessionId: string | null = null;

  /** @internal Use {@link RequestContexts.open}. */
  constructor(
    private readonly setup: {
      manager: SessionManager<D>;
      csrf: CsrfProtection | null;
      strategy: SessionStrategy<D>;
    },
    readonly input: RequestContextInput,
    private readonly signals: RequestSignals,
    result: ValidationResult<D>,
    private readonly onChange?: (context: RequestContext<D>) => void,
  ) {
    this.validation = result;
    this.current = result.session;
    if (result.cookies.length > 0) this.addCookies(result.cookies);
  }

  /**
   * The session, or null (absent, invalid, expired, logged out, or the store is down). A session
   * that rests on a session-JWT cookie alone (hybrid mode) is a {@link JwtSession}: `source: 'jwt'`.
   */
  get session(): Session<D> | JwtSession<D> | null {
    return this.current;
  }

  /** The validation outcome behind the session (status, error); a strict check replaces it. */
  get result(): ValidationResult<D> {
    return this.validation;
  }

  /**
   * The session, or the coded error a guard answers with (401 `UNAUTHENTICATED`,
   * `SESSION_EXPIRED`, ..., 503 `STORE_UNAVAILABLE`). `strict` (default false) confirms a
   * JWT-cookie session with the store.
   */
  async requireSession(options: RequireSessionOptions = {}): Promise<Session<D> | JwtSession<D>> {
    if (options.strict && isJwtSession(this.current)) await this.confirmWithStore();
    if (this.current) return this.current;
    throw this.validation.error ?? new SessionError('UNAUTHENTICATED');
  }

  /**
   * As {@link requireSession} with `strict: true`, plus 401 `REAUTH_REQUIRED` unless the user
   * authenticated within `maxAgeMs`. Always strict: freshness guards sensitive actions, so a
   * JWT-cookie session is confirmed with the store first.
   */
  async requireFresh(maxAgeMs: number): Promise<Session<D> | JwtSession<D>> {
    const session = await this.requireSession({ strict: true });
    return this.setup.manager.requireFresh(session, maxAgeMs);
  }

  /**
   * Always a new session: revokes the one the request carried (fixation), and ends the CSRF
   * pre-session, including one started earlier in this response (D3).
   */
  async login(input: RequestLoginInput<D>): Promise<Session<D>> {
    const { csrf, strategy } = this.setup;
    const create: CreateSessionInput<D> = {
      ...input,
      metadata: { ip: this.signals.ip ?? null, userAgent: this.signals.userAgent ?? null, ...input.metadata },
      replaces: this.current?.id ?? null,
    };
    const issued = await strategy.create(create);
    this.current = issued.session;
    if (csrf) this.dropCookie(csrf.preSessionCookieName);
    this.addCookies(csrf ? [...issued.cookies, ...csrf.endPreSession(this.input.cookieHeader)] : issued.cookies);
    this.onChange?.(this);
    return issued.session;
  }

  /**
   * Revokes the session server-side, then deletes the cookie(s), but only when a session or a
   * session cookie was there. During a store outage it throws the store's error: claiming a
   * logout the store could not confirm would be a lie.
   */
  async logout(): Promise<void> {
    const { strategy } = this.setup;
    if (!this.current && this.validation.status === 'unavailable') throw this.validation.error;
    const deletions = await strategy.logout(this.current?.id);
    const header = this.input.cookieHeader;
    const held = strategy.cookieNames.some((name) => getCookieValues(header, name, 1).length > 0);
    if (this.current || held) this.addCookies(deletions);
    this.current = null;
    this.onChange?.(this);
  }

  /** New token for the same session (privilege change; `reauthenticated: true` after a password prompt). */
  async rotate(options?: RotateOptions<D>): Promise<Session<D>> {
    const session = await this.requireSession({ strict: true });
    const issued = await this.setup.strategy.rotate(session, options);
    this.current = issued.session;
    this.addCookies(issued.cookies);
    this.onChange?.(this);
    return issued.session;
  }

  /** Pushes the idle deadline out (never past the absolute one). */
  async extend(options?: { byMs?: number }): Promise<Session<D>> {
    const session = await this.requireSession({ strict: true });
    this.current = await this.setup.manager.extend(session, options);
    this.onChange?.(this);
    return this.current;
  }

  /**
   * A CSRF token for forms and `x-csrf-token`: session-bound, or bound to a pre-session cookie
   * before login (started once per response). The response becomes `no-store`.
   */
  csrfToken(): string {
    const issued = requireCsrf(this.setup.csrf).token({
      // Bound to the session's CSRF id (a hybrid JWT cookie carries it too), so rotation keeps it.
      session: this.current,
      cookieHeader: this.input.cookieHeader,
      preSessionId: this.preSessionId,
    });
    this.preSessionId = issued.preSessionId;
    // A page carrying a token is per user: never cache it.
    this.tokenIssued = true;
    this.changed = true;
    if (issued.cookies.length > 0) this.addCookies(issued.cookies);
    this.onChange?.(this);
    return issued.token;
  }

  /**
   * The CSRF checks for this request (403 `CSRF_REJECTED`, 415 `CONTENT_TYPE_REJECTED`, or 503
   * when the store could not say whether the session lives). `body` is the parsed form or JSON
   * body, if any; its token field is read from it.
   */
  verifyCsrf(body?: unknown, options?: CsrfCheckOptions): CsrfVerdict {
    const protection = requireCsrf(this.setup.csrf);
    return protection.verify(
      {
        method: this.input.method,
        headers: this.input.headers,
        cookieHeader: this.input.cookieHeader,
        session: this.current,
        sessionUnavailable: this.validation.status === 'unavailable',
        formToken: typeof body === 'object' && body !== null ? Reflect.get(body, protection.fieldName) : undefined,
        ip: this.signals.ip,
      },
      options,
    );
  }

  /**
   * Merges this context's cookies into the response's current `Set-Cookie` value: cookies the app
   * set itself are kept, ours appear once per name. Null when nothing changed since the last call,
   * so adapters call it after every operation and write only what it returns.
   */
  responseHeaders(existing: SetCookieHeaderValue): ResponseHeaderUpdate | null {
    if (!this.changed) return null;
    this.changed = false;
    const managed = this.cookies ?? new Map<string, string | null>();
    const list =
      existing === null || existing === undefined ? [] : typeof existing === 'object' ? existing : [String(existing)];
    const setCookie = list.filter((cookie) => !managed.has(cookieName(cookie)));
    let ours = 0;
    for (const cookie of managed.values()) {
      if (cookie === null) continue;
      setCookie.push(cookie);
      ours++;
    }
    return { setCookie, cacheControl: ours > 0 || this.tokenIssued ? 'no-store' : null };
  }

  /** Replaces a JWT-cookie session with the store's answer (hybrid strict mode). */
  private async confirmWithStore(): Promise<void> {
    const result = await this.setup.strategy.validate(this.input.cookieHeader, this.signals, { strict: true });
    this.validation = result;
    this.current = result.session;
    if (result.cookies.length > 0) this.addCookies(result.cookies);
    this.onChange?.(this);
  }

  private addCookies(cookies: readonly string[]): void {
    this.cookies ??= new Map();
    for (const cookie of cookies) this.cookies.set(cookieName(cookie), cookie);
    this.changed = true;
  }

  private dropCookie(name: string): void {
    this.cookies ??= new Map();
    this.cookies.set(name, null);
    this.changed = true;
  }
}

/**
 * The request's client signals, the address and user agent read only when something asks for them
 * (an event, a binding policy, a login): frameworks' proxy-aware getters and header lookups cost
 * more than a session read. A class with prototype getters: an object literal with a getter costs
 * ~1.5 us to create on V8.
 */
class RequestInputSignals implements RequestSignals {
  constructor(private readonly input: RequestContextInput) {}
  get ip(): string | null {
    return this.input.ip ?? null;
  }
  get userAgent(): string | null {
    return this.input.userAgent ?? null;
  }
}

function isJwtSession<D extends SessionData>(session: Session<D> | JwtSession<D> | null): session is JwtSession<D> {
  return session !== null && 'source' in session && session.source === 'jwt';
}

function requireCsrf(csrf: CsrfProtection | null): CsrfProtection {
  if (!csrf) throw new SessionError('CONFIG_INVALID', 'Pass the csrf option to the session adapter');
  return csrf;
}

function cookieName(setCookie: string): string {
  const eq = setCookie.indexOf('=');
  return (eq === -1 ? setCookie : setCookie.slice(0, eq)).trim();
}

import {
  errorResponse,
  type RegisteredData,
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
  type ResponseHeaderUpdate,
  readBearerToken,
} from '@org/session-core/adapter';
import { createCsrfProtection } from '@org/session-core/csrf';
// `.js` specifiers: next has no exports map, and Node's ESM loader needs the file name (bundlers take either).
import { cookies, headers } from 'next/headers.js';
import { NextResponse } from 'next/server.js';
import { safeNextPath } from './next-path.js';
import { PROXY_VERDICT_HEADER, proxyVerdicts } from './proxy-verdict.js';
import type { NextSessions, NextSessionsOptions } from './types.js';

/**
 * Core's, re-exported. Declare your session data type once, for every adapter, and `getSession()`
 * is typed everywhere: `declare module '@org/session-core' { interface Register { data: AppData } }`.
 */
export type { Register, RegisteredData } from '@org/session-core';
export { type NextDbsc, nextDbsc } from './dbsc.js';
export { type DpopRouteHandler, type NextDpopOptions, nextDpop } from './dpop.js';
export { safeNextPath } from './next-path.js';
export type {
  ApiAuth,
  ApiOptions,
  NextSessions,
  NextSessionsOptions,
  ProxyOptions,
  RouteHandler,
  RouteOptions,
  WrappedRouteHandler,
} from './types.js';

interface Entry<D extends SessionData> {
  context: Promise<RequestContext<D>>;
  /** Route handlers write core's cookies onto their Response; actions go through `cookies()`. */
  viaResponse: boolean;
}

/**
 * Next.js 16 (App Router) adapter: hands core the raw `Cookie` header, method, headers, scheme and
 * host, and writes core's cookies where Next lets a response carry them. Every decision is core's.
 *
 * Pages (server components) cannot set cookies. So cookie changes are made where they can be
 * written: the proxy renews on every page request it matches, route handlers and server actions
 * write through their response. Core's cookie lifetime never depends on the idle deadline (none,
 * or Max-Age = the absolute one), so a renewal a page could not send is never a lost session.
 *
 * @example
 * ```ts
 * // lib/auth.ts
 * export const auth = nextSessions(manager, { csrf: { key, allowedOrigins: ['https://app.example.com'] } })
 * // proxy.ts
 * export const proxy = auth.proxy({ protect: ['/account'] })
 * // app/account/page.tsx
 * const session = await auth.getSession()
 * ```
 */
export function nextSessions<D extends SessionData = RegisteredData>(
  manager: SessionManager<D>,
  options: NextSessionsOptions<D> = {},
): NextSessions<D> {
  const csrf = options.csrf ? createCsrfProtection({ ...options.csrf, manager }) : null;
  const contexts = createRequestContexts({
    manager,
    csrf,
    hybrid: options.hybrid,
    trustLoopbackHost: options.trustLoopbackHost,
  });
  // The proxy's verdict, handed to the page or route handler of the same request (proxy-verdict.ts):
  // a second set of contexts whose strategy answers the first validation with that verdict, once,
  // and asks the real strategy for everything else (a strict check, login, rotate, logout).
  const strategy = contexts.strategy;
  let handed: ValidationResult<D> | null = null;
  const handoff = createRequestContexts({
    manager,
    csrf,
    hybrid: {
      manager,
      cookieNames: strategy.cookieNames,
      validate(cookieHeader, signals, validateOptions) {
        const verdict = handed;
        handed = null;
        return verdict ? Promise.resolve(verdict) : strategy.validate(cookieHeader, signals, validateOptions);
      },
      create: (input) => strategy.create(input),
      rotate: (session, rotateOptions) => strategy.rotate(session, rotateOptions),
      logout: (sessionId) => strategy.logout(sessionId),
      deletionCookies: () => strategy.deletionCookies(),
    },
    trustLoopbackHost: options.trustLoopbackHost,
  });
  const verdictScope = strategy.cookieNames.join(' ');
  /** Opens the request's context, from the proxy's verdict when this request carries a genuine one. */
  const open = (input: RequestContextInput, source: Headers): Promise<RequestContext<D>> => {
    const id = source.get(PROXY_VERDICT_HEADER);
    const verdict = id ? proxyVerdicts.take<D>(id, input.cookieHeader as string | null, verdictScope) : null;
    if (!verdict) return contexts.open(input);
    handed = verdict;
    try {
      // Validation runs synchronously inside open, so no other request can see `handed`.
      return handoff.open(input);
    } finally {
      handed = null;
    }
  };
  // One context per request, keyed by Next's per-request headers object.
  const entries = new WeakMap<object, Entry<D>>();

  const inputOf = (source: Headers, method: string): RequestContextInput => {
    const forwarded = (name: string) => (options.trustProxy ? source.get(name)?.split(',')[0]?.trim() || null : null);
    return {
      cookieHeader: source.get('cookie'),
      method,
      headers: source,
      ip: forwarded('x-forwarded-for'),
      userAgent: source.get('user-agent'),
      protocol: forwarded('x-forwarded-proto') ?? 'http',
      host: source.get('host'),
    };
  };

  /** Writes the context's cookies through `cookies()` (server actions); a page render cannot, see above. */
  const flush = async (entry: Entry<D>) => {
    if (entry.viaResponse) return;
    const update = (await entry.context).responseHeaders(null);
    if (!update || update.setCookie.length === 0) return;
    const jar = await cookies();
    try {
      for (const line of update.setCookie) {
        const { name, value, attributes } = parseSetCookie(line);
        jar.set(name, value, attributes);
      }
    } catch {
      // A server component: Next refuses cookie writes during render. See the note on nextSessions.
    }
  };
  const entry = async (): Promise<Entry<D>> => {
    const source = await headers();
    let found = entries.get(source);
    if (!found) {
      // Only a server action (or a form post to one) carries a body here; a render is a GET.
      const unsafe = source.has('next-action') || source.has('content-type');
      found = {
        context: open(inputOf(source as unknown as Headers, unsafe ? 'POST' : 'GET'), source as unknown as Headers),
        viaResponse: false,
      };
      entries.set(source, found);
      // A renewal or a dead cookie's deletion goes out where the response can carry it.
      await flush(found);
    }
    return found;
  };
  const current = async (): Promise<RequestContext<D>> => (await entry()).context;
  /** Runs a change on the request's context, then writes its cookies (server actions). */
  const change = async <T>(run: (context: RequestContext<D>) => T | Promise<T>): Promise<T> => {
    const found = await entry();
    const result = await run(await found.context);
    await flush(found);
    return result;
  };

  const withResponseCookies = (context: RequestContext<D>, response: Response, guarded: boolean): Response =>
    writeUpdate(response, context.responseHeaders(response.headers.getSetCookie()), guarded);

  const fail = (error: unknown): Response => {
    const { status, headers: errorHeaders, body } = errorResponse(error);
    return new Response(JSON.stringify(body), { status, headers: errorHeaders });
  };

  const openFor = async (request: Request): Promise<RequestContext<D>> => {
    const context = await open(inputOf(request.headers, request.method), request.headers);
    // Helpers called inside the handler (login, getSession, ...) find this context.
    entries.set(await headers(), { context: Promise.resolve(context), viaResponse: true });
    return context;
  };

  return {
    manager,
    getSession: async () => (await current()).session,
    getSessionResult: async () => (await current()).result,
    requireSession: async (guard) => (await current()).requireSession(guard),
    requireFresh: async (maxAgeMs) => (await current()).requireFresh(maxAgeMs),
    csrfToken: () => change((context) => context.csrfToken()),
    async verifyCsrf(form, checkOptions) {
      contexts.requireCsrf();
      const context = await current();
      // Reached only from server actions, which are POSTs; a GET-shaped context would pass as a safe method.
      if (context.input.method === 'GET') throw new SessionError('CSRF_REJECTED');
      const body = form instanceof FormData ? Object.fromEntries(form) : (form ?? undefined);
      context.verifyCsrf(body, checkOptions);
    },
    login: (input) => change((context) => context.login(input)),
    logout: () => change((context) => context.logout()),
    rotate: (rotateOptions) => change((context) => context.rotate(rotateOptions)),
    extend: (extendOptions) => change((context) => context.extend(extendOptions)),

    route(handler, routeOptions = {}) {
      if (routeOptions.csrf) contexts.requireCsrf();
      const guarded = Boolean(routeOptions.session || routeOptions.freshWithinMs !== undefined);
      return async (request, routeContext) => {
        let context: RequestContext<D>;
        try {
          context = await openFor(request);
        } catch (error) {
          return fail(error);
        }
        let response: Response;
        try {
          if (routeOptions.freshWithinMs !== undefined) await context.requireFresh(routeOptions.freshWithinMs);
          else if (routeOptions.session) {
            await context.requireSession(routeOptions.session === true ? {} : routeOptions.session);
          }
          if (routeOptions.csrf) {
            const checks = routeOptions.csrf === true ? undefined : routeOptions.csrf;
            context.verifyCsrf(await readBody(request), checks);
          }
          response = await handler(request, routeContext);
        } catch (error) {
          return withResponseCookies(context, fail(error), false);
        }
        return withResponseCookies(context, response, guarded);
      };
    },

    api(handler, apiOptions = {}) {
      return async (request, routeContext) => {
        try {
          const bearer = readBearerToken(request.headers.get('authorization'));
          if (bearer === null) {
            const context = await openFor(request);
            const session = (await context.requireSession({ strict: true })) as Session<D>;
            return withResponseCookies(
              context,
              await handler(request, { via: 'cookie', session, claims: null }, routeContext),
              true,
            );
          }
          const signals = { ip: null, userAgent: request.headers.get('user-agent') };
          // A session JWT has three dot-separated parts; a session token has two.
          if (bearer.split('.').length === 3) {
            if (!apiOptions.jwt) throw new SessionError('JWT_INVALID');
            const claims = await apiOptions.jwt.verify(bearer);
            return noStore(await handler(request, { via: 'jwt', session: null, claims }, routeContext));
          }
          const result = await manager.validateToken(bearer, signals);
          const session = manager.requireSession(result);
          return noStore(await handler(request, { via: 'token', session, claims: null }, routeContext));
        } catch (error) {
          return fail(error);
        }
      };
    },

    proxy(proxyOptions) {
      const loginPath = proxyOptions.loginPath ?? '/login';
      const protect = proxyOptions.protect;
      const isProtected =
        typeof protect === 'function'
          ? protect
          : (path: string) => protect.some((p) => path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`));
      const prePaths = new Set(proxyOptions.preSessionPaths ?? []);
      return async (request) => {
        let context: RequestContext<D>;
        try {
          context = await contexts.open(inputOf(request.headers, request.method));
        } catch (error) {
          return fail(error);
        }
        const path = request.nextUrl.pathname;
        if (isProtected(path) && !context.session) {
          if (context.result.status === 'unavailable')
            return withResponseCookies(context, fail(context.result.error), false);
          const target = new URL(loginPath, request.nextUrl);
          target.search = '';
          target.searchParams.set('next', safeNextPath(`${path}${request.nextUrl.search}`));
          return withResponseCookies(context, NextResponse.redirect(target, 303), false);
        }
        if (prePaths.has(path) && !context.session && csrf) context.csrfToken();
        // Read once (it reports changes since the last call): the page's request may need the cookie too.
        const update = context.responseHeaders(null);
        const started = update?.setCookie.find((line) => csrf && line.startsWith(`${csrf.preSessionCookieName}=`));
        const live = context.result.status === 'valid';
        if (!live && !started && !request.headers.has(PROXY_VERDICT_HEADER)) {
          // Nothing to hand on: the request goes on unchanged. Overriding its headers would make
          // Next copy every one of them into the response and back (x-middleware-request-*).
          return writeUpdate(NextResponse.next(), update, isProtected(path));
        }
        const forwarded = new Headers(request.headers);
        // Only this proxy may hand a verdict on: a client's copy of the header is dropped.
        forwarded.delete(PROXY_VERDICT_HEADER);
        if (started) {
          // The page renders from this request and cannot set the cookie itself: it must see the new pre-session.
          const pair = started.slice(0, started.indexOf(';'));
          const existing = forwarded.get('cookie');
          forwarded.set('cookie', existing ? `${existing}; ${pair}` : pair);
        }
        // The page or route handler behind this proxy takes this verdict instead of asking the store
        // again. Its cookies stay with this response (the renewal is sent from here, as before).
        // Only a live session is handed on: a handler meets any other outcome (an outage, a cookie
        // this proxy's store does not know) with its own validation.
        if (live) {
          const verdict = { ...context.result, cookies: [] };
          forwarded.set(PROXY_VERDICT_HEADER, proxyVerdicts.put(verdict, forwarded.get('cookie'), verdictScope));
        }
        const response = NextResponse.next({ request: { headers: forwarded } });
        return writeUpdate(response, update, isProtected(path));
      };
    },
  };
}

/** Replaces the response's Set-Cookie list with core's (app cookies first, ours once per name). */
function writeUpdate(response: Response, update: ResponseHeaderUpdate | null, guarded: boolean): Response {
  if (update) {
    response.headers.delete('set-cookie');
    for (const line of update.setCookie) response.headers.append('set-cookie', line);
    if (update.cacheControl) response.headers.set('cache-control', update.cacheControl);
  }
  if (guarded) response.headers.set('cache-control', 'no-store');
  return response;
}

function noStore(response: Response): Response {
  response.headers.set('cache-control', 'no-store');
  return response;
}

/** The form or JSON body for the CSRF token field, read from a clone so the handler can read it again. */
async function readBody(request: Request): Promise<unknown> {
  const type = request.headers.get('content-type')?.toLowerCase() ?? '';
  try {
    if (type.startsWith('application/x-www-form-urlencoded') || type.startsWith('multipart/form-data')) {
      return Object.fromEntries(await request.clone().formData());
    }
    if (type.startsWith('application/json')) return await request.clone().json();
  } catch {
    return undefined;
  }
  return undefined;
}

interface CookieWrite {
  name: string;
  value: string;
  attributes: {
    path?: string;
    domain?: string;
    maxAge?: number;
    expires?: Date;
    secure?: boolean;
    httpOnly?: boolean;
    sameSite?: 'lax' | 'strict' | 'none';
    partitioned?: boolean;
  };
}

/** Core's own Set-Cookie lines, taken apart for Next's `cookies().set` (server actions). */
function parseSetCookie(line: string): CookieWrite {
  const [pair = '', ...parts] = line.split('; ');
  const eq = pair.indexOf('=');
  const write: CookieWrite = { name: pair.slice(0, eq), value: pair.slice(eq + 1), attributes: {} };
  for (const part of parts) {
    const split = part.indexOf('=');
    const key = (split === -1 ? part : part.slice(0, split)).toLowerCase();
    const value = split === -1 ? '' : part.slice(split + 1);
    if (key === 'path') write.attributes.path = value;
    else if (key === 'domain') write.attributes.domain = value;
    else if (key === 'max-age') write.attributes.maxAge = Number(value);
    else if (key === 'expires') write.attributes.expires = new Date(value);
    else if (key === 'secure') write.attributes.secure = true;
    else if (key === 'httponly') write.attributes.httpOnly = true;
    else if (key === 'partitioned') write.attributes.partitioned = true;
    // Next prints SameSite as given: core's spelling (`Lax`) is kept.
    else if (key === 'samesite') write.attributes.sameSite = value as 'lax' | 'strict' | 'none';
  }
  return write;
}

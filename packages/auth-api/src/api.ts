import { type Clock, errorResponse, type Session, type SessionData, SessionError } from '@org/session-core';
import type { SessionAuthority } from '@org/session-core/jwt';
import { type ApiCaller, CallerRegistry, DEFAULT_RATE_LIMIT, type RateLimit } from './callers.js';

export interface SessionApiOptions<D extends SessionData, C extends object> {
  /** The session functions the API serves (`createSessionAuthority` from `@org/session-core/jwt`). */
  authority: SessionAuthority<D, C>;
  /** The services allowed to call, each with the hash of its API key. */
  callers: readonly ApiCaller[];
  /** Default token bucket per caller (200 at once, 100 per second). */
  rateLimit?: RateLimit;
  /** Where the API is mounted in the URL space, e.g. `/auth` (default: the root). */
  basePath?: string;
  /**
   * What of `session.data` a caller may see, per session; default nothing. Session data can hold
   * server-only values: expose fields deliberately.
   */
  exposeData?: (session: Session<D>) => Record<string, unknown>;
  /** For the rate limiter; default the system clock. */
  clock?: Clock;
  /** Audit hook: one call per answered request, with the caller (if known), the route and the status. Never a token. */
  onRequest?: (entry: { caller: string | null; route: string; status: number; code: string | null }) => void;
}

/** The API as a Web handler: Hono, Next.js route handlers, Bun, Deno and Workers use it as is. */
export interface SessionApi {
  fetch(request: Request): Promise<Response>;
}

/** Largest request body read, in bytes: a JWT and a few fields. */
export const MAX_BODY_BYTES = 16 * 1024;

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

/**
 * The central auth service's session API, for services in any language:
 *
 * - `POST /sessions/authenticate` `{ session_token | session_jwt, session_duration_minutes? }`:
 *   the live session and a fresh session JWT; a JWT that expired within the authority's exchange
 *   window is accepted while its session lives;
 * - `POST /sessions/revoke` `{ session_id | session_token | session_jwt }`;
 * - `GET /sessions?user_id=`: the user's live sessions (no secrets);
 * - `GET /.well-known/jwks.json`: the public keys (no caller authentication).
 *
 * Callers authenticate with `Authorization: Basic base64(caller_id:api_key)`; keys are stored as
 * hashes and compared in constant time; each caller has a token bucket (429 with `Retry-After`).
 * Errors are core's `errorResponse` bodies with stable codes; tokens are never logged or echoed.
 *
 * @example
 * ```ts
 * const api = createSessionApi({ authority, callers: [{ id: 'orders', keyHash: await hashApiKey(key) }] })
 * app.all('/auth/*', (c) => api.fetch(c.req.raw)) // Hono; with basePath: '/auth'
 * ```
 */
export function createSessionApi<D extends SessionData, C extends object>(
  options: SessionApiOptions<D, C>,
): SessionApi {
  if (!options?.authority || typeof options.authority.authenticate !== 'function') {
    throw new SessionError('CONFIG_INVALID', 'An authority from createSessionAuthority is required');
  }
  const authority = options.authority;
  const clock = options.clock ?? { now: () => Date.now() };
  const callers = new CallerRegistry(options.callers, options.rateLimit ?? DEFAULT_RATE_LIMIT, clock);
  const base = normaliseBase(options.basePath);
  const exposeData = options.exposeData;
  const onRequest = options.onRequest;

  const view = (session: Session<D>) => ({
    session_id: session.id,
    user_id: session.userId,
    created_at: iso(session.createdAt),
    last_seen_at: iso(session.lastSeenAt),
    authenticated_at: iso(session.authenticatedAt),
    idle_expires_at: session.idleExpiresAt === null ? null : iso(session.idleExpiresAt),
    absolute_expires_at: iso(session.absoluteExpiresAt),
    expires_at: iso(
      session.idleExpiresAt === null
        ? session.absoluteExpiresAt
        : Math.min(session.idleExpiresAt, session.absoluteExpiresAt),
    ),
    persistent: session.persistent,
    metadata: {
      user_agent: session.metadata.userAgent ?? null,
      ip: session.metadata.ip ?? null,
      label: session.metadata.label ?? null,
    },
    ...(exposeData ? { data: exposeData(session) } : {}),
  });

  const routes: Record<string, { method: string; run: (request: Request, url: URL) => Promise<unknown> }> = {
    '/sessions/authenticate': {
      method: 'POST',
      async run(request) {
        const body = await readJson(request);
        const minutes = body.session_duration_minutes;
        if (minutes !== undefined && typeof minutes !== 'number') throw inputError('session_duration_minutes');
        const answer = await authority.authenticate(
          { sessionToken: stringField(body, 'session_token'), sessionJwt: stringField(body, 'session_jwt') },
          {
            extendMinutes: minutes as number | undefined,
            signals: { userAgent: stringField(body, 'user_agent'), ip: stringField(body, 'ip') },
          },
        );
        return {
          session: view(answer.session),
          session_jwt: answer.jwt?.token ?? null,
          session_jwt_expires_at: answer.jwt ? iso(answer.jwt.expiresAt) : null,
        };
      },
    },
    '/sessions/revoke': {
      method: 'POST',
      async run(request) {
        const body = await readJson(request);
        const revoked = await authority.revoke({
          sessionId: stringField(body, 'session_id'),
          sessionToken: stringField(body, 'session_token'),
          sessionJwt: stringField(body, 'session_jwt'),
        });
        return { revoked };
      },
    },
    '/sessions': {
      method: 'GET',
      async run(_request, url) {
        const userId = url.searchParams.get('user_id');
        if (userId === null || userId.length === 0) throw inputError('user_id');
        return { sessions: (await authority.list(userId)).map(view) };
      },
    },
  };

  return {
    async fetch(request: Request): Promise<Response> {
      const url = new URL(request.url);
      const path = relativePath(url.pathname, base);
      if (path === '/.well-known/jwks.json') {
        if (request.method !== 'GET' && request.method !== 'HEAD') {
          return audit(methodNotAllowed('GET, HEAD'), null, path);
        }
        const jwks = new Response(request.method === 'HEAD' ? null : JSON.stringify(authority.jwt.jwks()), {
          headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'public, max-age=300' },
        });
        return audit(jwks, null, path);
      }
      const route = path === null ? undefined : routes[path];
      if (!route) return audit(plainError(404, 'NOT_FOUND', 'Not found'), null, path ?? url.pathname);
      let caller: string | null = null;
      try {
        caller = await callers.authenticate(request.headers.get('authorization'));
        const wait = callers.take(caller);
        if (wait > 0) {
          const response = failure(new SessionError('RATE_LIMITED'));
          response.headers.set('retry-after', String(wait));
          return audit(response, caller, path as string);
        }
        if (request.method !== route.method) return audit(methodNotAllowed(route.method), caller, path as string);
        const body = await route.run(request, url);
        return audit(new Response(JSON.stringify(body), { headers: JSON_HEADERS }), caller, path as string);
      } catch (error) {
        return audit(failure(error), caller, path as string);
      }
    },
  };

  function audit(response: Response, caller: string | null, route: string): Response {
    if (onRequest) {
      try {
        onRequest({ caller, route, status: response.status, code: response.headers.get('x-error-code') });
      } catch {
        // An audit hook never changes an answer.
      }
    }
    response.headers.delete('x-error-code');
    return response;
  }
}

/** Core's error body and status; a caller failure asks for Basic credentials instead of a session. */
function failure(error: unknown): Response {
  const { status, headers, body } = errorResponse(error);
  const response = new Response(JSON.stringify(body), { status, headers });
  if (body.error.code === 'CALLER_UNAUTHENTICATED') {
    response.headers.set('www-authenticate', 'Basic realm="session-api", charset="UTF-8"');
  }
  response.headers.set('x-error-code', body.error.code);
  return response;
}

function plainError(status: number, code: string, message: string, extra: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ error: { code, message } }), {
    status,
    headers: { ...JSON_HEADERS, ...extra, 'x-error-code': code },
  });
}

function methodNotAllowed(allow: string): Response {
  return plainError(405, 'METHOD_NOT_ALLOWED', 'Method not allowed', { allow });
}

function inputError(field: string): SessionError {
  return new SessionError('INPUT_INVALID', `The field ${field} is missing or of the wrong type`, { reason: field });
}

/** The JSON object of a request body: `application/json`, at most {@link MAX_BODY_BYTES}. */
async function readJson(request: Request): Promise<Record<string, unknown>> {
  const type = request.headers.get('content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) throw new SessionError('CONTENT_TYPE_REJECTED');
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > MAX_BODY_BYTES) throw inputError('body');
  const bytes = await readLimited(request);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw inputError('body');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw inputError('body');
  return parsed as Record<string, unknown>;
}

/** The body, read chunk by chunk and abandoned past {@link MAX_BODY_BYTES} (a chunked body declares no length). */
async function readLimited(request: Request): Promise<Uint8Array> {
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => {});
      throw inputError('body');
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

function stringField(body: Record<string, unknown>, name: string): string | undefined {
  if (!Object.hasOwn(body, name) || body[name] === null || body[name] === undefined) return undefined;
  const value = body[name];
  if (typeof value !== 'string' || value.length > 8192) throw inputError(name);
  return value;
}

function normaliseBase(basePath: string | undefined): string {
  if (basePath === undefined || basePath === '' || basePath === '/') return '';
  if (!/^\/[A-Za-z0-9._~/-]*[^/]$/.test(basePath)) {
    throw new SessionError('CONFIG_INVALID', 'basePath must start with "/" and not end with one, e.g. "/auth"');
  }
  return basePath;
}

/** The path below the mount point, or null outside it (`/auth` does not mount `/authx`). */
function relativePath(pathname: string, base: string): string | null {
  if (base === '') return pathname;
  if (pathname === base) return '/';
  return pathname.startsWith(`${base}/`) ? pathname.slice(base.length) : null;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

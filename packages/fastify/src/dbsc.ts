import { errorResponse, type RegisteredData, type Session, type SessionData, SessionError } from '@org/session-core';
import type { Dbsc, DbscAnswer, DbscState } from '@org/session-core/dbsc';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** A Fastify route handler of the DBSC endpoints. */
export type FastifyDbscHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>;
/** A Fastify `preHandler` hook: it answers the request itself (and returns the reply) when it refuses it. */
export type FastifyDbscGuard = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;

/** The Fastify side of DBSC (`@org/session-core/dbsc`): its endpoints and a guard. */
export interface FastifyDbsc {
  /** Adds `Secure-Session-Registration` to a reply that signed the user in (call after `app.sessions.login`). */
  offer(reply: FastifyReply, session: Pick<Session, 'id'>): void;
  /** The registration endpoint (`POST dbsc.registrationPath`): needs the session cookie. */
  register: FastifyDbscHandler;
  /** The refresh endpoint (`POST dbsc.refreshPath`): 403 with a challenge, then a new bound cookie. */
  refresh: FastifyDbscHandler;
  /**
   * A `preHandler` for sensitive routes, after `requireSession`: 401 `DBSC_BINDING_REQUIRED` when a
   * bound session comes without a fresh bound cookie (a copied session cookie), and with `'always'`
   * for sessions of browsers that never bound one.
   */
  requireBound(require?: 'if-bound' | 'always'): FastifyDbscGuard;
  /** Deletes the bound cookie (with `app.sessions.logout`). */
  clear(reply: FastifyReply): void;
  /** `fresh`, `stale` or `unbound` for the request's session (`unbound` without a session). */
  state(request: FastifyRequest): DbscState;
}

/**
 * Device Bound Session Credentials on Fastify, after the `fastifySessions` plugin: route
 * `register` and `refresh` at the DBSC paths, call `offer` after login, and guard sensitive
 * routes with `requireBound()`. Browsers without DBSC keep ordinary sessions unless a route says
 * `'always'`. Refusals are answered here with core's status and JSON body, whatever the app's
 * error handler.
 *
 * @example
 * ```ts
 * const dbsc = fastifyDbsc(createDbsc(manager, { secret: dbscKey }))
 * app.post('/dbsc/register', dbsc.register)
 * app.post('/dbsc/refresh', dbsc.refresh)
 * app.post('/login', async (request, reply) => {
 *   dbsc.offer(reply, await app.sessions.login(request, reply, { userId }))
 *   return { ok: true }
 * })
 * app.post('/transfer', { preHandler: [app.sessions.requireSession(), dbsc.requireBound()] }, transfer)
 * ```
 */
export function fastifyDbsc<D extends SessionData = RegisteredData>(dbsc: Dbsc<D>): FastifyDbsc {
  const fail = (error: unknown, reply: FastifyReply) => {
    const { status, headers, body } = errorResponse(error);
    return reply.code(status).headers(Object.fromEntries(headers)).send(body);
  };
  const answer = (reply: FastifyReply, result: DbscAnswer) => {
    reply.code(result.status).headers(result.headers);
    // reply.header appends Set-Cookie lines to those the session plugin set.
    for (const cookie of result.cookies) reply.header('set-cookie', cookie);
    return result.body ? reply.send(result.body) : reply.send();
  };
  // `request.session` is typed by the app's Register; the DBSC helper's own data type need not match.
  const sessionOf = (request: FastifyRequest) => request.session as unknown as Session<D> | null;
  const endpoint = (step: 'register' | 'refresh'): FastifyDbscHandler => {
    return async (request, reply) => {
      const session = sessionOf(request);
      if (!session) return fail(request.sessionResult?.error ?? new SessionError('UNAUTHENTICATED'), reply);
      const header = (name: string) => {
        const value = request.headers[name];
        return typeof value === 'string' ? value : null;
      };
      const input = {
        proof: header('secure-session-response'),
        sessionIdHeader: header('sec-secure-session-id'),
        ip: request.ip,
      };
      try {
        return answer(
          reply,
          step === 'register' ? await dbsc.register(session, input) : await dbsc.refresh(session, input),
        );
      } catch (error) {
        return fail(error, reply);
      }
    };
  };
  return {
    offer: (reply, session) => {
      reply.header('secure-session-registration', dbsc.registrationHeader(session));
    },
    register: endpoint('register'),
    refresh: endpoint('refresh'),
    requireBound: (require = 'if-bound') => {
      return async (request, reply) => {
        const session = sessionOf(request);
        if (!session) return fail(new SessionError('UNAUTHENTICATED'), reply);
        try {
          dbsc.assertBound(session, request.headers.cookie, require);
        } catch (error) {
          return fail(error, reply);
        }
        return undefined;
      };
    },
    clear: (reply) => {
      reply.header('set-cookie', dbsc.deletionCookie());
    },
    state: (request) => {
      const session = sessionOf(request);
      return session ? dbsc.state(session, request.headers.cookie) : 'unbound';
    },
  };
}

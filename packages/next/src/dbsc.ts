import { type RegisteredData, type Session, type SessionData, SessionError } from '@org/session-core';
import type { Dbsc, DbscAnswer, DbscState } from '@org/session-core/dbsc';
import { headers } from 'next/headers.js';
import type { NextSessions, WrappedRouteHandler } from './types.js';

/** The Next.js side of DBSC (`@org/session-core/dbsc`): its route handlers and a guard. */
export interface NextDbsc<D extends SessionData = RegisteredData> {
  /** Adds `Secure-Session-Registration` to the response of a route handler that signed the user in. */
  offer(response: Response, session: Pick<Session<D>, 'id'>): Response;
  /** The registration endpoint (`export const POST = dbsc.register` at `dbsc.registrationPath`): needs the session cookie. */
  register: WrappedRouteHandler<unknown>;
  /** The refresh endpoint (`export const POST = dbsc.refresh` at `dbsc.refreshPath`): 403 with a challenge, then a new bound cookie. */
  refresh: WrappedRouteHandler<unknown>;
  /**
   * The request's session if it may use a sensitive route, in a route handler made with
   * `auth.route` or a server action: throws `UNAUTHENTICATED` without a session and
   * `DBSC_BINDING_REQUIRED` when a bound session comes without a fresh bound cookie (a copied
   * session cookie), and with `'always'` for sessions of browsers that never bound one.
   */
  requireBound(require?: 'if-bound' | 'always'): Promise<Session<D>>;
  /** Adds the deletion of the bound cookie to a response (with `auth.logout()`). */
  clear(response: Response): Response;
  /** `fresh`, `stale` or `unbound` for the request's session (`unbound` without a session). */
  state(): Promise<DbscState>;
}

/**
 * Device Bound Session Credentials on Next.js (App Router), over the adapter of
 * {@link nextSessions}: route handlers for the two DBSC endpoints, `offer` for the login
 * response, and `requireBound()` inside guarded route handlers and server actions. Browsers
 * without DBSC keep ordinary sessions unless a route says `'always'`. The handlers go through
 * `auth.route`, so refusals are core's JSON answers and the session cookie rules are kept.
 *
 * @example
 * ```ts
 * // lib/dbsc.ts
 * export const dbsc = nextDbsc(auth, createDbsc(auth.manager, { secret: dbscKey }))
 * // app/dbsc/register/route.ts
 * export const POST = dbsc.register
 * // app/login/route.ts
 * export const POST = auth.route(async (request) => dbsc.offer(Response.json({ ok: true }), await auth.login({ userId })))
 * // app/transfer/route.ts
 * export const POST = auth.route(async () => { await dbsc.requireBound(); return Response.json({ sent: true }) }, { session: true, csrf: true })
 * ```
 */
export function nextDbsc<D extends SessionData = RegisteredData>(
  sessions: NextSessions<D>,
  dbsc: Dbsc<D>,
): NextDbsc<D> {
  const toResponse = (answer: DbscAnswer): Response => {
    const out = new Headers(answer.headers);
    for (const cookie of answer.cookies) out.append('set-cookie', cookie);
    if (!answer.body) return new Response(null, { status: answer.status, headers: out });
    out.set('content-type', 'application/json');
    return new Response(JSON.stringify(answer.body), { status: answer.status, headers: out });
  };
  /** The session the request's cookie proves, or its validation error (a store outage stays a 503). */
  const current = async (): Promise<Session<D>> => {
    const session = await sessions.getSession();
    if (session) return session;
    throw (await sessions.getSessionResult()).error ?? new SessionError('UNAUTHENTICATED');
  };
  const endpoint = (step: 'register' | 'refresh'): WrappedRouteHandler<unknown> =>
    sessions.route(async (request) => {
      const session = await current();
      const input = {
        proof: request.headers.get('secure-session-response'),
        sessionIdHeader: request.headers.get('sec-secure-session-id'),
      };
      return toResponse(step === 'register' ? await dbsc.register(session, input) : await dbsc.refresh(session, input));
    });
  const cookieHeader = async () => (await headers()).get('cookie');
  return {
    offer: (response, session) => {
      response.headers.set('secure-session-registration', dbsc.registrationHeader(session));
      return response;
    },
    register: endpoint('register'),
    refresh: endpoint('refresh'),
    requireBound: async (require = 'if-bound') => {
      const session = await sessions.getSession();
      if (!session) throw new SessionError('UNAUTHENTICATED');
      dbsc.assertBound(session, await cookieHeader(), require);
      return session;
    },
    clear: (response) => {
      response.headers.append('set-cookie', dbsc.deletionCookie());
      return response;
    },
    state: async () => {
      const session = await sessions.getSession();
      return session ? dbsc.state(session, await cookieHeader()) : 'unbound';
    },
  };
}

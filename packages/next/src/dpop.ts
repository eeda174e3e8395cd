import { isSessionError } from '@org/session-core';
import {
  authenticateDpopRequest,
  type DpopAuthentication,
  type DpopVerifier,
  dpopErrorResponse,
} from '@org/session-core/dpop';
import type { NextRequest } from 'next/server.js';
import type { WrappedRouteHandler } from './types.js';

export interface NextDpopOptions {
  /**
   * The origin clients call (`https://api.example.com`), which their proofs' `htu` names. Default:
   * the scheme Next sees and the `Host` header (behind a proxy that changes the scheme or host, set it).
   */
  origin?: string;
  /** These routes issue or revoke tokens: refusals are 400 with the OAuth error in the body (RFC 9449 section 5). */
  tokenEndpoint?: boolean;
}

/** A route handler that receives the request's verified DPoP credential. */
export type DpopRouteHandler<C> = (
  request: NextRequest,
  auth: DpopAuthentication,
  context: C,
) => Response | Promise<Response>;

/**
 * DPoP (RFC 9449) for Next.js route handlers: returns a wrapper that verifies the `DPoP` proof
 * against the method, the URL and the `Authorization: DPoP` token, then calls the handler with
 * `{ scheme, token, proof }`. A refused proof, and a `SessionError` the handler throws (a bound
 * token without its key from `assertSessionDpopBinding`, a refresh token of another key), are
 * answered as the RFC says: 401 with `WWW-Authenticate: DPoP error=...`, or 400 with the OAuth
 * error at a token endpoint; `DPoP-Nonce` goes with every answer when nonces are on.
 *
 * @example
 * ```ts
 * const dpop = nextDpop(createDpopVerifier({ replay: store }))
 * // app/api/me/route.ts
 * export const GET = dpop(async (request, auth) => {
 *   const { session } = await manager.validateToken(auth.token)
 *   if (!session) throw new SessionError('UNAUTHENTICATED')
 *   assertSessionDpopBinding(manager, session, auth.proof)
 *   return Response.json({ userId: session.userId })
 * })
 * ```
 */
export function nextDpop(
  verifier: DpopVerifier,
  options: NextDpopOptions = {},
): <C = unknown>(handler: DpopRouteHandler<C>) => WrappedRouteHandler<C> {
  const refuse = (error: unknown): Response => {
    const { status, headers, body } = dpopErrorResponse(error, verifier, { tokenEndpoint: options.tokenEndpoint });
    return Response.json(body, { status, headers });
  };
  return (handler) => async (request, context) => {
    let response: Response;
    try {
      const url = new URL(request.url);
      // Next rewrites a loopback host in request.url to `localhost`; the Host header is what the client called.
      const origin = options.origin ?? `${url.protocol}//${request.headers.get('host') ?? url.host}`;
      const auth = await authenticateDpopRequest(verifier, {
        method: request.method,
        url: `${origin}${url.pathname}${url.search}`,
        authorization: request.headers.get('authorization'),
        // Fetch joins repeated headers with ", ": core refuses a value holding a comma as two proofs.
        dpop: request.headers.get('dpop'),
      });
      response = await handler(request, auth, context);
    } catch (error) {
      if (!isSessionError(error)) throw error;
      return refuse(error);
    }
    const nonce = verifier.currentNonce();
    if (nonce !== null) response.headers.set('dpop-nonce', nonce);
    return response;
  };
}

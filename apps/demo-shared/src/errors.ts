import { type ErrorBody, errorResponse, isSessionError } from '@org/session-core';
import { messagePage, type Viewer } from './views.js';

export interface DemoErrorReply {
  status: number;
  /** Headers from core (`cache-control: no-store`, `www-authenticate` on 401), without content-type. */
  headers: Array<[string, string]>;
  /** The JSON body (for /api/) or the HTML page (for everything else). */
  json: ErrorBody | null;
  html: string | null;
  /** Neither a session error nor a client error: worth a log line. */
  unexpected: boolean;
}

/** Shown with a fresh login or sign-up form when the one sent was out of date. */
export const STALE_FORM_NOTICE =
  'This form was out of date: you signed in or out in another tab since it was opened. Check it and send it again.';

/**
 * Whether a refusal was only a login or sign-up form gone stale: same-origin (the origin checks
 * passed) with a token another tab's login or logout made obsolete. Such a post gets a fresh form
 * (with STALE_FORM_NOTICE), not a refusal page; a cross-site post is still refused.
 *
 * @example
 * ```ts
 * const form = staleAuthForm(error, req.method, req.path, req.body?._csrf); // 'login', 'signup' or null
 * ```
 */
export function staleAuthForm(
  error: unknown,
  method: string,
  path: string,
  sentToken: unknown,
): 'login' | 'signup' | null {
  // A form without any token never came from one of our pages: refused as before.
  if (typeof sentToken !== 'string' || sentToken === '') return null;
  if (method !== 'POST' || !isSessionError(error, 'CSRF_REJECTED')) return null;
  if (error.reason !== 'token_missing' && error.reason !== 'token_invalid') return null;
  return path === '/login' ? 'login' : path === '/signup' ? 'signup' : null;
}

const CSRF_MESSAGE = 'This form came from another site, or the page was too old. Go back, reload it, and try again.';

/**
 * How the demos answer an error. Session errors get core's status (and, under /api/, core's JSON
 * body); a framework's own client errors (a 413 for an oversized form, a 400 for a broken body)
 * keep their 4xx status; anything else is a 500 that says nothing about its cause. Pages have a
 * heading in words with the stable code in small print under the message, and the header of the
 * signed-in `viewer` (if the request had a valid session).
 *
 * @example
 * ```ts
 * const reply = demoErrorReply(error, req.path, { email: user.email, csrfToken });
 * ```
 */
export function demoErrorReply(error: unknown, path: string, viewer?: Viewer | null): DemoErrorReply {
  const clientStatus = isSessionError(error) ? null : frameworkClientStatus(error);
  if (clientStatus !== null) {
    const html = messagePage({ title: 'Bad request', message: 'The server could not accept this request.', viewer });
    return { status: clientStatus, headers: [['cache-control', 'no-store']], json: null, html, unexpected: false };
  }
  const { status, headers, body } = errorResponse(error);
  const ownHeaders = headers.filter(([name]) => name !== 'content-type');
  const unexpected = !isSessionError(error);
  if (path.startsWith('/api/')) return { status, headers: ownHeaders, json: body, html: null, unexpected };
  const { code, message } = body.error;
  const title =
    code === 'CSRF_REJECTED'
      ? 'Request refused'
      : code === 'RATE_LIMITED'
        ? 'Too many attempts'
        : status === 503
          ? 'Try again soon'
          : 'Something went wrong';
  const html = messagePage({
    title,
    message: code === 'CSRF_REJECTED' ? CSRF_MESSAGE : message,
    code,
    viewer,
  });
  return { status, headers: ownHeaders, json: null, html, unexpected };
}

/** The 4xx status that Express's body parsers and Fastify attach to their own errors, if any. */
function frameworkClientStatus(error: unknown): number | null {
  if (typeof error !== 'object' || error === null) return null;
  const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
  const value = typeof statusCode === 'number' ? statusCode : status;
  return typeof value === 'number' && value >= 400 && value < 500 ? value : null;
}

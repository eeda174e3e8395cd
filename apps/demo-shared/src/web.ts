// What the demos share that needs no Node built-in: a demo on a Worker (apps/demo-hono's worker
// variant) uses these too. `services.ts` re-exports them.
import type { SessionManager, SessionMetadata } from '@org/session-core';
import { deviceLabel } from './device.js';
import type { SessionView } from './views.js';

/** What a demo's pages need of its services to list and revoke sessions. */
interface SessionListing {
  manager: Pick<SessionManager, 'list' | 'revoke'>;
  sessionHandle(id: string): string;
}

/** What the demo records about the client that logs in (shown on the sessions page). */
export function clientMetadata(userAgent: string | undefined | null, ip: string | undefined | null): SessionMetadata {
  return { userAgent: userAgent ?? null, ip: ip ?? null, label: deviceLabel(userAgent) };
}

/**
 * The user's live sessions for the sessions page, most recently seen first. Rows are named by a
 * keyed hash of the session id, so the page never shows any part of a token.
 */
export async function sessionViews(
  { manager, sessionHandle }: SessionListing,
  userId: string,
  currentSessionId: string,
): Promise<SessionView[]> {
  const sessions = await manager.list(userId);
  return sessions.map((session) => ({
    handle: sessionHandle(session.id),
    device: session.metadata.label ?? deviceLabel(session.metadata.userAgent),
    userAgent: session.metadata.userAgent ?? null,
    ip: session.metadata.ip ?? null,
    createdAt: session.createdAt,
    lastSeenAt: session.lastSeenAt,
    authenticatedAt: session.authenticatedAt,
    idleExpiresAt: session.idleExpiresAt,
    absoluteExpiresAt: session.absoluteExpiresAt,
    persistent: session.persistent,
    current: session.id === currentSessionId,
    keyBound: typeof session.metadata.dpopJkt === 'string',
  }));
}

/**
 * Revokes one of the user's own sessions by its page handle. Only the user's sessions are
 * searched, and the revoke itself checks the owner again (E5), so another user's session can
 * never be named.
 */
export async function revokeByHandle(
  { manager, sessionHandle }: SessionListing,
  userId: string,
  handle: unknown,
): Promise<boolean> {
  if (typeof handle !== 'string' || handle.length === 0) return false;
  const sessions = await manager.list(userId);
  const target = sessions.find((session) => sessionHandle(session.id) === handle);
  if (!target) return false;
  return manager.revoke(target.id, { userId, reason: 'revoked_by_user' });
}

/** Only these local pages are valid targets after re-authentication (no open redirect). */
const RETURN_PAGES = new Set(['/account', '/sessions', '/jwt']);

export function safeReturnPath(next: unknown): string {
  return typeof next === 'string' && RETURN_PAGES.has(next) ? next : '/account';
}

/** Headers on every response of the demos. */
export const securityHeaders: ReadonlyArray<[string, string]> = [
  // K2: a year of HSTS. Browsers ignore it over plain http, and honour it once served over https.
  ['strict-transport-security', 'max-age=31536000; includeSubDomains'],
  [
    'content-security-policy',
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  ],
  ['x-content-type-options', 'nosniff'],
  ['referrer-policy', 'same-origin'],
  ['x-frame-options', 'DENY'],
  ['cross-origin-opener-policy', 'same-origin'],
];

/** The origins a browser may use to reach a demo listening on `port` on loopback. */
export function loopbackOrigins(port: number): string[] {
  return [`http://localhost:${port}`, `http://127.0.0.1:${port}`];
}

/** The audience of the demo's session JWTs. */
export const JWT_AUDIENCE = 'demo-api';
/** Session JWT lifetime: short, so a revoked session stops working everywhere soon. */
export const JWT_TTL_SECONDS = 300;

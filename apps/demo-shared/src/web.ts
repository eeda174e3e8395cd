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

/** Where re-authentication returns when no (acceptable) `next` was given. */
const DEFAULT_RETURN_PATH = '/account';

/**
 * A `next` path for after re-authentication, if it is a plain path on this origin; the default
 * page otherwise. Refused: absolute and scheme-relative URLs (`https://x`, `//x`, `/\x`), other
 * schemes, control characters and backslashes, and anything that would resolve to another origin,
 * so the redirect can never leave the demo (no open redirect).
 *
 * @example
 * ```ts
 * safeReturnPath('/account#delete-account'); // '/account#delete-account'
 * safeReturnPath('//evil.example'); // '/account'
 * ```
 */
export function safeReturnPath(next: unknown): string {
  if (typeof next !== 'string' || next.length === 0 || next.length > 512) return DEFAULT_RETURN_PATH;
  // A path starts with exactly one slash; browsers read "\" as "/", and strip control characters.
  if (!next.startsWith('/') || next.startsWith('//') || hasBackslashOrControl(next)) {
    return DEFAULT_RETURN_PATH;
  }
  const base = 'http://demo.invalid';
  let url: URL;
  try {
    url = new URL(next, base);
  } catch {
    return DEFAULT_RETURN_PATH;
  }
  if (url.origin !== base) return DEFAULT_RETURN_PATH;
  return `${url.pathname}${url.search}${url.hash}`;
}

function hasBackslashOrControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x5c || code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/**
 * Where a sensitive action that asked for the password again resumes: the form the user was
 * filling in (the page and its section), so confirming brings them straight back to it.
 */
const RESUME_AFTER_REAUTH: Record<string, string> = {
  '/account/password': '/account#change-password',
  '/account/delete': '/account#delete-account',
};

/**
 * The `next` path for a sensitive action at `actionPath` refused for an old login.
 *
 * @example
 * ```ts
 * reauthPage({ csrfToken, email, next: resumePathFor(req.path) }); // '/account#change-password'
 * ```
 */
export function resumePathFor(actionPath: string): string {
  return RESUME_AFTER_REAUTH[actionPath] ?? DEFAULT_RETURN_PATH;
}

/**
 * The redirect after a successful re-authentication: the safe `next` path with `done=confirmed`
 * added to its query (its fragment kept), so the page can say "go ahead now".
 *
 * @example
 * ```ts
 * confirmedReturnPath('/account#change-password'); // '/account?done=confirmed#change-password'
 * ```
 */
export function confirmedReturnPath(next: unknown): string {
  const url = new URL(safeReturnPath(next), 'http://demo.invalid');
  url.searchParams.set('done', 'confirmed');
  return `${url.pathname}${url.search}${url.hash}`;
}

/** Why a request without a valid session is sent to the login page, as core's validation saw it. */
export type LoginReason = 'expired' | 'ended' | 'logged-out' | 'account-deleted';

/**
 * The login page to send a request to when its session is not valid. Only core's validation
 * status travels (no token, no id): `expired` for a session past a deadline, `ended` for a
 * well-formed cookie whose session is gone (logged out from another device, or the password was
 * changed there), nothing for a missing or garbled cookie.
 *
 * @example
 * ```ts
 * res.redirect(303, loginPathFor(req.sessionResult?.status)); // '/login?reason=ended'
 * ```
 */
export function loginPathFor(status: string | undefined): string {
  if (status === 'expired') return '/login?reason=expired';
  if (status === 'invalid') return '/login?reason=ended';
  return '/login';
}

const LOGIN_NOTICES: Record<LoginReason, string> = {
  expired: 'Your session expired. Log in again.',
  ended: 'You were logged out: this session was ended from another device. Log in again.',
  'logged-out': 'You are logged out.',
  'account-deleted': 'Your account and all its sessions are gone.',
};

/**
 * The sentence the login page shows: who is signed in already, or why the last session ended
 * (from the `reason` query parameter; anything else shows nothing).
 *
 * @example
 * ```ts
 * loginNotice(req.query.reason, signedInAs); // 'You were logged out: this session was ended from another device. ...'
 * ```
 */
export function loginNotice(reason: unknown, signedInAs?: string | null): string | null {
  if (signedInAs) return `You are signed in as ${signedInAs}. Logging in again replaces this session.`;
  return typeof reason === 'string' && Object.hasOwn(LOGIN_NOTICES, reason)
    ? LOGIN_NOTICES[reason as LoginReason]
    : null;
}

/** Where every sign-up goes, whatever its outcome: the same answer for a new and a known e-mail. */
export const SIGNUP_SENT_PATH = '/signup/check-email';

/**
 * What the demo does instead of sending the sign-up e-mail: it prints the message it would send
 * to the server console. A new address would get a welcome, a registered one a note that someone
 * tried to sign up with it; the browser sees the same page either way, so sign-up never tells
 * whether an e-mail is registered. Returns the printed text (for tests).
 *
 * @example
 * ```ts
 * if (result.ok || result.alreadyRegistered) sendSignUpMail(email, !result.ok); // then 303 to SIGNUP_SENT_PATH
 * ```
 */
export function sendSignUpMail(
  email: string,
  alreadyRegistered: boolean,
  print: (line: string) => void = console.info,
): string {
  const body = alreadyRegistered
    ? 'Someone tried to create an account with this address, which already has one. If it was you, log in (or reset your password); otherwise ignore this message.'
    : 'Welcome! Your account is ready: log in with the password you chose.';
  const text = `[demo mail, not sent] To: ${email}\nSubject: Your session demo account\n\n${body}`;
  print(text);
  return text;
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

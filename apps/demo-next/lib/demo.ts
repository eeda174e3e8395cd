import type { Session } from '@org/session-core';
import type { LoginAttempt } from '@org/session-core/throttle';
import { type NextSessions, nextSessions } from '@org/session-next';
import { describeStorage, exitOnStartupError, readConfig } from 'demo-shared/config';
import { demoErrorReply } from 'demo-shared/errors';
import { createDemoServices, type DemoServices, loopbackOrigins, securityHeaders } from 'demo-shared/services';
import type { User } from 'demo-shared/users';
import { formatDuration, messagePage, reauthPage, setDemoFramework, type Viewer } from 'demo-shared/views';
import { loginPathFor, resumePathFor } from 'demo-shared/web';
import type { NextRequest } from 'next/server';

export interface NextDemo {
  services: DemoServices;
  auth: NextSessions;
}

// One set of services per server process, opened on first request (`next build` never opens them).
const DEMO_KEY = Symbol.for('demo-next.services');
type Holder = { [DEMO_KEY]?: Promise<NextDemo> };

/**
 * The demo's services (on `SESSION_STORE`; users in SQLite under `DATA_DIR`) and the Next adapter
 * on them.
 */
export function demo(): Promise<NextDemo> {
  const holder = globalThis as Holder;
  holder[DEMO_KEY] ??= open();
  return holder[DEMO_KEY];
}

async function open(): Promise<NextDemo> {
  setDemoFramework('Next.js 16 (route handlers)');
  const config = readConfig({ PORT: '3004', ...process.env });
  const services = await createDemoServices(config, { allowedOrigins: loopbackOrigins(config.port) });
  // `next start` gives handlers no peer address: a loopback Host allows the demo's plain http.
  const auth = nextSessions(services.manager, { csrf: services.csrfOptions, trustLoopbackHost: true });
  return { services, auth };
}

/**
 * Opens the services when the server starts (from instrumentation.ts), so a bad setting or an
 * unreachable Redis or PostgreSQL ends `next start` at once with one line naming the variable
 * (exit code 1), and prints where the demo keeps its data.
 */
export async function startDemo(): Promise<void> {
  const opened = await demo().catch(exitOnStartupError);
  const { config, origin } = opened.services;
  console.log(`session demo (Next.js) on ${origin}`);
  console.log(`  ${describeStorage(config)}`);
  console.log(
    `  timeouts: idle ${formatDuration(config.idleTimeoutMs)}, absolute ${formatDuration(config.absoluteTimeoutMs)}, re-authentication after ${formatDuration(config.reauthAfterMs)}`,
  );
}

/**
 * Counts a login or sign-up attempt before any password is checked: past the limit it throws
 * RATE_LIMITED, which the demo answers with the 429 page and Retry-After. `next start` gives a
 * route handler no peer address (an `x-forwarded-for` there may be the client's own), so this demo
 * throttles per account only; behind a proxy that sets the header, pass its address as `ip`.
 */
export async function countAttempt(services: DemoServices, account: string): Promise<LoginAttempt> {
  const attempt: LoginAttempt = { account, ip: null };
  await services.throttle.check(attempt);
  return attempt;
}

/** An HTML page with the demo's security headers; never cached (Back after logout shows nothing stale). */
export function html(body: string, status = 200): Response {
  const headers = new Headers([...securityHeaders]);
  headers.set('content-type', 'text/html; charset=utf-8');
  headers.set('cache-control', 'no-store');
  return new Response(body, { status, headers });
}

/** A 303 to a path of the demo. */
export function seeOther(path: string): Response {
  const headers = new Headers([...securityHeaders]);
  headers.set('location', path);
  headers.set('cache-control', 'no-store');
  return new Response(null, { status: 303, headers });
}

export const notFoundPage = (viewer?: Viewer | null) =>
  html(messagePage({ title: 'Not found', message: 'There is no such page.', viewer }), 404);

/** The signed-in user for the header of pages anyone may see (login, 404, error pages). */
export async function viewerOf({ auth, services }: NextDemo): Promise<Viewer | null> {
  try {
    const session = await auth.getSession();
    const user = session ? services.users.findById(session.userId) : null;
    return user ? { email: user.email, csrfToken: await auth.csrfToken() } : null;
  } catch {
    return null;
  }
}

/** The request's form fields (url-encoded or multipart). */
export async function formOf(request: Request): Promise<Record<string, string>> {
  const fields: Record<string, string> = {};
  for (const [name, value] of await request.formData()) if (typeof value === 'string') fields[name] = value;
  return fields;
}

/** An error as the demo shows it: an HTML page, or core's JSON body under /api/. */
export function errorResponse(error: unknown, path: string, viewer?: Viewer | null): Response {
  const reply = demoErrorReply(error, path, viewer);
  if (reply.unexpected) console.error('demo: unexpected error', error);
  const headers = new Headers([...securityHeaders]);
  for (const [name, value] of reply.headers) headers.set(name, value);
  if (reply.json) {
    headers.set('content-type', 'application/json; charset=utf-8');
    return new Response(JSON.stringify(reply.json), { status: reply.status, headers });
  }
  headers.set('content-type', 'text/html; charset=utf-8');
  return new Response(reply.html, { status: reply.status, headers });
}

type Handler = (request: NextRequest, demo: NextDemo) => Promise<Response>;

/**
 * A route handler of the demo: its services at hand, errors rendered as the other demos render
 * them, inside the adapter's `route()` so the session is read with the request's real method and
 * core's cookies (a login, a rotation, a dead cookie's deletion) go out on the response.
 */
export function handle(handler: Handler): (request: NextRequest, context: unknown) => Promise<Response> {
  let wrapped: ((request: NextRequest, context: unknown) => Promise<Response>) | undefined;
  return async (request, context) => {
    const opened = await demo();
    wrapped ??= opened.auth.route(async (routed: NextRequest) => {
      try {
        return await handler(routed, opened);
      } catch (error) {
        return errorResponse(error, routed.nextUrl.pathname, await viewerOf(opened));
      }
    });
    return wrapped(request, context);
  };
}

/** The signed-in user and session, or the way out (login page; a store outage throws, 503). */
export async function signedIn({ auth, services }: NextDemo): Promise<{ user: User; session: Session } | Response> {
  const result = await auth.getSessionResult();
  if (result.status !== 'valid') {
    if (result.status === 'unavailable') throw result.error;
    return seeOther(loginPathFor(result.status));
  }
  const user = services.users.findById(result.session.userId);
  if (!user) {
    await auth.logout();
    return seeOther('/login');
  }
  return { user, session: result.session };
}

/**
 * Sensitive actions: a stale session is sent to re-authenticate first (401), then back to the form
 * of the action at `actionPath`.
 */
export async function freshUser(demo: NextDemo, actionPath = ''): Promise<{ user: User; session: Session } | Response> {
  const who = await signedIn(demo);
  if (who instanceof Response) return who;
  if (demo.services.manager.isFresh(who.session, demo.services.expiryPolicy.reauthAfterMs)) return who;
  const next = resumePathFor(actionPath);
  const page = reauthPage({ csrfToken: await demo.auth.csrfToken(), email: who.user.email, next });
  return html(page, 401);
}

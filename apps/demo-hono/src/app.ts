import { type Clock, SessionError, type SessionManager } from '@org/session-core';
import { readBearerToken } from '@org/session-core/adapter';
import type { CsrfSettings } from '@org/session-core/csrf';
import type { SessionJwt } from '@org/session-core/jwt';
import type { LoginThrottle } from '@org/session-core/throttle';
import { type HonoSessions, honoSessions, type SessionEnv } from '@org/session-hono';
import { demoErrorReply, STALE_FORM_NOTICE, staleAuthForm } from 'demo-shared/errors';
import type { SignUpResult, User } from 'demo-shared/users';
import {
  accountPage,
  type ExpiryPolicyView,
  jwtPage,
  loginPage,
  messagePage,
  reauthPage,
  script,
  sessionsPage,
  setDemoFramework,
  signupPage,
  signupSentPage,
  stylesheet,
  type Viewer,
} from 'demo-shared/views';
import {
  clientMetadata,
  confirmedReturnPath,
  JWT_TTL_SECONDS,
  loginNotice,
  loginPathFor,
  resumePathFor,
  revokeByHandle,
  SIGNUP_SENT_PATH,
  safeReturnPath,
  securityHeaders,
  sendSignUpMail,
  sessionViews,
} from 'demo-shared/web';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { GetConnInfo } from 'hono/conninfo';
import { HTTPException } from 'hono/http-exception';

/**
 * The user accounts as this app needs them. demo-shared's `UserDirectory` (SQLite, scrypt) fits
 * on Node; the Worker variant keeps users in D1. Sync or async results alike.
 */
export interface DemoUsers {
  signUp(email: unknown, password: unknown, now: number): Promise<SignUpResult>;
  authenticate(email: unknown, password: unknown): Promise<User | null>;
  checkPassword(userId: string, password: unknown): Promise<boolean>;
  changePassword(userId: string, newPassword: unknown): Promise<string | null>;
  findById(userId: string): User | null | Promise<User | null>;
  deleteUser(userId: string): unknown;
}

/** What the app needs of its services: demo-shared's `DemoServices` on Node, the Worker's own on D1. */
export interface HonoDemoServices {
  origin: string;
  manager: SessionManager;
  sessionHandle(id: string): string;
  csrfOptions: CsrfSettings;
  jwts: SessionJwt;
  users: DemoUsers;
  /** Login and sign-up attempts per account and per address; the Worker variant has none yet. */
  throttle?: LoginThrottle;
  clock: Clock;
  expiryPolicy: ExpiryPolicyView;
}

export interface HonoDemoRuntime {
  /** The runtime's peer address (`@hono/node-server/conninfo` on Node). */
  getConnInfo?: GetConnInfo;
  /** workerd gives no peer address: a loopback Host allows plain http (local development only). */
  trustLoopbackHost?: boolean;
  /** What the page footer says the demo runs on; by default Hono on Node.js, or in a Worker. */
  framework?: string;
}

/** An error as the demo shows it: an HTML page, or core's JSON body under /api/. */
function errorPage(error: unknown, c: Context, viewer: Viewer | null): Response {
  const reply = demoErrorReply(error, c.req.path, viewer);
  if (reply.unexpected) console.error('demo: unexpected error', error);
  const headers = new Headers(reply.headers);
  if (reply.json) {
    headers.set('content-type', 'application/json; charset=utf-8');
    return new Response(JSON.stringify(reply.json), { status: reply.status, headers });
  }
  headers.set('content-type', 'text/html; charset=utf-8');
  return new Response(reply.html, { status: reply.status, headers });
}

/**
 * The Hono demo as an app: sign up, log in, the sessions page with per-device logout, a sensitive
 * action behind re-authentication, and a JSON API behind a session JWT. Web APIs only: the same
 * app runs on Node (`server.ts`, SQLite) and in a Worker (`worker.ts`, D1).
 *
 * @example
 * ```ts
 * const app = createHonoDemo(services, { getConnInfo });
 * serve({ fetch: app.fetch, port: 3002 });
 * ```
 */
export function createHonoDemo(services: HonoDemoServices, runtime: HonoDemoRuntime = {}): Hono<SessionEnv> {
  const { manager, users, clock } = services;
  setDemoFramework(runtime.framework ?? (runtime.getConnInfo ? 'Hono 4 on Node.js' : 'Hono 4 in a Worker'));
  const reauthAfterMs = services.expiryPolicy.reauthAfterMs;
  // Rejections (CSRF among them) are rendered like every other error of the demo.
  const auth: HonoSessions = honoSessions(manager, {
    csrf: services.csrfOptions,
    getConnInfo: runtime.getConnInfo,
    trustLoopbackHost: runtime.trustLoopbackHost,
    onError: async (error, c): Promise<Response> => {
      // A same-origin login or sign-up form made stale by another tab: a fresh form, not a refusal.
      const authForm = c.req.method === 'POST' && (c.req.path === '/login' || c.req.path === '/signup');
      const body = authForm ? await c.req.parseBody() : {};
      const staleForm = staleAuthForm(error, c.req.method, c.req.path, body._csrf);
      if (!staleForm) return errorPage(error, c, await viewerOf(c));
      const page = staleForm === 'login' ? loginPage : signupPage;
      const csrfToken: string = auth.csrfToken(c);
      const email = typeof body.email === 'string' ? body.email : '';
      return c.html(page({ csrfToken, email, notice: STALE_FORM_NOTICE }), 409);
    },
  });
  const app = new Hono<SessionEnv>();
  type C = Context<SessionEnv>;

  app.use(async (c, next) => {
    await next();
    for (const [name, value] of securityHeaders) c.res.headers.set(name, value);
    // Every page shows account data: never cache one (B8; Back after logout shows nothing stale).
    if (!c.res.headers.has('cache-control')) c.res.headers.set('cache-control', 'no-store');
  });
  app.get('/demo.css', (c) =>
    c.body(stylesheet, 200, { 'content-type': 'text/css', 'cache-control': 'public, max-age=300' }),
  );
  app.get('/demo.js', (c) =>
    c.body(script, 200, { 'content-type': 'text/javascript', 'cache-control': 'public, max-age=300' }),
  );
  app.use(auth.middleware);
  // After the session middleware, so the refusal page shows the signed-in menu like every other
  // error page; before the CSRF check, which is the first to read a form body.
  app.use(
    bodyLimit({
      maxSize: 8 * 1024,
      onError: async (c) =>
        c.html(
          messagePage({
            title: 'Bad request',
            message: 'The server could not accept this request.',
            viewer: await viewerOf(c),
          }),
          413,
        ),
    }),
  );
  // Logout needs only the origin checks: a page older than a rotation, or a second tab after the
  // first logged out, must still log out (a forged one could only end the caller's own session).
  const csrfCheck = auth.csrf();
  const logoutCsrfCheck = auth.csrf({ logout: true });
  app.use((c, next) => (c.req.path === '/logout' ? logoutCsrfCheck : csrfCheck)(c, next));

  const ipOf = (c: C) => {
    try {
      return runtime.getConnInfo?.(c).remote.address ?? null;
    } catch {
      return null;
    }
  };
  const form = async (c: C, field: string): Promise<unknown> => {
    const body = await c.req.parseBody();
    return body[field];
  };
  const text = (value: unknown) => (typeof value === 'string' ? value : '');

  /** The signed-in user for the header of pages anyone may see (login, 404, error pages). */
  async function viewerOf(c: Context): Promise<Viewer | null> {
    try {
      const session = (c as C).var.session;
      const user = session ? await users.findById(session.userId) : null;
      return user ? { email: user.email, csrfToken: auth.csrfToken(c as C) } : null;
    } catch {
      return null;
    }
  }

  /** The signed-in user, or the way out (login page; a store outage throws, 503). */
  async function signedIn(c: C): Promise<User | Response> {
    const session = c.var.session;
    if (!session) {
      if (c.var.sessionResult?.status === 'unavailable') throw c.var.sessionResult.error;
      return c.redirect(loginPathFor(c.var.sessionResult?.status), 303);
    }
    const user = await users.findById(session.userId);
    if (!user) {
      await auth.logout(c);
      return c.redirect('/login', 303);
    }
    return user;
  }

  app.get('/', (c) => c.redirect(c.var.session ? '/sessions' : '/login', 303));

  app.get('/login', async (c) => {
    const signedInAs = c.var.session ? (await users.findById(c.var.session.userId))?.email : undefined;
    const notice = loginNotice(c.req.query('reason'), signedInAs);
    return c.html(loginPage({ csrfToken: auth.csrfToken(c), notice, signedInAs }));
  });

  app.post('/login', async (c) => {
    // Counted before the password is checked: past the limit, 429 with Retry-After and no scrypt work.
    const attempt = { account: text(await form(c, 'email')), ip: ipOf(c) };
    await services.throttle?.check(attempt);
    const user = await users.authenticate(await form(c, 'email'), await form(c, 'password'));
    if (!user) {
      const email = text(await form(c, 'email'));
      return c.html(loginPage({ csrfToken: auth.csrfToken(c), email, problem: 'Wrong email or password.' }), 401);
    }
    await services.throttle?.succeeded(attempt);
    await auth.login(c, {
      userId: user.id,
      metadata: clientMetadata(c.req.header('user-agent'), ipOf(c)),
      persistent: (await form(c, 'remember')) === '1',
    });
    return c.redirect('/sessions', 303);
  });

  app.get('/signup', (c) => {
    if (c.var.session) return c.redirect('/sessions', 303);
    return c.html(signupPage({ csrfToken: auth.csrfToken(c) }));
  });

  app.post('/signup', async (c) => {
    // Sign-ups count per address (and per e-mail, apart from the logins of that e-mail).
    await services.throttle?.check({ account: `signup:${text(await form(c, 'email'))}`, ip: ipOf(c) });
    const result = await users.signUp(await form(c, 'email'), await form(c, 'password'), clock.now());
    const email = text(await form(c, 'email'));
    if (!result.ok && !result.alreadyRegistered) {
      return c.html(signupPage({ csrfToken: auth.csrfToken(c), email, problem: result.problem }), 400);
    }
    // The same answer for a new and a registered e-mail (no enumeration): the rest goes by mail.
    sendSignUpMail(email.trim(), !result.ok);
    return c.redirect(SIGNUP_SENT_PATH, 303);
  });

  app.get(SIGNUP_SENT_PATH, async (c) => c.html(signupSentPage({ viewer: await viewerOf(c) })));

  app.post('/logout', async (c) => {
    await auth.logout(c);
    return c.redirect('/login?reason=logged-out', 303);
  });

  app.get('/sessions', async (c) => {
    const user = await signedIn(c);
    const session = c.var.session;
    if (user instanceof Response || !session) return user as Response;
    const done = c.req.query('done');
    const notice =
      done === 'revoked'
        ? 'That device is logged out.'
        : done === 'others'
          ? 'Every other session is logged out.'
          : null;
    return c.html(
      sessionsPage({
        csrfToken: auth.csrfToken(c),
        email: user.email,
        sessions: await sessionViews(services, user.id, session.id),
        policy: services.expiryPolicy,
        now: clock.now(),
        notice,
      }),
    );
  });

  app.post('/sessions/revoke', async (c) => {
    const user = await signedIn(c);
    const session = c.var.session;
    if (user instanceof Response || !session) return user as Response;
    if ((await form(c, 'session')) === services.sessionHandle(session.id)) {
      await auth.logout(c);
      return c.redirect('/login?reason=logged-out', 303);
    }
    if (!(await revokeByHandle(services, user.id, await form(c, 'session')))) {
      const page = messagePage({
        title: 'No such session',
        message: 'That session does not exist or is already gone.',
        csrfToken: auth.csrfToken(c),
        email: user.email,
      });
      return c.html(page, 404);
    }
    return c.redirect('/sessions?done=revoked', 303);
  });

  app.post('/sessions/revoke-others', async (c) => {
    const user = await signedIn(c);
    const session = c.var.session;
    if (user instanceof Response || !session) return user as Response;
    await manager.revokeAll(user.id, { except: session.id });
    return c.redirect('/sessions?done=others', 303);
  });

  app.get('/account', async (c) => {
    const user = await signedIn(c);
    const session = c.var.session;
    if (user instanceof Response || !session) return user as Response;
    const done = c.req.query('done');
    const notice =
      done === 'password'
        ? 'Password changed; every other session is logged out.'
        : done === 'confirmed'
          ? 'Thanks, you can go ahead now.'
          : null;
    return c.html(
      accountPage({
        csrfToken: auth.csrfToken(c),
        email: user.email,
        fresh: manager.isFresh(session, reauthAfterMs),
        freshUntil: session.authenticatedAt + reauthAfterMs,
        now: clock.now(),
        notice,
      }),
    );
  });

  /** Sensitive actions: a stale session is sent to re-authenticate first (401, REAUTH_REQUIRED). */
  async function freshUser(c: C): Promise<User | Response> {
    const user = await signedIn(c);
    const session = c.var.session;
    if (user instanceof Response || !session) return user as Response;
    if (manager.isFresh(session, reauthAfterMs)) return user;
    const next = resumePathFor(c.req.path);
    return c.html(reauthPage({ csrfToken: auth.csrfToken(c), email: user.email, next }), 401);
  }

  app.post('/account/password', async (c) => {
    const user = await freshUser(c);
    const session = c.var.session;
    if (user instanceof Response || !session) return user as Response;
    const problem = await users.changePassword(user.id, await form(c, 'newPassword'));
    if (problem) {
      const page = accountPage({
        csrfToken: auth.csrfToken(c),
        email: user.email,
        fresh: true,
        freshUntil: session.authenticatedAt + reauthAfterMs,
        now: clock.now(),
        problem,
      });
      return c.html(page, 400);
    }
    // A new password is a privilege change: new token for this device, every other session ends.
    const rotated = await auth.rotate(c);
    await manager.revokeAll(user.id, { except: rotated.id, reason: 'password_changed' });
    return c.redirect('/account?done=password', 303);
  });

  app.post('/account/delete', async (c) => {
    const user = await freshUser(c);
    if (user instanceof Response) return user;
    await auth.logout(c);
    await manager.revokeAll(user.id, { reason: 'account_deleted' });
    await users.deleteUser(user.id);
    return c.redirect('/login?reason=account-deleted', 303);
  });

  app.get('/reauth', async (c) => {
    const user = await signedIn(c);
    if (user instanceof Response) return user;
    return c.html(
      reauthPage({ csrfToken: auth.csrfToken(c), email: user.email, next: safeReturnPath(c.req.query('next')) }),
    );
  });

  app.post('/reauth', async (c) => {
    const user = await signedIn(c);
    if (user instanceof Response) return user;
    const next = safeReturnPath(await form(c, 'next'));
    if (!(await users.checkPassword(user.id, await form(c, 'password')))) {
      const page = reauthPage({ csrfToken: auth.csrfToken(c), email: user.email, next, problem: 'Wrong password.' });
      return c.html(page, 401);
    }
    // Proving identity again resets freshness and both timeouts, under a new token.
    await auth.rotate(c, { reauthenticated: true });
    return c.redirect(confirmedReturnPath(next), 303);
  });

  app.get('/jwt', async (c) => {
    const user = await signedIn(c);
    if (user instanceof Response) return user;
    return c.html(
      jwtPage({
        csrfToken: auth.csrfToken(c),
        email: user.email,
        origin: services.origin,
        jwtTtlSeconds: JWT_TTL_SECONDS,
      }),
    );
  });

  // The JSON API. A session JWT comes from the cookie session (a same-origin POST with the CSRF
  // token); /api/me accepts only the JWT, verified strictly so a revoked session loses access at once.
  app.post('/api/session-jwt', async (c) => {
    const session = c.var.session;
    if (!session) throw c.var.sessionResult?.error ?? new SessionError('UNAUTHENTICATED');
    const { token, expiresAt } = await services.jwts.issue(session);
    return c.json({ jwt: token, expiresAt });
  });

  app.get('/api/me', async (c) => {
    const token = readBearerToken(c.req.header('authorization'));
    if (!token) throw new SessionError('UNAUTHENTICATED');
    const claims = await services.jwts.verify(token, { strict: true });
    const user = await users.findById(claims.sub);
    if (!user) throw new SessionError('UNAUTHENTICATED');
    return c.json({
      user: { id: user.id, email: user.email },
      jwt: { iss: claims.iss, aud: claims.aud, iat: claims.iat, exp: claims.exp, auth_time: claims.auth_time },
    });
  });

  app.get('/.well-known/jwks.json', (c) => {
    c.header('cache-control', 'public, max-age=300');
    return c.json(services.jwts.jwks());
  });

  app.notFound(async (c) =>
    c.html(messagePage({ title: 'Not found', message: 'There is no such page.', viewer: await viewerOf(c) }), 404),
  );
  app.onError(async (error, c) =>
    error instanceof HTTPException ? error.getResponse() : errorPage(error, c, await viewerOf(c)),
  );
  return app;
}

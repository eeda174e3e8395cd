import formBody from '@fastify/formbody';
import { type Clock, SessionError } from '@org/session-core';
import { readBearerToken } from '@org/session-core/adapter';
import { fastifySessions } from '@org/session-fastify';
import type { DemoConfig } from 'demo-shared/config';
import { demoErrorReply, STALE_FORM_NOTICE, staleAuthForm } from 'demo-shared/errors';
import {
  clientMetadata,
  createDemoServices,
  type DemoServices,
  JWT_TTL_SECONDS,
  loopbackOrigins,
  revokeByHandle,
  safeReturnPath,
  securityHeaders,
  sessionViews,
} from 'demo-shared/services';
import type { User } from 'demo-shared/users';
import {
  accountPage,
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
  confirmedReturnPath,
  loginNotice,
  loginPathFor,
  resumePathFor,
  SIGNUP_SENT_PATH,
  sendSignUpMail,
} from 'demo-shared/web';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';

type Form = Record<string, string | undefined>;

/**
 * The Fastify 5 demo: the pages and flows of demo-express (sharing its views, users and settings)
 * on the Fastify adapter.
 *
 * @example
 * ```ts
 * const app = await createFastifyDemo(services);
 * await app.listen({ port: 3001, host: '127.0.0.1' });
 * ```
 */
export async function createFastifyDemo(services: DemoServices): Promise<FastifyInstance> {
  const { manager, users, clock, config } = services;
  setDemoFramework('Fastify 5');
  const app = Fastify({ bodyLimit: 8 * 1024 });
  await app.register(formBody);
  // The demo's own error handler (below) answers pages with HTML and /api/ with core's JSON body.
  await app.register(fastifySessions, { manager, csrf: services.csrfOptions, errorHandler: false });
  const auth = app.sessions;
  // Logout needs only the origin checks: a page older than a rotation, or a second tab after the
  // first logged out, must still log out (a forged one could only end the caller's own session).
  const csrfCheck = auth.csrf();
  const logoutCsrfCheck = auth.csrf({ logout: true });
  app.addHook('preHandler', (request, reply) =>
    (request.routeOptions.url === '/logout' ? logoutCsrfCheck : csrfCheck)(request, reply),
  );

  app.addHook('onRequest', async (request, reply) => {
    for (const [name, value] of securityHeaders) reply.header(name, value);
    if (request.url !== '/demo.css' && request.url !== '/demo.js') reply.header('cache-control', 'no-store');
  });
  app.get('/demo.css', async (_request, reply) =>
    reply.type('text/css').header('cache-control', 'public, max-age=300').send(stylesheet),
  );
  app.get('/demo.js', async (_request, reply) =>
    reply.type('text/javascript').header('cache-control', 'public, max-age=300').send(script),
  );

  const html = (reply: FastifyReply, page: string, status = 200) =>
    reply.status(status).type('text/html; charset=utf-8').send(page);
  const form = (request: FastifyRequest): Form => (request.body ?? {}) as Form;

  /** The signed-in user for the header of pages anyone may see (login, 404, error pages). */
  function viewerOf(request: FastifyRequest, reply: FastifyReply): Viewer | null {
    const user = request.session ? users.findById(request.session.userId) : null;
    if (!user) return null;
    try {
      return { email: user.email, csrfToken: auth.csrfToken(request, reply) };
    } catch {
      return null;
    }
  }

  /** The signed-in user, or null after answering with the way out. */
  async function signedIn(request: FastifyRequest, reply: FastifyReply): Promise<User | null> {
    if (!request.session) {
      if (request.sessionResult?.status === 'unavailable') throw request.sessionResult.error;
      reply.redirect(loginPathFor(request.sessionResult?.status), 303);
      return null;
    }
    const user = users.findById(request.session.userId);
    if (!user) {
      await auth.logout(request, reply);
      reply.redirect('/login', 303);
    }
    return user;
  }

  async function freshUser(request: FastifyRequest, reply: FastifyReply): Promise<User | null> {
    const user = await signedIn(request, reply);
    if (!user || !request.session) return null;
    if (manager.isFresh(request.session, config.reauthAfterMs)) return user;
    const next = resumePathFor(request.routeOptions.url ?? '');
    html(reply, reauthPage({ csrfToken: auth.csrfToken(request, reply), email: user.email, next }), 401);
    return null;
  }

  app.get('/', async (request, reply) => reply.redirect(request.session ? '/sessions' : '/login', 303));

  app.get<{ Querystring: { reason?: string } }>('/login', async (request, reply) => {
    const signedInAs = request.session ? users.findById(request.session.userId)?.email : undefined;
    const notice = loginNotice(request.query.reason, signedInAs);
    return html(reply, loginPage({ csrfToken: auth.csrfToken(request, reply), notice, signedInAs }));
  });

  app.post('/login', async (request, reply) => {
    const { email = '', password, remember } = form(request);
    // Counted before the password is checked: past the limit, 429 with Retry-After and no scrypt work.
    const attempt = { account: email, ip: request.ip ?? null };
    await services.throttle.check(attempt);
    const user = await users.authenticate(email, password);
    if (!user) {
      const page = loginPage({ csrfToken: auth.csrfToken(request, reply), email, problem: 'Wrong email or password.' });
      return html(reply, page, 401);
    }
    await services.throttle.succeeded(attempt);
    const metadata = clientMetadata(request.headers['user-agent'], request.ip);
    await auth.login(request, reply, { userId: user.id, metadata, persistent: remember === '1' });
    return reply.redirect('/sessions', 303);
  });

  app.get('/signup', async (request, reply) => html(reply, signupPage({ csrfToken: auth.csrfToken(request, reply) })));

  app.post('/signup', async (request, reply) => {
    const { email = '', password } = form(request);
    // Sign-ups count per address (and per e-mail, apart from the logins of that e-mail).
    await services.throttle.check({ account: `signup:${email}`, ip: request.ip ?? null });
    const result = await users.signUp(email, password, clock.now());
    if (!result.ok && !result.alreadyRegistered) {
      return html(
        reply,
        signupPage({ csrfToken: auth.csrfToken(request, reply), email, problem: result.problem }),
        400,
      );
    }
    // The same answer for a new and a registered e-mail (no enumeration): the rest goes by mail.
    sendSignUpMail(email.trim(), !result.ok);
    return reply.redirect(SIGNUP_SENT_PATH, 303);
  });

  app.get(SIGNUP_SENT_PATH, async (request, reply) =>
    html(reply, signupSentPage({ viewer: viewerOf(request, reply) })),
  );

  app.post('/logout', async (request, reply) => {
    await auth.logout(request, reply);
    return reply.redirect('/login?reason=logged-out', 303);
  });

  app.get<{ Querystring: { done?: string } }>('/sessions', async (request, reply) => {
    const user = await signedIn(request, reply);
    if (!user || !request.session) return reply;
    const done = request.query.done;
    const notice =
      done === 'revoked'
        ? 'That device is logged out.'
        : done === 'others'
          ? 'Every other session is logged out.'
          : null;
    const sessions = await sessionViews(services, user.id, request.session.id);
    const csrfToken = auth.csrfToken(request, reply);
    const page = sessionsPage({
      csrfToken,
      email: user.email,
      sessions,
      policy: services.expiryPolicy,
      now: clock.now(),
      notice,
    });
    return html(reply, page);
  });

  app.post('/sessions/revoke', async (request, reply) => {
    const user = await signedIn(request, reply);
    if (!user || !request.session) return reply;
    const handle = form(request).session;
    if (handle === services.sessionHandle(request.session.id)) {
      await auth.logout(request, reply);
      return reply.redirect('/login?reason=logged-out', 303);
    }
    if (!(await revokeByHandle(services, user.id, handle))) {
      const page = messagePage({
        title: 'No such session',
        message: 'That session does not exist or is already gone.',
        viewer: viewerOf(request, reply),
      });
      return html(reply, page, 404);
    }
    return reply.redirect('/sessions?done=revoked', 303);
  });

  app.post('/sessions/revoke-others', async (request, reply) => {
    const user = await signedIn(request, reply);
    if (!user || !request.session) return reply;
    await manager.revokeAll(user.id, { except: request.session.id });
    return reply.redirect('/sessions?done=others', 303);
  });

  app.get<{ Querystring: { done?: string } }>('/account', async (request, reply) => {
    const user = await signedIn(request, reply);
    if (!user || !request.session) return reply;
    const done = request.query.done;
    const notice =
      done === 'password'
        ? 'Password changed; every other session is logged out.'
        : done === 'confirmed'
          ? 'Thanks, you can go ahead now.'
          : null;
    const { authenticatedAt } = request.session;
    const page = accountPage({
      csrfToken: auth.csrfToken(request, reply),
      email: user.email,
      fresh: manager.isFresh(request.session, config.reauthAfterMs),
      freshUntil: authenticatedAt + config.reauthAfterMs,
      now: clock.now(),
      notice,
    });
    return html(reply, page);
  });

  app.post('/account/password', async (request, reply) => {
    const user = await freshUser(request, reply);
    if (!user || !request.session) return reply;
    const problem = await users.changePassword(user.id, form(request).newPassword);
    if (problem) {
      const page = messagePage({ title: 'Password not changed', message: problem, viewer: viewerOf(request, reply) });
      return html(reply, page, 400);
    }
    await auth.rotate(request, reply);
    await manager.revokeAll(user.id, { except: request.session.id, reason: 'password_changed' });
    return reply.redirect('/account?done=password', 303);
  });

  app.post('/account/delete', async (request, reply) => {
    const user = await freshUser(request, reply);
    if (!user) return reply;
    await auth.logout(request, reply);
    await manager.revokeAll(user.id, { reason: 'account_deleted' });
    users.deleteUser(user.id);
    return reply.redirect('/login?reason=account-deleted', 303);
  });

  app.get<{ Querystring: { next?: string } }>('/reauth', async (request, reply) => {
    const user = await signedIn(request, reply);
    if (!user) return reply;
    const next = safeReturnPath(request.query.next);
    return html(reply, reauthPage({ csrfToken: auth.csrfToken(request, reply), email: user.email, next }));
  });

  app.post('/reauth', async (request, reply) => {
    const user = await signedIn(request, reply);
    if (!user) return reply;
    const next = safeReturnPath(form(request).next);
    if (!(await users.checkPassword(user.id, form(request).password))) {
      const page = reauthPage({
        csrfToken: auth.csrfToken(request, reply),
        email: user.email,
        next,
        problem: 'Wrong password.',
      });
      return html(reply, page, 401);
    }
    await auth.rotate(request, reply, { reauthenticated: true });
    return reply.redirect(confirmedReturnPath(next), 303);
  });

  app.get('/jwt', async (request, reply) => {
    const user = await signedIn(request, reply);
    if (!user) return reply;
    return html(
      reply,
      jwtPage({
        csrfToken: auth.csrfToken(request, reply),
        email: user.email,
        origin: services.origin,
        jwtTtlSeconds: JWT_TTL_SECONDS,
      }),
    );
  });

  app.post('/api/session-jwt', async (request) => {
    if (!request.session) throw request.sessionResult?.error ?? new SessionError('UNAUTHENTICATED');
    const { token, expiresAt } = await services.jwts.issue(request.session);
    return { jwt: token, expiresAt };
  });

  app.get('/api/me', async (request) => {
    const token = readBearerToken(request.headers.authorization);
    if (!token) throw new SessionError('UNAUTHENTICATED');
    const claims = await services.jwts.verify(token, { strict: true });
    const user = users.findById(claims.sub);
    if (!user) throw new SessionError('UNAUTHENTICATED');
    const { iss, aud, iat, exp, auth_time } = claims;
    return { user: { id: user.id, email: user.email }, jwt: { iss, aud, iat, exp, auth_time } };
  });

  app.get('/.well-known/jwks.json', async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=300').send(services.jwts.jwks()),
  );

  app.setNotFoundHandler(async (request, reply) =>
    html(
      reply,
      messagePage({ title: 'Not found', message: 'There is no such page.', viewer: viewerOf(request, reply) }),
      404,
    ),
  );

  app.setErrorHandler(async (error, request, reply) => {
    // A same-origin login or sign-up form made stale by another tab: a fresh form, not a refusal.
    const staleForm = staleAuthForm(error, request.method, request.routeOptions.url ?? '', form(request)._csrf);
    if (staleForm) {
      const email = typeof form(request).email === 'string' ? (form(request).email as string) : '';
      const page = staleForm === 'login' ? loginPage : signupPage;
      return html(reply, page({ csrfToken: auth.csrfToken(request, reply), email, notice: STALE_FORM_NOTICE }), 409);
    }
    const answer = demoErrorReply(error, request.url, viewerOf(request, reply));
    if (answer.unexpected) request.log.error(error);
    reply.status(answer.status).headers(Object.fromEntries(answer.headers));
    if (answer.json) return reply.type('application/json; charset=utf-8').send(answer.json);
    return reply.type('text/html; charset=utf-8').send(answer.html);
  });

  return app;
}

export interface RunningFastifyDemo {
  app: FastifyInstance;
  port: number;
  /** `http://localhost:<port>` */
  origin: string;
  services: DemoServices;
  close(): Promise<void>;
}

/**
 * Starts the Fastify demo on loopback. The port is bound first so port 0 resolves before the CSRF
 * origins and JWT issuer are fixed.
 *
 * @example
 * ```ts
 * const demo = await startFastifyDemo(readConfig(process.env, { port: 3001 }));
 * ```
 */
export async function startFastifyDemo(
  config: DemoConfig,
  options: { clock?: Clock } = {},
): Promise<RunningFastifyDemo> {
  const port = config.port === 0 ? await freePort(config.host) : config.port;
  const services = await createDemoServices(config, { allowedOrigins: loopbackOrigins(port), clock: options.clock });
  const app = await createFastifyDemo(services);
  await app.listen({ port, host: config.host });
  return {
    app,
    port,
    origin: `http://localhost:${port}`,
    services,
    async close() {
      await app.close();
      await services.close();
    },
  };
}

/** An ephemeral port that was free a moment ago (Fastify wants the port before its routes are built). */
async function freePort(host: string): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

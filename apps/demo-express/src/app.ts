import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Clock, SessionError } from '@org/session-core';
import { readBearerToken } from '@org/session-core/adapter';
import { createDbsc } from '@org/session-core/dbsc';
import { assertDpopBinding, createDpopVerifier, dpopErrorResponse } from '@org/session-core/dpop';
import { expressDbsc, expressDpop, expressSessions } from '@org/session-express';
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
import express, { type NextFunction, type Request, type Response } from 'express';

/**
 * The Express 5 demo as an app: sign up, log in, the sessions page with per-device logout, a
 * sensitive action behind re-authentication, and a JSON API behind a session JWT.
 *
 * @example
 * ```ts
 * const services = await createDemoServices(config, { allowedOrigins: ['http://localhost:3000'] });
 * http.createServer(createExpressDemo(services)).listen(3000, '127.0.0.1');
 * ```
 */
export function createExpressDemo(services: DemoServices): express.Express {
  const { manager, users, clock, config } = services;
  setDemoFramework('Express 5');
  // Session errors (CSRF rejections among them) go on to this app's error handler, which answers
  // pages with HTML and /api/ with core's JSON body.
  const auth = expressSessions(manager, {
    csrf: services.csrfOptions,
    onError: (error, _req, _res, next) => next(error),
  });
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((_req, res, next) => {
    for (const [name, value] of securityHeaders) res.setHeader(name, value);
    next();
  });
  app.get('/demo.css', (_req, res) => {
    res.type('text/css').setHeader('cache-control', 'public, max-age=300').send(stylesheet);
  });
  app.get('/demo.js', (_req, res) => {
    res.type('text/javascript').setHeader('cache-control', 'public, max-age=300').send(script);
  });
  // Every page shows account data: never cache one (B8; Back after logout shows nothing stale).
  app.use((_req, res, next) => {
    res.setHeader('cache-control', 'no-store');
    next();
  });
  // DPoP (RFC 9449) for API clients: a script logs in with a proof and gets a session JWT bound to
  // its key (cnf.jkt). No cookie is sent or set, so there is nothing for CSRF to protect: the route
  // comes before the CSRF check. Used proof ids go in the session store (markOnce), so every
  // instance on the same Redis or PostgreSQL store refuses a proof replayed to another.
  const dpop = createDpopVerifier({ replay: services.store });
  const sendDpopError = (error: unknown, res: Response, tokenEndpoint = false) => {
    const { status, headers, body } = dpopErrorResponse(error, dpop, { tokenEndpoint });
    res.status(status).set(headers).json(body);
  };
  app.post(
    '/api/token',
    express.json({ limit: '8kb' }),
    expressDpop(dpop, { tokenEndpoint: true }),
    async (req, res) => {
      const proof = req.dpop?.proof;
      if (!proof)
        return sendDpopError(new SessionError('DPOP_PROOF_INVALID', undefined, { reason: 'missing' }), res, true);
      const body = (req.body ?? {}) as Record<string, unknown>;
      const user = await users.authenticate(body.email, body.password);
      if (!user) {
        res.status(400).json({ error: 'invalid_grant', error_description: 'Wrong email or password' });
        return;
      }
      const { session } = await manager.create({
        userId: user.id,
        metadata: { ...clientMetadata(req.get('user-agent'), req.ip), label: 'API client (DPoP)', dpopJkt: proof.jkt },
      });
      const { token, expiresIn } = await services.jwts.issue(session);
      res.json({ access_token: token, token_type: 'DPoP', expires_in: expiresIn });
    },
  );
  // Only requests that speak DPoP go through its check: a bearer token keeps its old answers.
  const dpopWhenPresent = expressDpop(dpop);
  const withDpop = (req: Request, res: Response, next: NextFunction) =>
    req.headers.dpop !== undefined || /^dpop /i.test(req.get('authorization') ?? '')
      ? dpopWhenPresent(req, res, next)
      : next();

  app.use(auth.middleware);
  // After the session middleware, so a body over the limit gets a 413 page with the signed-in
  // menu like every other error page; before the CSRF check, which reads the form's token.
  app.use(express.urlencoded({ extended: false, limit: '8kb' }));
  // Device Bound Session Credentials: the browser posts signed proofs here. The challenge in each
  // proof is the anti-forgery check, so these two come before the CSRF token check. Used challenges
  // are remembered by the manager's own store (markOnce), shared by every instance on it.
  const dbsc = expressDbsc(createDbsc(manager, { secret: crypto.getRandomValues(new Uint8Array(32)) }));
  app.post('/dbsc/register', dbsc.register);
  app.post('/dbsc/refresh', dbsc.refresh);
  // Logout needs only the origin checks: a page older than a rotation, or a second tab after the
  // first logged out, must still log out (a forged one could only end the caller's own session).
  const csrfCheck = auth.csrf();
  const logoutCsrfCheck = auth.csrf({ logout: true });
  app.use((req, res, next) => (req.path === '/logout' ? logoutCsrfCheck : csrfCheck)(req, res, next));

  /** The signed-in user, or null after sending the way out (login page, or 503 if the store is down). */
  async function signedIn(req: Request, res: Response): Promise<User | null> {
    const session = req.session;
    if (!session) {
      if (req.sessionResult?.status === 'unavailable') throw req.sessionResult.error;
      res.redirect(303, loginPathFor(req.sessionResult?.status));
      return null;
    }
    const user = users.findById(session.userId);
    if (!user) {
      await auth.logout(req, res);
      res.redirect(303, '/login');
      return null;
    }
    return user;
  }

  const form = (req: Request, field: string): unknown => (req.body as Record<string, unknown> | undefined)?.[field];

  /** The signed-in user for the header of pages anyone may see (login, 404, error pages). */
  function viewerOf(req: Request, res: Response): Viewer | null {
    const user = req.session ? users.findById(req.session.userId) : null;
    if (!user) return null;
    try {
      return { email: user.email, csrfToken: auth.csrfToken(req, res) };
    } catch {
      return null;
    }
  }

  app.get('/', (req, res) => {
    res.redirect(303, req.session ? '/sessions' : '/login');
  });

  app.get('/login', (req, res) => {
    const signedInAs = req.session ? users.findById(req.session.userId)?.email : undefined;
    const notice = loginNotice(req.query.reason, signedInAs);
    res.send(loginPage({ csrfToken: auth.csrfToken(req, res), notice, signedInAs }));
  });

  app.post('/login', async (req, res) => {
    // Counted before the password is checked: past the limit, 429 with Retry-After and no scrypt work.
    const attempt = { account: String(form(req, 'email') ?? ''), ip: req.ip ?? null };
    await services.throttle.check(attempt);
    const user = await users.authenticate(form(req, 'email'), form(req, 'password'));
    if (!user) {
      const email = typeof form(req, 'email') === 'string' ? (form(req, 'email') as string) : '';
      res
        .status(401)
        .send(loginPage({ csrfToken: auth.csrfToken(req, res), email, problem: 'Wrong email or password.' }));
      return;
    }
    await services.throttle.succeeded(attempt);
    const session = await auth.login(req, res, {
      userId: user.id,
      metadata: clientMetadata(req.get('user-agent'), req.ip),
      persistent: form(req, 'remember') === '1',
    });
    // A browser with DBSC registers a device key for the new session; others ignore the header.
    dbsc.offer(res, session);
    res.redirect(303, '/sessions');
  });

  app.get('/signup', (req, res) => {
    if (req.session) return res.redirect(303, '/sessions');
    res.send(signupPage({ csrfToken: auth.csrfToken(req, res) }));
  });

  app.post('/signup', async (req, res) => {
    // Sign-ups count per address (and per e-mail, apart from the logins of that e-mail).
    await services.throttle.check({ account: `signup:${String(form(req, 'email') ?? '')}`, ip: req.ip ?? null });
    const result = await users.signUp(form(req, 'email'), form(req, 'password'), clock.now());
    const email = typeof form(req, 'email') === 'string' ? (form(req, 'email') as string) : '';
    if (!result.ok && !result.alreadyRegistered) {
      res.status(400).send(signupPage({ csrfToken: auth.csrfToken(req, res), email, problem: result.problem }));
      return;
    }
    // The same answer for a new and a registered e-mail (no enumeration): the rest goes by mail.
    sendSignUpMail(email.trim(), !result.ok);
    res.redirect(303, SIGNUP_SENT_PATH);
  });

  app.get(SIGNUP_SENT_PATH, (req, res) => {
    res.send(signupSentPage({ viewer: viewerOf(req, res) }));
  });

  app.post('/logout', async (req, res) => {
    await auth.logout(req, res);
    dbsc.clear(res);
    res.redirect(303, '/login?reason=logged-out');
  });

  app.get('/sessions', async (req, res) => {
    const user = await signedIn(req, res);
    if (!user || !req.session) return;
    const notice =
      req.query.done === 'revoked'
        ? 'That device is logged out.'
        : req.query.done === 'others'
          ? 'Every other session is logged out.'
          : null;
    res.send(
      sessionsPage({
        csrfToken: auth.csrfToken(req, res),
        email: user.email,
        sessions: await sessionViews(services, user.id, req.session.id),
        policy: services.expiryPolicy,
        now: clock.now(),
        notice,
      }),
    );
  });

  app.post('/sessions/revoke', async (req, res) => {
    const user = await signedIn(req, res);
    if (!user || !req.session) return;
    const current = services.sessionHandle(req.session.id);
    if (form(req, 'session') === current) {
      await auth.logout(req, res);
      return res.redirect(303, '/login?reason=logged-out');
    }
    if (!(await revokeByHandle(services, user.id, form(req, 'session')))) {
      res.status(404).send(
        messagePage({
          title: 'No such session',
          message: 'That session does not exist or is already gone.',
          csrfToken: auth.csrfToken(req, res),
          email: user.email,
        }),
      );
      return;
    }
    res.redirect(303, '/sessions?done=revoked');
  });

  app.post('/sessions/revoke-others', async (req, res) => {
    const user = await signedIn(req, res);
    if (!user || !req.session) return;
    await manager.revokeAll(user.id, { except: req.session.id });
    res.redirect(303, '/sessions?done=others');
  });

  app.get('/account', async (req, res) => {
    const user = await signedIn(req, res);
    if (!user || !req.session) return;
    const notice =
      req.query.done === 'password'
        ? 'Password changed; every other session is logged out.'
        : req.query.done === 'confirmed'
          ? 'Thanks, you can go ahead now.'
          : null;
    res.send(
      accountPage({
        csrfToken: auth.csrfToken(req, res),
        email: user.email,
        fresh: manager.isFresh(req.session, config.reauthAfterMs),
        freshUntil: req.session.authenticatedAt + config.reauthAfterMs,
        now: clock.now(),
        notice,
      }),
    );
  });

  /** Sensitive actions: a stale session is sent to re-authenticate first (401, REAUTH_REQUIRED). */
  async function freshUser(req: Request, res: Response): Promise<User | null> {
    const user = await signedIn(req, res);
    if (!user || !req.session) return null;
    if (manager.isFresh(req.session, config.reauthAfterMs)) return user;
    const next = resumePathFor(req.path);
    res.status(401).send(reauthPage({ csrfToken: auth.csrfToken(req, res), email: user.email, next }));
    return null;
  }

  app.post('/account/password', async (req, res) => {
    const user = await freshUser(req, res);
    if (!user || !req.session) return;
    const problem = await users.changePassword(user.id, form(req, 'newPassword'));
    if (problem) {
      res.status(400).send(
        accountPage({
          csrfToken: auth.csrfToken(req, res),
          email: user.email,
          fresh: true,
          freshUntil: req.session.authenticatedAt + config.reauthAfterMs,
          now: clock.now(),
          problem,
        }),
      );
      return;
    }
    // A new password is a privilege change: new token for this device, every other session ends.
    await auth.rotate(req, res);
    await manager.revokeAll(user.id, { except: req.session.id, reason: 'password_changed' });
    res.redirect(303, '/account?done=password');
  });

  app.post('/account/delete', async (req, res) => {
    const user = await freshUser(req, res);
    if (!user) return;
    await auth.logout(req, res);
    await manager.revokeAll(user.id, { reason: 'account_deleted' });
    users.deleteUser(user.id);
    res.redirect(303, '/login?reason=account-deleted');
  });

  app.get('/reauth', async (req, res) => {
    const user = await signedIn(req, res);
    if (!user) return;
    res.send(
      reauthPage({ csrfToken: auth.csrfToken(req, res), email: user.email, next: safeReturnPath(req.query.next) }),
    );
  });

  app.post('/reauth', async (req, res) => {
    const user = await signedIn(req, res);
    if (!user) return;
    const next = safeReturnPath(form(req, 'next'));
    if (!(await users.checkPassword(user.id, form(req, 'password')))) {
      res
        .status(401)
        .send(reauthPage({ csrfToken: auth.csrfToken(req, res), email: user.email, next, problem: 'Wrong password.' }));
      return;
    }
    // Proving identity again resets freshness and both timeouts, under a new token.
    await auth.rotate(req, res, { reauthenticated: true });
    res.redirect(303, confirmedReturnPath(next));
  });

  app.get('/jwt', async (req, res) => {
    const user = await signedIn(req, res);
    if (!user) return;
    res.send(
      jwtPage({
        csrfToken: auth.csrfToken(req, res),
        email: user.email,
        origin: services.origin,
        jwtTtlSeconds: JWT_TTL_SECONDS,
      }),
    );
  });

  // The JSON API. A session JWT comes from the cookie session (a same-origin POST with the CSRF
  // token); /api/me accepts only the JWT, verified strictly so a revoked session loses access at once.
  app.post('/api/session-jwt', async (req, res) => {
    if (!req.session) throw req.sessionResult?.error ?? new SessionError('UNAUTHENTICATED');
    const { token, expiresAt } = await services.jwts.issue(req.session);
    res.json({ jwt: token, expiresAt });
  });

  app.get('/api/me', withDpop, async (req, res) => {
    const token = req.dpop?.token ?? readBearerToken(req.get('authorization'));
    if (!token) throw new SessionError('UNAUTHENTICATED');
    const claims = await services.jwts.verify(token, { strict: true });
    try {
      // A key-bound JWT (cnf.jkt) needs a proof from that key: a copied token alone is refused.
      assertDpopBinding(claims.cnf?.jkt, req.dpop?.proof ?? null);
    } catch (error) {
      return sendDpopError(error, res);
    }
    const user = users.findById(claims.sub);
    if (!user) throw new SessionError('UNAUTHENTICATED');
    res.json({
      user: { id: user.id, email: user.email },
      jwt: { iss: claims.iss, aud: claims.aud, iat: claims.iat, exp: claims.exp, auth_time: claims.auth_time },
      keyBound: claims.cnf !== undefined,
    });
  });

  // Whether this session is device-bound (DBSC) and its bound cookie fresh; /api/device-bound is a
  // route that requires it, as a sensitive action would.
  app.get('/api/device-binding', (req, res) => {
    if (!req.session) throw req.sessionResult?.error ?? new SessionError('UNAUTHENTICATED');
    res.json({ state: dbsc.state(req) });
  });
  app.get('/api/device-bound', dbsc.requireBound(), (_req, res) => {
    res.json({ ok: true });
  });

  app.get('/.well-known/jwks.json', (_req, res) => {
    res.setHeader('cache-control', 'public, max-age=300');
    res.json(services.jwts.jwks());
  });

  app.use((req, res) => {
    res
      .status(404)
      .send(messagePage({ title: 'Not found', message: 'There is no such page.', viewer: viewerOf(req, res) }));
  });

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    // A same-origin login or sign-up form made stale by another tab: a fresh form, not a refusal.
    const staleForm = staleAuthForm(error, req.method, req.path, form(req, '_csrf'));
    if (staleForm) {
      const email = typeof form(req, 'email') === 'string' ? (form(req, 'email') as string) : '';
      const page = staleForm === 'login' ? loginPage : signupPage;
      res.status(409).send(page({ csrfToken: auth.csrfToken(req, res), email, notice: STALE_FORM_NOTICE }));
      return;
    }
    const reply = demoErrorReply(error, req.path, viewerOf(req, res));
    if (reply.unexpected) console.error('demo: unexpected error', error);
    for (const [name, value] of reply.headers) res.setHeader(name, value);
    res.status(reply.status);
    if (reply.json) res.json(reply.json);
    else res.type('html').send(reply.html);
  });

  return app;
}

export interface RunningDemo {
  server: Server;
  port: number;
  /** `http://localhost:<port>` */
  origin: string;
  services: DemoServices;
  close(): Promise<void>;
}

/**
 * Starts the demo: listens first (so port 0 resolves to a real port), then builds the services
 * with the origins the browser will use, then serves the app.
 *
 * @example
 * ```ts
 * const demo = await startExpressDemo(readConfig(process.env));
 * console.log(`open ${demo.origin}`);
 * ```
 */
export async function startExpressDemo(config: DemoConfig, options: { clock?: Clock } = {}): Promise<RunningDemo> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const services = await createDemoServices(config, { allowedOrigins: loopbackOrigins(port), clock: options.clock });
  server.on('request', createExpressDemo(services));
  return {
    server,
    port,
    origin: `http://localhost:${port}`,
    services,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await services.close();
    },
  };
}

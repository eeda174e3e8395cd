// After: the same app on @org/session-express (the "after" of docs/migrating-from-express-session.md).
import { createSessionManager, MemoryStore, SessionError } from '@org/session-core';
import { expressSessions } from '@org/session-express';
import express from 'express';
import { checkPassword } from './users.js';

type AppData = { cart: string[] };

export function createApp(options: { csrfKey: Uint8Array; origin: string }): express.Express {
  // `store`: any SessionStore (Redis, PostgreSQL, SQLite); `policy`: idle and absolute timeouts,
  // sliding renewal is built in. The cookie defaults to __Host-sid, HttpOnly, Secure, SameSite=Lax.
  const manager = createSessionManager<AppData>({
    store: new MemoryStore(),
    policy: { idleTimeoutMs: 30 * 60_000, absoluteTimeoutMs: 12 * 60 * 60_000 },
  });
  const auth = expressSessions(manager, { csrf: { key: options.csrfKey, allowedOrigins: [options.origin] } });

  // After requireSession() a request always has a session; this says so to TypeScript.
  const sessionOf = (req: express.Request) => {
    if (!req.session) throw new SessionError('UNAUTHENTICATED');
    return req.session;
  };

  const app = express();
  app.use(express.json(), auth.middleware);

  app.get('/csrf', (req, res) => void res.json({ csrfToken: auth.csrfToken(req, res) }));

  // login() always issues a new session id and token: no regenerate() to forget.
  app.post('/login', auth.csrf(), async (req, res) => {
    const user = checkPassword(req.body);
    if (!user) return void res.status(401).json({ error: 'bad credentials' });
    await auth.login(req, res, { userId: user.id, data: { cart: [] } });
    res.json({ userId: user.id });
  });

  app.get('/me', (req, res) => void res.json({ userId: req.session?.userId ?? null }));

  app.post('/cart', auth.requireSession(), auth.csrf(), async (req, res) => {
    // A function update: parallel requests of one browser each keep their item.
    const session = await manager.update(sessionOf(req), (data) => ({ cart: [...data.cart, String(req.body.item)] }));
    res.json({ items: session.data.cart });
  });

  app.get('/cart', auth.requireSession(), (req, res) => void res.json({ items: sessionOf(req).data.cart }));

  // logout() deletes the session in the store: a copy of the old cookie is dead too.
  app.post('/logout', auth.csrf(), async (req, res) => {
    await auth.logout(req, res);
    res.json({ ok: true });
  });

  app.use(auth.errorHandler);
  return app;
}

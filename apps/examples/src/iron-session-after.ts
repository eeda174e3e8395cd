// After: the same app on @org/session-express in hybrid mode (the "after" of
// docs/migrating-from-iron-session.md). Reads verify a short-lived signed JWT cookie without a store
// round trip, as iron-session's unsealing does; the session itself lives in a store, so logout
// and "log out everywhere" end it, and routes marked strict check the store at once.
import { createSessionManager, MemoryStore, SessionError } from '@org/session-core';
import { createHybridSessions, createJwtKeySet, createSessionJwt, generateSigningKey } from '@org/session-core/jwt';
import { expressSessions } from '@org/session-express';
import express from 'express';
import { checkPassword } from './users.js';

type AppData = { cart: string[] };

export async function createApp(options: { csrfKey: Uint8Array; origin: string }): Promise<express.Express> {
  const manager = createSessionManager<AppData>({
    store: new MemoryStore(), // Redis, PostgreSQL or SQLite in production: see the stores' READMEs
    policy: { idleTimeoutMs: 30 * 60_000, absoluteTimeoutMs: 12 * 60 * 60_000 },
  });
  const keys = createJwtKeySet({ active: await generateSigningKey() });
  const jwt = createSessionJwt({ manager, keys, issuer: options.origin, audience: 'web', ttlSeconds: 60 });
  const auth = expressSessions(manager, {
    csrf: { key: options.csrfKey, allowedOrigins: [options.origin] },
    hybrid: createHybridSessions({ jwt }),
  });

  // After requireSession() a request always has a session; this says so to TypeScript.
  const sessionOf = (req: express.Request) => {
    if (!req.session) throw new SessionError('UNAUTHENTICATED');
    return req.session;
  };

  const app = express();
  app.use(express.json(), auth.middleware);

  app.get('/csrf', (req, res) => void res.json({ csrfToken: auth.csrfToken(req, res) }));

  app.post('/login', auth.csrf(), async (req, res) => {
    const user = checkPassword(req.body);
    if (!user) return void res.status(401).json({ error: 'bad credentials' });
    await auth.login(req, res, { userId: user.id, data: { cart: [] } });
    res.json({ userId: user.id });
  });

  // Served from the JWT cookie: no store call.
  app.get('/me', (req, res) => void res.json({ userId: req.session?.userId ?? null }));

  // Writes go to the store; `strict` confirms the session there first.
  app.post('/cart', auth.requireSession({ strict: true }), auth.csrf(), async (req, res) => {
    const session = await manager.update(sessionOf(req), (data) => ({ cart: [...data.cart, String(req.body.item)] }));
    res.json({ items: session.data.cart });
  });

  app.get(
    '/cart',
    auth.requireSession({ strict: true }),
    (req, res) => void res.json({ items: sessionOf(req).data.cart }),
  );

  app.post('/logout', auth.csrf(), async (req, res) => {
    await auth.logout(req, res);
    res.json({ ok: true });
  });

  app.use(auth.errorHandler);
  return app;
}

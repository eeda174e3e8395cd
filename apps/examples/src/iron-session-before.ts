// Before: an Express 5 app on iron-session (the "before" of docs/migrating-from-iron-session.md).
// The whole session is sealed into the cookie: no store, and nothing on the server can end it.
import express from 'express';
import { getIronSession, type SessionOptions } from 'iron-session';
import { checkPassword } from './users.js';

interface AppSession {
  userId?: string;
  cart?: string[];
}

export function createApp(password: string): express.Express {
  const options: SessionOptions = {
    password,
    cookieName: 'app-session',
    ttl: 30 * 60,
    cookieOptions: { httpOnly: true, sameSite: 'lax', secure: false },
  };
  const sessionOf = (req: express.Request, res: express.Response) => getIronSession<AppSession>(req, res, options);

  const app = express();
  app.use(express.json());

  app.post('/login', async (req, res) => {
    const user = checkPassword(req.body);
    if (!user) return void res.status(401).json({ error: 'bad credentials' });
    const session = await sessionOf(req, res);
    session.userId = user.id;
    session.cart = [];
    await session.save();
    res.json({ userId: user.id });
  });

  app.get('/me', async (req, res) => void res.json({ userId: (await sessionOf(req, res)).userId ?? null }));

  app.post('/cart', async (req, res) => {
    const session = await sessionOf(req, res);
    if (!session.userId) return void res.status(401).json({ error: 'not logged in' });
    session.cart = [...(session.cart ?? []), String(req.body.item)];
    await session.save();
    res.json({ items: session.cart });
  });

  app.get('/cart', async (req, res) => {
    const session = await sessionOf(req, res);
    if (!session.userId) return void res.status(401).json({ error: 'not logged in' });
    res.json({ items: session.cart ?? [] });
  });

  app.post('/logout', async (req, res) => {
    (await sessionOf(req, res)).destroy(); // clears this browser's cookie; a copy of it stays valid
    res.json({ ok: true });
  });

  return app;
}

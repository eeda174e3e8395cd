// Before: an Express 5 app on express-session (the "before" of docs/migrating-from-express-session.md).
import express from 'express';
import session from 'express-session';
import { checkPassword } from './users.js';

declare module 'express-session' {
  interface SessionData {
    userId: string;
    cart: string[];
  }
}

export function createApp(secret: string): express.Express {
  const app = express();
  app.use(express.json());
  app.use(
    session({
      secret,
      name: 'sid',
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: 'lax', maxAge: 30 * 60_000 },
      rolling: true,
    }),
  );

  app.post('/login', (req, res, next) => {
    const user = checkPassword(req.body);
    if (!user) return void res.status(401).json({ error: 'bad credentials' });
    // Without regenerate() the pre-login session id would survive the login (session fixation).
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.userId = user.id;
      req.session.cart = [];
      req.session.save((saveErr) => (saveErr ? next(saveErr) : res.json({ userId: user.id })));
    });
  });

  app.get('/me', (req, res) => void res.json({ userId: req.session.userId ?? null }));

  app.post('/cart', (req, res) => {
    if (!req.session.userId) return void res.status(401).json({ error: 'not logged in' });
    req.session.cart = [...(req.session.cart ?? []), String(req.body.item)];
    res.json({ items: req.session.cart });
  });

  app.get('/cart', (req, res) => {
    if (!req.session.userId) return void res.status(401).json({ error: 'not logged in' });
    res.json({ items: req.session.cart ?? [] });
  });

  app.post('/logout', (req, res, next) => {
    req.session.destroy((err) => (err ? next(err) : res.clearCookie('sid').json({ ok: true })));
  });

  return app;
}

// Getting started with Express 5 (docs/getting-started.md): sessions on the SQLite store, a login
// form's CSRF token, login, a guarded route, logout.

import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { createSessionManager } from '@org/session-core';
import { expressSessions } from '@org/session-express';
import { SqliteStore } from '@org/session-store-sqlite';
import express from 'express';
import { checkPassword } from './users.js';

export async function start(options: { port: number; dbPath: string }) {
  const origin = `http://localhost:${options.port}`;
  const store = new SqliteStore({ path: options.dbPath, migrate: true });
  const manager = createSessionManager({ store, policy: 'aal2' }); // 30 min idle, 12 h absolute
  // The CSRF key must be the same on every instance and survive restarts: load it from your secrets.
  const auth = expressSessions(manager, { csrf: { key: randomBytes(32), allowedOrigins: [origin] } });

  const app = express();
  app.use(express.json(), auth.middleware);
  app.get('/csrf', (req, res) => void res.json({ csrfToken: auth.csrfToken(req, res) }));
  app.post('/login', auth.csrf(), async (req, res) => {
    const user = checkPassword(req.body);
    if (!user) return void res.status(401).json({ error: 'bad credentials' });
    await auth.login(req, res, { userId: user.id });
    res.json({ userId: user.id });
  });
  app.get('/me', auth.requireSession(), (req, res) => void res.json({ userId: req.session?.userId }));
  app.post('/logout', auth.csrf(), async (req, res) => {
    await auth.logout(req, res);
    res.json({ ok: true });
  });
  app.use(auth.errorHandler);

  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(options.port, 'localhost', () => resolve(listening));
  });
  return {
    origin,
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      await store.close();
    },
  };
}

// Login throttling with Express 5 (docs/login-throttling.md): every attempt is counted per account
// and per client address before the password is checked; past the free attempts, 429 + Retry-After.

import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { type Clock, createSessionManager, errorResponse, MemoryStore } from '@org/session-core';
import { createLoginThrottle, MemoryAttemptCounter } from '@org/session-core/throttle';
import { expressSessions } from '@org/session-express';
import express from 'express';
import { checkPassword } from './users.js';

export async function start(options: { port: number; clock?: Clock }) {
  const origin = `http://localhost:${options.port}`;
  const manager = createSessionManager({ store: new MemoryStore(), policy: 'aal2' });
  const auth = expressSessions(manager, { csrf: { key: randomBytes(32), allowedOrigins: [origin] } });
  const throttle = createLoginThrottle({
    counter: new MemoryAttemptCounter(), // RedisAttemptCounter, PostgresAttemptCounter, SqliteAttemptCounter
    key: randomBytes(32), // in an app: >= 32 random bytes from your secret manager, the same on every instance
    clock: options.clock,
  });

  const app = express();
  app.use(express.json(), auth.middleware);
  app.get('/csrf', (req, res) => void res.json({ csrfToken: auth.csrfToken(req, res) }));
  app.post('/login', auth.csrf(), async (req, res) => {
    const attempt = { account: String(req.body?.username ?? ''), ip: req.ip ?? null };
    try {
      // Before the password check: a refused attempt costs no password hashing and reveals nothing.
      await throttle.check(attempt);
    } catch (error) {
      const { status, headers, body } = errorResponse(error); // 429 with Retry-After
      for (const [name, value] of headers) res.setHeader(name, value);
      return void res.status(status).json(body);
    }
    const user = checkPassword(req.body);
    if (!user) return void res.status(401).json({ error: 'bad credentials' });
    await throttle.succeeded(attempt);
    await auth.login(req, res, { userId: user.id });
    res.json({ userId: user.id });
  });
  app.use(auth.errorHandler);

  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(options.port, 'localhost', () => resolve(listening));
  });
  return { origin, close: () => new Promise((resolve) => server.close(resolve)) };
}

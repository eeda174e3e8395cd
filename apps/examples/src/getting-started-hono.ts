// Getting started with Hono 4 on Node (docs/getting-started.md): the same app with Hono's
// middleware; on Bun, Deno or Workers only the server and `getConnInfo` lines change.
import { randomBytes } from 'node:crypto';
import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { createSessionManager } from '@org/session-core';
import { honoSessions, type SessionEnv } from '@org/session-hono';
import { SqliteStore } from '@org/session-store-sqlite';
import { Hono } from 'hono';
import { checkPassword } from './users.js';

export async function start(options: { port: number; dbPath: string }) {
  const origin = `http://localhost:${options.port}`;
  const store = new SqliteStore({ path: options.dbPath, migrate: true });
  const manager = createSessionManager({ store, policy: 'aal2' });
  const auth = honoSessions(manager, {
    csrf: { key: randomBytes(32), allowedOrigins: [origin] }, // load the key from your secrets
    getConnInfo,
  });

  const app = new Hono<SessionEnv>();
  app.use(auth.middleware);
  app.get('/csrf', (c) => c.json({ csrfToken: auth.csrfToken(c) }));
  app.post('/login', auth.csrf(), async (c) => {
    const user = checkPassword(await c.req.json());
    if (!user) return c.json({ error: 'bad credentials' }, 401);
    await auth.login(c, { userId: user.id });
    return c.json({ userId: user.id });
  });
  app.get('/me', auth.requireSession(), (c) => c.json({ userId: c.var.session?.userId }));
  app.post('/logout', auth.csrf(), async (c) => {
    await auth.logout(c);
    return c.json({ ok: true });
  });
  app.onError(auth.errorHandler);

  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const listening = serve({ fetch: app.fetch, port: options.port, hostname: 'localhost' }, () => resolve(listening));
  });
  return {
    origin,
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      await store.close();
    },
  };
}

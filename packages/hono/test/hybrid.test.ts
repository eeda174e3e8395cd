import { getConnInfo } from '@hono/node-server/conninfo';
import { runHybridHttpSuite } from '@org/session-core/testing/vitest';
import { Hono } from 'hono';
import { honoSessions, type SessionEnv } from '../src/index.js';
import { listen } from './node-server.js';

runHybridHttpSuite({
  name: 'hono (node-server)',
  start: async ({ manager, csrf, hybrid }) => {
    const auth = honoSessions(manager, { csrf, hybrid, getConnInfo });
    const app = new Hono<SessionEnv>();
    app.use(auth.middleware);
    app.get('/private', auth.requireSession(), (c) => c.json({ userId: c.var.session?.userId }));
    app.get('/sensitive', auth.requireSession({ strict: true }), (c) => c.json({ userId: c.var.session?.userId }));
    app.get('/csrf', (c) => c.json({ csrfToken: auth.csrfToken(c) }));
    app.post('/login', auth.csrf(), async (c) => {
      const { userId } = await c.req.json<{ userId: string }>();
      const session = await auth.login(c, { userId });
      return c.json({ userId: session.userId });
    });
    app.post('/logout', auth.csrf(), async (c) => {
      await auth.logout(c);
      return c.json({ ok: true });
    });
    app.post('/rotate', auth.requireSession(), auth.csrf(), async (c) => {
      const session = await auth.rotate(c, { reauthenticated: true });
      return c.json({ userId: session.userId });
    });
    app.onError(auth.errorHandler);
    return listen(app);
  },
});

import { runDbscHttpSuite } from '@org/session-core/testing/vitest';
import { Hono } from 'hono';
import { honoDbsc, honoSessions } from '../src/index.js';
import { listen } from './node-server.js';

// The Hono app of the docs: login offers DBSC, /dbsc/transfer requires binding, /dbsc/profile does not.
runDbscHttpSuite({
  name: 'hono (node-server)',
  start: async ({ manager, dbsc: core }) => {
    const auth = honoSessions(manager, { trustLoopbackHost: true });
    const dbsc = honoDbsc(core);
    const app = new Hono();
    app.use(auth.middleware);
    app.post('/dbsc/login', async (c) => {
      dbsc.offer(c, await auth.login(c, { userId: 'alice' }));
      return c.json({ ok: true });
    });
    app.post('/dbsc/register', dbsc.register);
    app.post('/dbsc/refresh', dbsc.refresh);
    app.get('/dbsc/profile', auth.requireSession(), (c) => c.json({ user: c.var.session?.userId }));
    app.get('/dbsc/transfer', auth.requireSession(), dbsc.requireBound(), (c) => c.json({ sent: true }));
    app.get('/dbsc/strict', auth.requireSession(), dbsc.requireBound('always'), (c) => c.json({ sent: true }));
    app.post('/dbsc/logout', async (c) => {
      await auth.logout(c);
      dbsc.clear(c);
      return c.json({ ok: true });
    });
    return listen(app);
  },
});

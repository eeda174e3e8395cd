import type { AddressInfo } from 'node:net';
import { runDbscHttpSuite } from '@org/session-core/testing/vitest';
import express from 'express';
import { expressDbsc, expressSessions } from '../src/index.js';

// The Express app of the docs: login offers DBSC, /dbsc/transfer requires binding, /dbsc/profile does not.
runDbscHttpSuite({
  name: 'express',
  start: async ({ manager, dbsc: core }) => {
    const auth = expressSessions(manager);
    const dbsc = expressDbsc(core);
    const app = express();
    app.use(auth.middleware);
    app.post('/dbsc/login', async (req, res) => {
      dbsc.offer(res, await auth.login(req, res, { userId: 'alice' }));
      res.json({ ok: true });
    });
    app.post('/dbsc/register', dbsc.register);
    app.post('/dbsc/refresh', dbsc.refresh);
    app.get('/dbsc/profile', auth.requireSession(), (req, res) => res.json({ user: req.session?.userId }));
    app.get('/dbsc/transfer', auth.requireSession(), dbsc.requireBound(), (_req, res) => res.json({ sent: true }));
    app.get('/dbsc/strict', auth.requireSession(), dbsc.requireBound('always'), (_req, res) =>
      res.json({ sent: true }),
    );
    app.post('/dbsc/logout', async (req, res) => {
      await auth.logout(req, res);
      dbsc.clear(res);
      res.json({ ok: true });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  },
});

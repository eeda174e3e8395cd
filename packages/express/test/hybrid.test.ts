import type { AddressInfo } from 'node:net';
import { runHybridHttpSuite } from '@org/session-core/testing/vitest';
import express from 'express';
import { expressSessions } from '../src/index.js';

runHybridHttpSuite({
  name: 'express',
  start: async ({ manager, csrf, hybrid }) => {
    const auth = expressSessions(manager, { csrf, hybrid });
    const app = express();
    app.use(express.json(), auth.middleware);
    app.get('/private', auth.requireSession(), (req, res) => {
      res.json({ userId: req.session?.userId });
    });
    app.get('/sensitive', auth.requireSession({ strict: true }), (req, res) => {
      res.json({ userId: req.session?.userId });
    });
    app.get('/csrf', (req, res) => {
      res.json({ csrfToken: auth.csrfToken(req, res) });
    });
    app.post('/login', auth.csrf(), async (req, res) => {
      const session = await auth.login(req, res, { userId: req.body.userId });
      res.json({ userId: session.userId });
    });
    app.post('/logout', auth.csrf(), async (req, res) => {
      await auth.logout(req, res);
      res.json({ ok: true });
    });
    app.post('/rotate', auth.requireSession(), auth.csrf(), async (req, res) => {
      const session = await auth.rotate(req, res, { reauthenticated: true });
      res.json({ userId: session.userId });
    });
    app.use(auth.errorHandler);

    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  },
});

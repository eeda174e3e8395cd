import { type HostileApiAnswer, runHostileHttpSuite } from '@org/session-core/testing/vitest';
import type { Response } from 'express';
import { sendRaw } from '../../../test-support/raw-http.js';
import { listen, notFound, referenceApp } from './fixtures/reference-app.js';

const send = (res: Response, answer: HostileApiAnswer) => {
  for (const [name, value] of answer.headers) res.setHeader(name, value);
  res.status(answer.status).json(answer.body);
};

runHostileHttpSuite({
  name: 'express',
  start: async ({ manager, csrf, hybrid, api }) => {
    const { app } = referenceApp(manager, csrf, { hybrid });
    app.post('/api/token', async (req, res) => send(res, await api.refresh(req.body)));
    app.get('/api/me', async (req, res) => send(res, await api.me(req.headers.authorization)));
    notFound(app);
    return listen(app);
  },
  sendRaw,
});

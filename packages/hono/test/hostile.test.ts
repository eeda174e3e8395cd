import { getConnInfo } from '@hono/node-server/conninfo';
import { runHostileHttpSuite } from '@org/session-core/testing/vitest';
import { sendRaw } from '../../../test-support/raw-http.js';
import { referenceApp } from './fixtures/reference-app.js';
import { listen } from './node-server.js';

runHostileHttpSuite({
  name: 'hono (node-server)',
  start: async ({ manager, csrf, hybrid, api }) => {
    const { app } = referenceApp(manager, csrf, { getConnInfo, hybrid });
    app.post('/api/token', async (c) => {
      const answer = await api.refresh(await c.req.json());
      return c.json(answer.body as object, answer.status as 200, Object.fromEntries(answer.headers));
    });
    app.get('/api/me', async (c) => {
      const answer = await api.me(c.req.header('authorization'));
      return c.json(answer.body as object, answer.status as 200, Object.fromEntries(answer.headers));
    });
    return listen(app);
  },
  sendRaw,
});

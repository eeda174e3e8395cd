import { runHostileHttpSuite } from '@org/session-core/testing/vitest';
import { sendRaw } from '../../../test-support/raw-http.js';
import { listen, referenceApp } from './fixtures/reference-app.js';

runHostileHttpSuite({
  name: 'fastify',
  start: async ({ manager, csrf, hybrid, api }) => {
    const app = await referenceApp(manager, csrf, { hybrid });
    app.post('/api/token', async (request, reply) => {
      const answer = await api.refresh(request.body);
      return reply.code(answer.status).headers(Object.fromEntries(answer.headers)).send(answer.body);
    });
    app.get('/api/me', async (request, reply) => {
      const answer = await api.me(request.headers.authorization);
      return reply.code(answer.status).headers(Object.fromEntries(answer.headers)).send(answer.body);
    });
    return listen(app);
  },
  sendRaw,
});

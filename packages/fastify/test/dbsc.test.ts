import { runDbscHttpSuite } from '@org/session-core/testing/vitest';
import Fastify from 'fastify';
import { fastifyDbsc, fastifySessions } from '../src/index.js';

// The Fastify app of the docs: login offers DBSC, /dbsc/transfer requires binding, /dbsc/profile does not.
runDbscHttpSuite({
  name: 'fastify',
  start: async ({ manager, dbsc: core }) => {
    const app = Fastify();
    await app.register(fastifySessions, { manager });
    const dbsc = fastifyDbsc(core);
    app.post('/dbsc/login', async (request, reply) => {
      dbsc.offer(reply, await app.sessions.login(request, reply, { userId: 'alice' }));
      return { ok: true };
    });
    app.post('/dbsc/register', dbsc.register);
    app.post('/dbsc/refresh', dbsc.refresh);
    app.get('/dbsc/profile', { preHandler: app.sessions.requireSession() }, async (request) => ({
      user: request.session?.userId,
    }));
    app.get('/dbsc/transfer', { preHandler: [app.sessions.requireSession(), dbsc.requireBound()] }, async () => ({
      sent: true,
    }));
    app.get('/dbsc/strict', { preHandler: [app.sessions.requireSession(), dbsc.requireBound('always')] }, async () => ({
      sent: true,
    }));
    app.post('/dbsc/logout', async (request, reply) => {
      await app.sessions.logout(request, reply);
      dbsc.clear(reply);
      return { ok: true };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
  },
});

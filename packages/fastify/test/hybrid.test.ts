import { runHybridHttpSuite } from '@org/session-core/testing/vitest';
import Fastify from 'fastify';
import { fastifySessions } from '../src/index.js';

runHybridHttpSuite({
  name: 'fastify',
  start: async ({ manager, csrf, hybrid }) => {
    const app = Fastify();
    await app.register(fastifySessions, { manager, csrf, hybrid });
    const { sessions } = app;
    const guarded = { preHandler: [sessions.requireSession(), sessions.csrf()] };

    app.get('/private', { preHandler: sessions.requireSession() }, async (request) => ({
      userId: request.session?.userId,
    }));
    app.get('/sensitive', { preHandler: sessions.requireSession({ strict: true }) }, async (request) => ({
      userId: request.session?.userId,
    }));
    app.get('/csrf', async (request, reply) => ({ csrfToken: sessions.csrfToken(request, reply) }));
    app.post<{ Body: { userId: string } }>('/login', { preHandler: sessions.csrf() }, async (request, reply) => {
      const session = await sessions.login(request, reply, { userId: request.body.userId });
      return { userId: session.userId };
    });
    app.post('/logout', { preHandler: sessions.csrf() }, async (request, reply) => {
      await sessions.logout(request, reply);
      return { ok: true };
    });
    app.post('/rotate', guarded, async (request, reply) => {
      const session = await sessions.rotate(request, reply, { reauthenticated: true });
      return { userId: session.userId };
    });

    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
  },
});

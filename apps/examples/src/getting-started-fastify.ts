// Getting started with Fastify 5 (docs/getting-started.md): the same app as an Express one, as a
// Fastify plugin with preHandler guards.
import { randomBytes } from 'node:crypto';
import { createSessionManager } from '@org/session-core';
import { fastifySessions } from '@org/session-fastify';
import { SqliteStore } from '@org/session-store-sqlite';
import Fastify from 'fastify';
import { checkPassword } from './users.js';

export async function start(options: { port: number; dbPath: string }) {
  const origin = `http://localhost:${options.port}`;
  const store = new SqliteStore({ path: options.dbPath, migrate: true });
  const app = Fastify();
  await app.register(fastifySessions, {
    manager: createSessionManager({ store, policy: 'aal2' }),
    csrf: { key: randomBytes(32), allowedOrigins: [origin] }, // load the key from your secrets
    closeStore: true, // this app owns the store: close it with the app
  });

  app.get('/csrf', async (request, reply) => ({ csrfToken: app.sessions.csrfToken(request, reply) }));
  app.post('/login', { preHandler: app.sessions.csrf() }, async (request, reply) => {
    const user = checkPassword(request.body);
    if (!user) return reply.code(401).send({ error: 'bad credentials' });
    await app.sessions.login(request, reply, { userId: user.id });
    return { userId: user.id };
  });
  app.get('/me', { preHandler: app.sessions.requireSession() }, async (request) => ({
    userId: request.session?.userId,
  }));
  app.post('/logout', { preHandler: app.sessions.csrf() }, async (request, reply) => {
    await app.sessions.logout(request, reply);
    return { ok: true };
  });

  await app.listen({ port: options.port, host: 'localhost' });
  return { origin, close: () => app.close() };
}

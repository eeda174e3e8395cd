import { type DpopAnswer, runDpopHttpSuite } from '@org/session-core/testing/vitest';
import * as dpopClient from 'dpop';
import Fastify, { type FastifyReply } from 'fastify';
import { fastifyDpop } from '../src/index.js';

const send = (reply: FastifyReply, answer: DpopAnswer) =>
  reply.code(answer.status).headers(answer.headers).send(answer.body);

runDpopHttpSuite({
  name: 'fastify',
  client: dpopClient as never,
  start: async ({ verifier, handlers }) => {
    const app = Fastify();
    const tokenEndpoint = { preHandler: fastifyDpop(verifier, { tokenEndpoint: true }) };
    const resource = { preHandler: fastifyDpop(verifier) };
    app.post<{ Body: { userId?: string } }>('/token', tokenEndpoint, async (request, reply) =>
      send(reply, await handlers.token(request.dpop, request.body)),
    );
    app.post<{ Body: { refresh_token?: string } }>('/token/refresh', tokenEndpoint, async (request, reply) =>
      send(reply, await handlers.refresh(request.dpop, request.body)),
    );
    app.post<{ Body: { token?: string } }>('/token/revoke', tokenEndpoint, async (request, reply) =>
      send(reply, await handlers.revoke(request.dpop, request.body)),
    );
    app.get('/api/me', resource, async (request, reply) => send(reply, await handlers.me(request.dpop, request.ip)));
    app.get('/api/jwt', resource, async (request, reply) => send(reply, await handlers.jwt(request.dpop)));

    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
  },
});

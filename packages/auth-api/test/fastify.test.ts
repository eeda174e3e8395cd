import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toNodeHandler } from '../src/node.js';
import { type Fixture, post, startApi } from './support.js';

/**
 * Fastify: the API reads its own body, so Fastify's parsers are told to leave it alone, and the
 * route hands the raw request and response to the node handler.
 */
describe('session API mounted on Fastify', () => {
  let api: Fixture;
  let app: FastifyInstance;
  let url = '';

  beforeAll(async () => {
    api = await startApi('memory', 'node');
    const handler = toNodeHandler(api.api);
    app = Fastify();
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, _payload, done) => done(null));
    app.all('/*', (request, reply) => {
      reply.hijack();
      void handler(request.raw, reply.raw);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app?.close();
    await api?.close();
  });

  it('authenticates, revokes and refuses like on node:http', async () => {
    const { token, sessionId } = await api.login();
    const answer = await post({ url, auth: api.auth }, '/sessions/authenticate', { session_token: token });
    expect(answer.status).toBe(200);
    expect((answer.json.session as { session_id: string }).session_id).toBe(sessionId);
    expect(await api.authority.jwt.verify(answer.json.session_jwt as string)).toMatchObject({ sid: sessionId });
    const revoked = await post({ url, auth: api.auth }, '/sessions/revoke', { session_token: token });
    expect(revoked.json).toEqual({ revoked: true });
    const after = await post({ url, auth: api.auth }, '/sessions/authenticate', { session_token: token });
    expect(after.status).toBe(401);
    const form = await post({ url, auth: api.auth }, '/sessions/authenticate', 'session_token=x', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(form.status).toBe(415);
  });
});

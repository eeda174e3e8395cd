import { type DpopAnswer, runDpopHttpSuite } from '@org/session-core/testing/vitest';
import * as dpopClient from 'dpop';
import { type Context, Hono } from 'hono';
import { honoDpop } from '../src/index.js';
import { listen } from './node-server.js';

const send = (c: Context, answer: DpopAnswer) => c.json(answer.body, answer.status as 200, answer.headers);

runDpopHttpSuite({
  name: 'hono (node-server)',
  client: dpopClient as never,
  start: async ({ verifier, handlers }) => {
    const app = new Hono();
    const tokenEndpoint = honoDpop(verifier, { tokenEndpoint: true });
    const resource = honoDpop(verifier);
    app.post('/token', tokenEndpoint, async (c) => send(c, await handlers.token(c.var.dpop, await c.req.json())));
    app.post('/token/refresh', tokenEndpoint, async (c) =>
      send(c, await handlers.refresh(c.var.dpop, await c.req.json())),
    );
    app.post('/token/revoke', tokenEndpoint, async (c) =>
      send(c, await handlers.revoke(c.var.dpop, await c.req.json())),
    );
    app.get('/api/me', resource, async (c) => send(c, await handlers.me(c.var.dpop, null)));
    app.get('/api/jwt', resource, async (c) => send(c, await handlers.jwt(c.var.dpop)));
    return listen(app);
  },
});

import type { AddressInfo } from 'node:net';
import { type DpopAnswer, runDpopHttpSuite } from '@org/session-core/testing/vitest';
import * as dpopClient from 'dpop';
import express, { type Response } from 'express';
import { expressDpop } from '../src/index.js';

const send = (res: Response, answer: DpopAnswer) => {
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  res.status(answer.status).json(answer.body);
};

runDpopHttpSuite({
  name: 'express',
  client: dpopClient as never,
  start: async ({ verifier, handlers }) => {
    const app = express();
    app.use(express.json());
    const tokenEndpoint = expressDpop(verifier, { tokenEndpoint: true });
    const resource = expressDpop(verifier);
    app.post('/token', tokenEndpoint, async (req, res) => send(res, await handlers.token(req.dpop, req.body)));
    app.post('/token/refresh', tokenEndpoint, async (req, res) =>
      send(res, await handlers.refresh(req.dpop, req.body)),
    );
    app.post('/token/revoke', tokenEndpoint, async (req, res) => send(res, await handlers.revoke(req.dpop, req.body)));
    app.get('/api/me', resource, async (req, res) => send(res, await handlers.me(req.dpop, req.ip ?? null)));
    app.get('/api/jwt', resource, async (req, res) => send(res, await handlers.jwt(req.dpop)));

    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  },
});

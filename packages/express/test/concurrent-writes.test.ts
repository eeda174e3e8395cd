import type { AddressInfo } from 'node:net';
import { createSessionManager, MemoryStore, type SessionData } from '@org/session-core';
import { instrumentStore } from '@org/session-core/testing';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { expressSessions } from '../src/index.js';

const servers: { close(): void }[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

async function start() {
  const probe = instrumentStore(new MemoryStore());
  const manager = createSessionManager<SessionData>({ store: probe.store, mode: 'development' });
  const auth = expressSessions(manager);
  const app = express();
  app.use(auth.middleware);
  // Each request adds its own item to the session, as a page firing parallel fetches would.
  app.post('/items/:item', auth.requireSession(), async (req, res) => {
    const session = req.session;
    if (!session) throw new Error('guarded route without a session');
    await manager.patch(session, { [`item-${req.params.item}`]: true });
    res.json({ ok: true });
  });
  app.get('/items', auth.requireSession(), (req, res) => {
    res.json(Object.keys(req.session?.data ?? {}).sort());
  });
  app.use(auth.errorHandler);
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issued = await manager.create({ userId: 'u-concurrent' });
  const cookie = issued.cookies.map((line) => line.split(';')[0]).join('; ');
  return { url, cookie, probe };
}

describe('ten parallel requests of one browser, each writing the session', () => {
  it('all succeed, every write is kept, and the writes cost at most 1.5 store round trips each', async () => {
    const { url, cookie, probe } = await start();
    probe.reset();
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        fetch(`${url}/items/${i}`, { method: 'POST', headers: { cookie }, signal: AbortSignal.timeout(10_000) }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200));
    // One read per request validates it; what the writes cost is everything else.
    expect(probe.calls.get).toBeGreaterThanOrEqual(10);
    expect((probe.total() - 10) / 10).toBeLessThanOrEqual(1.5);
    const listed = await fetch(`${url}/items`, { headers: { cookie }, signal: AbortSignal.timeout(10_000) });
    expect(await listed.json()).toEqual(Array.from({ length: 10 }, (_, i) => `item-${i}`).sort());
  });
});

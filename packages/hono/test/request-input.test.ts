import { getConnInfo } from '@hono/node-server/conninfo';
import { createSessionManager, MemoryStore } from '@org/session-core';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { honoSessions, type SessionEnv } from '../src/index.js';
import { listen } from './node-server.js';

/**
 * What the middleware reads lazily (user agent, peer address, method) still arrives where core
 * needs it, and what it keeps for itself stays out of the app's `c.var`.
 */
describe('hono request input, through @hono/node-server', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => close?.());

  async function start() {
    const manager = createSessionManager({ store: new MemoryStore() });
    const auth = honoSessions(manager, { getConnInfo });
    const app = new Hono<SessionEnv>();
    app.use(auth.middleware);
    app.post('/login', async (c) => c.json({ id: (await auth.login(c, { userId: 'user-1' })).id }));
    app.get('/vars', (c) => c.json({ keys: Object.keys(c.var).sort(), userId: c.var.session?.userId ?? null }));
    const server = await listen(app);
    close = server.close;
    return { manager, url: server.url };
  }

  it('login records the user agent and the peer address read from the request', async () => {
    const { manager, url } = await start();
    const res = await fetch(`${url}/login`, { method: 'POST', headers: { 'user-agent': 'agent/1.0' } });
    expect(res.status).toBe(200);
    const [session] = await manager.list('user-1');
    expect(session?.metadata.userAgent).toBe('agent/1.0');
    expect(session?.metadata.ip).toBe('127.0.0.1');
  });

  it('c.var holds session and sessionResult only; the session shows on the next request', async () => {
    const { url } = await start();
    const anonymous = await (await fetch(`${url}/vars`)).json();
    expect(anonymous).toEqual({ keys: ['session', 'sessionResult'], userId: null });
    const login = await fetch(`${url}/login`, { method: 'POST' });
    const cookie = login.headers
      .getSetCookie()
      .map((line) => line.split(';')[0])
      .join('; ');
    const signedIn = await (await fetch(`${url}/vars`, { headers: { cookie } })).json();
    expect(signedIn).toEqual({ keys: ['session', 'sessionResult'], userId: 'user-1' });
  });
});

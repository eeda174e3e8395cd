import { createSessionManager, MemoryStore, type SessionManager } from '@org/session-core';
import type { SessionStrategy } from '@org/session-core/adapter';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { type HonoSessionsOptions, honoSessions, type SessionEnv } from '../src/index.js';

/**
 * The middleware's own branches, in process (`app.request`, no server): the URL schemes it reads
 * without a new string, a context that opens synchronously or later, and `c.var` following
 * login and logout within the request.
 */
describe('hono middleware read path', () => {
  async function setup(options: HonoSessionsOptions = {}, manager?: SessionManager) {
    const sessions = manager ?? createSessionManager({ store: new MemoryStore() });
    const auth = honoSessions(sessions, options);
    const app = new Hono<SessionEnv>();
    app.use(auth.middleware);
    app.get('/me', (c) => c.json({ userId: c.var.session?.userId ?? null, status: c.var.sessionResult?.status }));
    app.post('/login', async (c) => {
      const before = c.var.session?.userId ?? null;
      await auth.login(c, { userId: 'user-2' });
      return c.json({ before, after: c.var.session?.userId ?? null, status: c.var.sessionResult?.status });
    });
    app.post('/logout', async (c) => {
      await auth.logout(c);
      return c.json({ after: c.var.session?.userId ?? null });
    });
    const issued = await sessions.create({ userId: 'user-1' });
    const cookie = issued.cookies.map((line) => line.split(';')[0]).join('; ');
    return { app, cookie, manager: sessions };
  }

  it('https: the session is read; c.var follows a login and a logout in the same request', async () => {
    const { app, cookie } = await setup();
    const read = await app.request('https://app.example/me', { headers: { cookie } });
    expect(await read.json()).toEqual({ userId: 'user-1', status: 'valid' });
    expect(read.headers.get('set-cookie')).toBeNull();

    const login = await app.request('https://app.example/login', { method: 'POST', headers: { cookie } });
    expect(await login.json()).toEqual({ before: 'user-1', after: 'user-2', status: 'valid' });
    expect(login.headers.getSetCookie()).toHaveLength(1);
    expect(login.headers.get('cache-control')).toBe('no-store');

    const logout = await app.request('https://app.example/logout', { method: 'POST', headers: { cookie } });
    expect(await logout.json()).toEqual({ after: null });
    expect(logout.headers.getSetCookie()[0]).toMatch(/Max-Age=0/);
  });

  it('plain http in production mode: refused unless loopback (host and trusted), and so is a scheme that only looks like https', async () => {
    const strict = await setup();
    const remote = await strict.app.request('http://app.example/me', { headers: { cookie: strict.cookie } });
    expect(remote.status).toBe(500);
    expect(((await remote.json()) as { error: { code: string } }).error.code).toBe('INSECURE_TRANSPORT');

    const loopback = await setup({ trustLoopbackHost: true });
    const local = await loopback.app.request('http://localhost:3000/me', { headers: { cookie: loopback.cookie } });
    expect(await local.json()).toEqual({ userId: 'user-1', status: 'valid' });
    // Only the exact scheme https counts as secure: look-alikes are plain schemes to core.
    for (const url of ['httpsx://app.example/me', 'httpx://app.example/me', 'ws://app.example/me']) {
      // A Request, since app.request reads any other string as a path.
      const other = await strict.app.request(new Request(url, { headers: { cookie: strict.cookie } }));
      expect(other.status).toBe(500);
    }
  });

  it('a context that opens later (an async strategy) sets c.var the same; a rejected open is answered, not thrown', async () => {
    const manager = createSessionManager({ store: new MemoryStore() });
    let fail = false;
    // The manager's own cookie validation behind a promise: core cannot open the context synchronously.
    const strategy = {
      manager,
      cookieNames: [manager.cookie.name],
      validate: async (cookieHeader) => {
        if (fail) throw new Error('strategy bug');
        return manager.validateCookie(cookieHeader);
      },
      create: (input) => manager.create(input),
      rotate: (session, options) => manager.rotate(session, options),
      logout: async (id) => {
        if (id) await manager.revoke(id);
        return [manager.deletionCookie()];
      },
      deletionCookies: () => [manager.deletionCookie()],
    } satisfies SessionStrategy;
    const { app, cookie } = await setup({ hybrid: strategy }, manager);
    const read = await app.request('https://app.example/me', { headers: { cookie } });
    expect(await read.json()).toEqual({ userId: 'user-1', status: 'valid' });

    fail = true;
    const broken = await app.request('https://app.example/me', { headers: { cookie } });
    expect(broken.status).toBe(500);
    expect(((await broken.json()) as { error: { code: string } }).error.code).toBe('INTERNAL_ERROR');
  });
});

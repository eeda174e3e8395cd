import { request as httpRequest } from 'node:http';
import { createSessionManager, MemoryStore, SessionError } from '@org/session-core';
import { readBearerToken } from '@org/session-core/adapter';
import { createLintedClient } from '@org/session-core/testing';
import { runAdapterHttpSuite } from '@org/session-core/testing/vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { sendRaw } from '../../../test-support/raw-http.js';
import { fastifySessions } from '../src/index.js';
import { listen, referenceApp } from './fixtures/reference-app.js';

runAdapterHttpSuite({
  name: 'fastify',
  start: async ({ manager, csrf }) => listen(await referenceApp(manager, csrf)),
  sendRaw,
});

describe('fastify plugin specifics', () => {
  const csrf = { key: new Uint8Array(32).fill(1), allowedOrigins: ['https://app.example'] };
  const apps: FastifyInstance[] = [];
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
  });
  const track = (app: FastifyInstance) => {
    apps.push(app);
    return app;
  };

  /** A plain node:http request, so that Host and X-Forwarded-* can be set freely. */
  const rawRequest = (port: number, path: string, headers: Record<string, string>, body?: string) =>
    new Promise<{ status: number; body: string; setCookie: string[] }>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, path, headers, method: body === undefined ? 'GET' : 'POST' },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => {
            text += chunk;
          });
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: text, setCookie: res.headers['set-cookie'] ?? [] }),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  it('B9: production over plain http to a public host is a 500 INSECURE_TRANSPORT through the error handler', async () => {
    const manager = createSessionManager({ store: new MemoryStore() });
    const { port } = await listen(track(await referenceApp(manager, csrf)));
    const res = await rawRequest(port, '/me', { host: 'app.example.com' });
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body).error.code).toBe('INSECURE_TRANSPORT');
    expect((await rawRequest(port, '/me', { host: 'localhost:3000' })).status).toBe(200);
  });

  it('honours trustProxy for the Secure decision and the client IP; ignores forwarded headers without it', async () => {
    const manager = createSessionManager({ store: new MemoryStore() });
    const trusting = await listen(track(await referenceApp(manager, csrf, {}, { trustProxy: '127.0.0.1' })));
    const proxied = { host: 'app.example.com', 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' };
    expect((await rawRequest(trusting.port, '/me', proxied)).status).toBe(200);

    const csrfRes = await rawRequest(trusting.port, '/csrf', proxied);
    const pre = csrfRes.setCookie[0]?.split(';')[0] as string;
    const { csrfToken } = JSON.parse(csrfRes.body) as { csrfToken: string };
    const login = await rawRequest(
      trusting.port,
      '/login',
      {
        ...proxied,
        cookie: pre,
        origin: 'https://app.example',
        'x-csrf-token': csrfToken,
        'content-type': 'application/json',
        'user-agent': 'proxy-test',
      },
      JSON.stringify({ userId: 'behind-proxy' }),
    );
    expect(login.status).toBe(200);
    const [session] = await manager.list('behind-proxy');
    expect(session?.metadata).toMatchObject({ ip: '203.0.113.7', userAgent: 'proxy-test' });

    const plain = await listen(track(await referenceApp(manager, csrf)));
    expect((await rawRequest(plain.port, '/me', proxied)).status).toBe(500);
  });

  it('item 15: an Authorization header disables no CSRF check on the login route; a bearer route still checks origins', async () => {
    const manager = createSessionManager({ store: new MemoryStore() });
    const app = track(await referenceApp(manager, csrf));
    // An API route that authenticates by bearer token and validates the token itself.
    app.post('/api/notes', { preHandler: app.sessions.csrf({ bearer: true }) }, async (request, reply) => {
      const result = await manager.validateToken(readBearerToken(request.headers.authorization));
      if (!result.session) return reply.code(401).send({ error: { code: 'UNAUTHENTICATED' } });
      return { userId: result.session.userId };
    });
    const { url } = await listen(app);
    const client = createLintedClient(url, { sessionCookie: manager.cookie, preSessionCookieName: '__Host-pre' });
    const bearer = { authorization: 'Bearer not-a-session-token' };
    const code = async (path: string, headers: Record<string, string>) => {
      const res = await client.request(path, { headers, json: { userId: 'victim' } });
      return res.status === 200 ? 200 : `${res.status} ${res.json<{ error: { code: string } }>().error.code}`;
    };
    // Login CSRF through a preflighted cross-site fetch that sets Authorization: refused.
    expect(await code('/login', { ...bearer, 'sec-fetch-site': 'cross-site' })).toBe('403 CSRF_REJECTED');
    expect(await code('/login', { ...bearer, origin: 'https://attacker.example' })).toBe('403 CSRF_REJECTED');
    expect(await code('/login', { ...bearer, origin: 'https://app.example' })).toBe('403 CSRF_REJECTED');
    expect(await manager.list('victim')).toEqual([]);

    const { token } = await manager.create({ userId: 'api-user' });
    const api = { authorization: `Bearer ${token}` };
    expect(await code('/api/notes', api)).toBe(200);
    expect(await code('/api/notes', { ...api, origin: 'https://app.example' })).toBe(200);
    expect(await code('/api/notes', { ...api, 'sec-fetch-site': 'cross-site' })).toBe('403 CSRF_REJECTED');
    expect(await code('/api/notes', { ...api, origin: 'https://attacker.example' })).toBe('403 CSRF_REJECTED');
    expect(await code('/api/notes', { ...api, origin: 'https://app.example', cookie: 'theme=dark' })).toBe(
      '403 CSRF_REJECTED',
    );
  });

  it('respects encapsulation: a sibling scope gets no session hook or decorators', async () => {
    const manager = createSessionManager({ store: new MemoryStore() });
    const issued = await manager.create({ userId: 'scoped' });
    const app = track(Fastify());
    await app.register(async (inside) => {
      await inside.register(fastifySessions, { manager });
      inside.get('/inside', async (request) => ({ userId: request.session?.userId ?? null }));
    });
    await app.register(async (outside) => {
      outside.get('/outside', async (request) => ({
        decorated: 'session' in request,
        hasSessions: outside.hasDecorator('sessions'),
      }));
    });
    const { url } = await listen(app);
    const client = createLintedClient(url, { sessionCookie: manager.cookie });
    const cookies = { '__Host-sid': issued.token };
    expect((await client.request('/inside', { cookies })).json()).toEqual({ userId: 'scoped' });
    expect((await client.request('/outside', { cookies })).json()).toEqual({ decorated: false, hasSessions: false });
  });

  it('closes the store on close only when asked to', async () => {
    class ClosingStore extends MemoryStore {
      closed = 0;
      override async close() {
        this.closed++;
        await super.close();
      }
    }
    for (const [closeStore, expected] of [
      [true, 1],
      [false, 0],
    ] as const) {
      const store = new ClosingStore();
      const app = Fastify();
      await app.register(fastifySessions, { manager: createSessionManager({ store }), closeStore });
      await app.ready();
      await app.close();
      expect(store.closed).toBe(expected);
    }
  });

  it('leaves errors that are not SessionErrors to the error handler it wrapped', async () => {
    const manager = createSessionManager({ store: new MemoryStore() });
    const app = track(Fastify());
    await app.register(async (scope) => {
      scope.setErrorHandler(async (error, _request, reply) =>
        reply.code(418).send({ handledBy: error instanceof SessionError ? 'session' : 'app' }),
      );
      await scope.register(async (inner) => {
        await inner.register(fastifySessions, { manager });
        inner.get('/boom', async () => {
          throw new Error('not ours');
        });
        inner.get('/guarded', { preHandler: inner.sessions.requireSession() }, async () => ({ ok: true }));
      });
    });
    const { url } = await listen(app);
    const client = createLintedClient(url, { sessionCookie: manager.cookie });
    const boom = await client.request('/boom');
    expect({ status: boom.status, body: boom.json() }).toEqual({ status: 418, body: { handledBy: 'app' } });
    const guarded = await client.request('/guarded');
    expect({ status: guarded.status, body: guarded.json() }).toEqual({
      status: 401,
      body: { error: { code: 'UNAUTHENTICATED', message: 'No valid session' } },
    });
    expect(guarded.headers.get('www-authenticate')).toBe('Session');
  });

  it('errorHandler: false leaves SessionErrors to the app', async () => {
    const manager = createSessionManager({ store: new MemoryStore() });
    const app = track(Fastify());
    await app.register(fastifySessions, { manager, errorHandler: false });
    app.setErrorHandler(async (error, _request, reply) =>
      reply
        .code(303)
        .header('location', '/login')
        .send({ code: (error as SessionError).code }),
    );
    app.get('/guarded', { preHandler: app.sessions.requireSession() }, async () => ({ ok: true }));
    const { url } = await listen(app);
    const res = await createLintedClient(url, { sessionCookie: manager.cookie }).request('/guarded');
    expect({ status: res.status, location: res.headers.get('location') }).toEqual({ status: 303, location: '/login' });
  });

  it('csrf() and csrfToken() without the csrf option are configuration errors', async () => {
    const app = track(Fastify());
    await app.register(fastifySessions, { manager: createSessionManager({ store: new MemoryStore() }) });
    expect(() => app.sessions.csrf()).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSessionManager, isSessionError, MemoryStore, type SessionManager } from '@org/session-core';
import { readBearerToken } from '@org/session-core/adapter';
import { createLintedClient, instrumentStore } from '@org/session-core/testing';
import { runAdapterHttpSuite } from '@org/session-core/testing/vitest';
import express, { type Express } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { sendRaw } from '../../../test-support/raw-http.js';
import { type ExpressSessions, type ExpressSessionsOptions, expressSessions } from '../src/index.js';
import { listen, notFound, referenceApp } from './fixtures/reference-app.js';

runAdapterHttpSuite({
  name: 'express',
  start: async ({ manager, csrf }) => {
    const { app } = referenceApp(manager, csrf);
    notFound(app);
    return listen(app);
  },
  sendRaw,
});

describe('express adapter specifics', () => {
  const csrf = { key: new Uint8Array(32).fill(1), allowedOrigins: ['https://app.example'] };
  const servers: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
  });
  const start = async (
    manager: SessionManager,
    configure?: (app: Express, auth: ExpressSessions) => void,
    extra?: ExpressSessionsOptions,
  ) => {
    const { app, auth } = referenceApp(manager, csrf, extra);
    configure?.(app, auth);
    const server = await listen(app);
    servers.push(server);
    return {
      ...server,
      client: createLintedClient(server.url, { sessionCookie: manager.cookie, preSessionCookieName: '__Host-pre' }),
    };
  };

  /** A plain node:http request, so that Host and X-Forwarded-* can be set freely. */
  const rawGet = (port: number, path: string, headers: Record<string, string>) =>
    new Promise<{ status: number; body: string; setCookie: string[] }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, setCookie: res.headers['set-cookie'] ?? [] }));
      });
      req.on('error', reject);
      req.end();
    });

  it('B9: production over plain http to a public host is a 500 INSECURE_TRANSPORT, never a silent downgrade', async () => {
    const manager = createSessionManager({ store: new MemoryStore() });
    const { port } = await start(manager);
    const res = await rawGet(port, '/me', { host: 'app.example.com' });
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body).error.code).toBe('INSECURE_TRANSPORT');
    expect((await rawGet(port, '/me', { host: 'localhost:3000' })).status).toBe(200);
  });

  it('req.session and req.sessionResult follow the request context (login, logout), in sub-apps too, and stay assignable', async () => {
    const manager = createSessionManager({ store: new MemoryStore() });
    const auth = expressSessions(manager);
    const app = express();
    app.use(auth.middleware);
    const seen = (req: express.Request) => ({
      userId: req.session?.userId ?? null,
      status: req.sessionResult?.status ?? null,
    });
    app.post('/login-here', async (req, res) => {
      const before = seen(req);
      await auth.login(req, res, { userId: 'u1' });
      const after = seen(req);
      await auth.logout(req, res);
      res.json({ before, after, out: seen(req) });
    });
    app.get('/assigned', async (req, res) => {
      // An app (or another middleware) may assign the property itself: a plain value, kept current.
      req.session = null;
      const assigned = req.session;
      await auth.login(req, res, { userId: 'u2' });
      res.json({ assigned, after: seen(req), own: Object.keys(req).includes('session') });
    });
    const sub = express();
    sub.get('/me', (req, res) => {
      res.json(seen(req));
    });
    app.use('/sub', sub);
    app.get('/me', (req, res) => {
      res.json(seen(req));
    });
    const server = await listen(app);
    servers.push(server);

    const here = await (await fetch(`${server.url}/login-here`, { method: 'POST' })).json();
    expect(here).toEqual({
      before: { userId: null, status: 'absent' },
      after: { userId: 'u1', status: 'absent' },
      out: { userId: null, status: 'absent' },
    });
    const assigned = await fetch(`${server.url}/assigned`);
    expect(await assigned.json()).toEqual({ assigned: null, after: { userId: 'u2', status: 'absent' }, own: true });
    const cookie = (assigned.headers.getSetCookie()[0] as string).split(';')[0] as string;
    for (const path of ['/me', '/sub/me']) {
      expect(await (await fetch(`${server.url}${path}`, { headers: { cookie } })).json()).toEqual({
        userId: 'u2',
        status: 'valid',
      });
      expect(await (await fetch(`${server.url}${path}`)).json()).toEqual({ userId: null, status: 'absent' });
    }
  });

  it('one adapter on two apps, requests alternating: every request of each app gets the session accessors; a login without a User-Agent records none', async () => {
    const manager = createSessionManager({ store: new MemoryStore() });
    const auth = expressSessions(manager);
    const apps = [express(), express()];
    for (const [index, app] of apps.entries()) {
      app.use(auth.middleware);
      app.get('/login', async (req, res) => {
        await auth.login(req, res, { userId: `user-${index}` });
        res.json({ userId: req.session?.userId ?? null });
      });
      app.get('/me', (req, res) => {
        res.json({ app: index, userId: req.session?.userId ?? null, status: req.sessionResult?.status ?? null });
      });
    }
    const listening = await Promise.all(apps.map((app) => listen(app)));
    servers.push(...listening);
    const ports = listening.map((server) => server.port);
    const cookies: string[] = [];
    for (const [index, port] of ports.entries()) {
      const login = await rawGet(port, '/login', { host: 'localhost' });
      expect(JSON.parse(login.body)).toEqual({ userId: `user-${index}` });
      cookies.push((login.setCookie[0] as string).split(';')[0] as string);
    }
    for (const round of [0, 1]) {
      for (const [index, port] of ports.entries()) {
        const me = await rawGet(port, '/me', { host: 'localhost', cookie: cookies[index] as string });
        expect(JSON.parse(me.body), `round ${round}`).toEqual({ app: index, userId: `user-${index}`, status: 'valid' });
      }
    }
    const [session] = await manager.list('user-0');
    expect(session?.metadata.userAgent).toBeNull();
  });

  it('honours trust proxy for the Secure decision and the client IP', async () => {
    const manager = createSessionManager({ store: new MemoryStore() });
    const { port } = await start(manager, (app) => app.set('trust proxy', 'loopback'));
    const proxied = { host: 'app.example.com', 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' };
    expect((await rawGet(port, '/me', proxied)).status).toBe(200);
    expect((await rawGet(port, '/me', { ...proxied, 'x-forwarded-proto': 'http' })).status).toBe(500);

    const csrfRes = await rawGet(port, '/csrf', proxied);
    const pre = csrfRes.setCookie[0]?.split(';')[0] as string;
    const { csrfToken } = JSON.parse(csrfRes.body) as { csrfToken: string };
    const login = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/login',
          method: 'POST',
          headers: {
            ...proxied,
            cookie: pre,
            origin: 'https://app.example',
            'x-csrf-token': csrfToken,
            'content-type': 'application/json',
            'user-agent': 'proxy-test',
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ userId: 'behind-proxy' }));
    });
    expect(login).toBe(200);
    const [session] = await manager.list('behind-proxy');
    expect(session?.metadata).toMatchObject({ ip: '203.0.113.7', userAgent: 'proxy-test' });
  });

  it("plain http on loopback: a trusted proxy's X-Forwarded-Host and X-Forwarded-Proto decide, an untrusted client's do not", async () => {
    const manager = createSessionManager({ store: new MemoryStore() });
    const trusted = await start(manager, (app) => app.set('trust proxy', 'loopback'));
    const status = async (port: number, headers: Record<string, string>) => (await rawGet(port, '/me', headers)).status;
    expect(await status(trusted.port, { host: 'app.example.com', 'x-forwarded-host': 'localhost' })).toBe(200);
    expect(await status(trusted.port, { host: 'localhost', 'x-forwarded-host': 'app.example.com' })).toBe(500);
    expect(await status(trusted.port, { host: 'localhost', 'x-forwarded-proto': 'http' })).toBe(200);
    expect(await status(trusted.port, { host: 'app.example.com', 'x-forwarded-proto': 'https' })).toBe(200);
    const untrusted = await start(manager);
    expect(await status(untrusted.port, { host: 'localhost', 'x-forwarded-host': 'app.example.com' })).toBe(200);
    expect(await status(untrusted.port, { host: 'app.example.com', 'x-forwarded-host': 'localhost' })).toBe(500);
    expect(await status(untrusted.port, { host: 'localhost' })).toBe(200);
  });

  it('B9: over TLS (a self-signed certificate) production serves any host, with no proxy header', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'express-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=app.example.com',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const manager = createSessionManager({ store: new MemoryStore() });
    const { app } = referenceApp(manager, csrf);
    const server = createHttpsServer(
      { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
      app,
    );
    rmSync(dir, { recursive: true, force: true });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    const { port } = server.address() as AddressInfo;
    const { token } = await manager.create({ userId: 'tls-user' });
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/me',
          rejectUnauthorized: false,
          headers: { host: 'app.example.com', cookie: `${manager.cookie.name}=${token}` },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => {
            text += chunk;
          });
          res.on('end', () => resolve(`${res.statusCode} ${text}`));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(body).toMatch(/^200 .*tls-user/);
  });

  it('without trust proxy, X-Forwarded-* headers from the client are ignored', async () => {
    const manager = createSessionManager({ store: new MemoryStore() });
    const { port } = await start(manager);
    const spoofed = { host: 'app.example.com', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'localhost' };
    expect((await rawGet(port, '/me', spoofed)).status).toBe(500);
  });

  it('keeps Set-Cookie headers the app wrote itself', async () => {
    const manager = createSessionManager({ store: new MemoryStore() });
    const { client } = await start(manager, (app) =>
      app.get('/theme', (req, res) => {
        res.cookie('theme', 'dark');
        res.json({ anonymous: req.session === null });
      }),
    );
    const res = await client.request('/theme');
    expect(res.setCookies).toEqual(['theme=dark; Path=/']);
  });

  it('onError lets pages redirect instead of answering JSON', async () => {
    const manager = createSessionManager({ store: new MemoryStore() });
    const { client } = await start(manager, undefined, {
      onError: (error, _req, res) => {
        res.redirect(303, `/login?reason=${error.code}`);
      },
    });
    const res = await client.request('/private');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/login?reason=UNAUTHENTICATED');
  });

  it('guards and helpers refuse to run without the middleware, with a configuration error', async () => {
    const manager = createSessionManager({ store: new MemoryStore() });
    const auth = expressSessions(manager);
    const app = express();
    app.get('/guarded', auth.requireSession(), (_req, res) => {
      res.json({ ok: true });
    });
    const server = await listen(app);
    servers.push(server);
    const client = createLintedClient(server.url, { sessionCookie: manager.cookie });
    const res = await client.request('/guarded');
    expect({ status: res.status, code: res.json<{ error: { code: string } }>().error.code }).toEqual({
      status: 500,
      code: 'CONFIG_INVALID',
    });
    expect(() => auth.csrf()).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('errorHandler leaves errors that are not SessionErrors to Express', async () => {
    const manager = createSessionManager({ store: new MemoryStore() });
    const { client } = await start(manager, (app) => {
      const router = express.Router();
      router.get('/boom', () => {
        throw new Error('not ours');
      });
      app.use('/x', router);
      app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
        res.status(418).json({ handledBy: isSessionError(error) ? 'session' : 'app' });
      });
    });
    const res = await client.request('/x/boom');
    expect({ status: res.status, body: res.json() }).toEqual({ status: 418, body: { handledBy: 'app' } });
  });

  it('item 15: an Authorization header disables no CSRF check on the login route; a bearer route still checks origins', async () => {
    const manager = createSessionManager({ store: new MemoryStore() });
    const { client } = await start(manager, (app, auth) => {
      // An API route that authenticates by bearer token and validates the token itself.
      app.post('/api/notes', auth.csrf({ bearer: true }), async (req, res) => {
        const result = await manager.validateToken(readBearerToken(req.headers.authorization));
        if (result.session) res.json({ userId: result.session.userId });
        else res.status(401).json({ error: { code: 'UNAUTHENTICATED' } });
      });
    });
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

  it('logout during a store outage gives 503 and keeps the cookie (the session may still be alive)', async () => {
    const instrumented = instrumentStore(new MemoryStore());
    const manager = createSessionManager({ store: instrumented.store });
    const { client } = await start(manager);
    const issued = await manager.create({ userId: 'u-outage' });
    const cookies = { '__Host-sid': issued.token };
    const { csrfToken } = (await client.request('/csrf', { cookies })).json<{ csrfToken: string }>();
    instrumented.fail('error');
    const res = await client.request('/logout', {
      cookies,
      headers: { origin: 'https://app.example', 'x-csrf-token': csrfToken },
      json: {},
    });
    expect({ status: res.status, code: res.json<{ error: { code: string } }>().error.code }).toEqual({
      status: 503,
      code: 'STORE_UNAVAILABLE',
    });
    expect(res.setCookies).toEqual([]);
    instrumented.fail(null);
    expect((await manager.validateToken(issued.token)).status).toBe('valid');
  });
});

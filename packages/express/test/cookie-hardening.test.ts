// Hardening items 6, 7 and 9 through Express over real HTTP: the adapter hands core the raw Cookie
// header and the socket's peer address; every decision is core's.
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CookieMode, createSessionManager, MemoryStore, type SessionManager } from '@org/session-core';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { expressSessions } from '../src/index.js';

const servers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of servers.splice(0)) await close();
});

/** A server on 127.0.0.1 that reads headers up to 256 KiB (Node's default stops at 16 KiB). */
async function start(mode: CookieMode) {
  const manager = createSessionManager({ store: new MemoryStore(), mode });
  const auth = expressSessions(manager);
  const app = express();
  app.use(auth.middleware);
  app.get('/private', auth.requireSession(), (req, res) => {
    res.json({ userId: req.session?.userId });
  });
  app.use(auth.errorHandler);
  const server = createServer({ maxHeaderSize: 256 * 1024 }, app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { manager, port: (server.address() as AddressInfo).port };
}

/** A plain node:http GET, so that Host and Cookie can be set freely. */
function get(port: number, headers: Record<string, string>) {
  return new Promise<{ status: number; code: string | null; setCookie: string[] }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/private', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => {
        const code = res.statusCode === 200 ? null : (JSON.parse(body).error?.code ?? null);
        resolve({ status: res.statusCode ?? 0, code, setCookie: res.headers['set-cookie'] ?? [] });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const tokenOf = async (manager: SessionManager) => (await manager.create({ userId: 'u1' })).token;

describe('express: hardening items over real HTTP', () => {
  it('item 6: planted same-name cookies (development mode, name "sid") never delete the real one', async () => {
    const { manager, port } = await start('development');
    const token = await tokenOf(manager);
    const host = '127.0.0.1';
    expect(await get(port, { host, cookie: `${'sid=junk; '.repeat(4)}sid=${token}` })).toEqual({
      status: 200,
      code: null,
      setCookie: [],
    });
    const tossed = await get(port, { host, cookie: `sid=a; sid=b; sid=c; sid=d; sid=${token}` });
    expect(tossed).toEqual({ status: 401, code: 'UNAUTHENTICATED', setCookie: [] });
    expect((await get(port, { host, cookie: 'sid=junk; sid=other' })).setCookie).toEqual([]);
    // One dead cookie alone is still deleted.
    expect((await get(port, { host, cookie: 'sid=junk' })).setCookie).toEqual([manager.deletionCookie()]);
  });

  it('item 7: a Cookie header over 64 KiB whose live token crosses the cut gets no deletion cookie', async () => {
    const { manager, port } = await start('production');
    const token = await tokenOf(manager);
    const pad = Array.from({ length: 13_100 }, () => 'p=1').join('; ');
    const cut = await get(port, { host: 'localhost', cookie: `${pad}; __Host-sid=${token}` });
    expect(cut).toEqual({ status: 401, code: 'UNAUTHENTICATED', setCookie: [] });
    const before = await get(port, { host: 'localhost', cookie: `__Host-sid=junk; ${pad}; __Host-sid=${token}` });
    expect(before).toEqual({ status: 401, code: 'UNAUTHENTICATED', setCookie: [] });
    expect((await get(port, { host: 'localhost', cookie: `__Host-sid=${token}; ${pad}` })).status).toBe(200);
  });

  it('item 9: on 127.0.0.1 the socket is loopback: plain http works for a loopback Host and only for one', async () => {
    const { manager, port } = await start('production');
    const cookie = `__Host-sid=${await tokenOf(manager)}`;
    for (const host of ['localhost', `localhost:${port}`, `127.0.0.1:${port}`, 'app.localhost']) {
      expect((await get(port, { host, cookie })).status, host).toBe(200);
    }
    // Forwarded headers from an untrusted client change nothing.
    const spoofed = {
      host: 'app.example.com',
      cookie,
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-host': 'localhost',
    };
    expect(await get(port, spoofed)).toMatchObject({ status: 500, code: 'INSECURE_TRANSPORT' });
  });
});

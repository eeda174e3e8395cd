import { createSessionManager, MemoryStore, type SessionEvent } from '@org/session-core';
import { createDbsc } from '@org/session-core/dbsc';
import {
  createTestClock,
  generateDbscKey,
  parseChallengeHeader,
  parseRegistrationHeader,
  sessionResponseHeader,
  signDbscProof,
} from '@org/session-core/testing';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { honoDbsc, honoSessions } from '../src/index.js';
import { listen } from './node-server.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

/** The Hono app of the docs: login offers DBSC, /transfer requires binding, /profile does not. */
async function start() {
  const clock = createTestClock(Date.now());
  const events: SessionEvent[] = [];
  const manager = createSessionManager({ store: new MemoryStore(), clock, onEvent: (event) => events.push(event) });
  const auth = honoSessions(manager, { trustLoopbackHost: true });
  const dbsc = honoDbsc(createDbsc(manager, { secret: new Uint8Array(32).fill(3), boundCookieTtlMs: 60_000 }));
  const app = new Hono();
  app.use(auth.middleware);
  app.post('/login', async (c) => {
    dbsc.offer(c, await auth.login(c, { userId: 'alice' }));
    return c.json({ ok: true });
  });
  app.post('/dbsc/register', dbsc.register);
  app.post('/dbsc/refresh', dbsc.refresh);
  app.get('/profile', auth.requireSession(), (c) => c.json({ user: c.var.session?.userId }));
  app.get('/transfer', auth.requireSession(), dbsc.requireBound(), (c) => c.json({ sent: true }));
  app.get('/strict', auth.requireSession(), dbsc.requireBound('always'), (c) => c.json({ sent: true }));
  const server = await listen(app);
  closers.push(server.close);
  return { url: server.url, clock, events };
}

/** A cookie jar of name=value pairs, as a browser would keep them (Max-Age=0 deletes). */
class Jar {
  readonly cookies = new Map<string, string>();
  take(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const [name = '', value = ''] = pair.split('=');
      if (/Max-Age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
  copy(only?: string): Jar {
    const jar = new Jar();
    for (const [name, value] of this.cookies) if (!only || name === only) jar.cookies.set(name, value);
    return jar;
  }
}

async function call(url: string, jar: Jar, init: { method?: string; headers?: Record<string, string> } = {}) {
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers: { cookie: jar.header(), ...init.headers },
  });
  jar.take(response);
  return response;
}

/** Login and registration as a DBSC browser does them: the device's jar and key. */
async function boundBrowser(url: string) {
  const jar = new Jar();
  const login = await call(`${url}/login`, jar, { method: 'POST' });
  const offer = parseRegistrationHeader(login.headers.get('secure-session-registration') ?? '');
  const key = await generateDbscKey('ES256');
  const proof = await signDbscProof(key, { challenge: offer.challenge, registration: true });
  const registration = await call(`${url}${offer.path}`, jar, {
    method: 'POST',
    headers: { 'secure-session-response': sessionResponseHeader(proof) },
  });
  expect(registration.status).toBe(200);
  const instructions = (await registration.json()) as { session_identifier: string; refresh_url: string };
  return { jar, key, instructions };
}

/** The browser's refresh: POST without a proof, sign the 403's challenge, POST again. */
async function refresh(url: string, jar: Jar, key: Awaited<ReturnType<typeof generateDbscKey>>, id: string) {
  const first = await call(`${url}/dbsc/refresh`, jar, {
    method: 'POST',
    headers: { 'sec-secure-session-id': `"${id}"` },
  });
  expect(first.status).toBe(403);
  const { challenge } = parseChallengeHeader(first.headers.get('secure-session-challenge') ?? '');
  const proof = await signDbscProof(key, { challenge });
  return call(`${url}/dbsc/refresh`, jar, {
    method: 'POST',
    headers: { 'sec-secure-session-id': `"${id}"`, 'secure-session-response': sessionResponseHeader(proof) },
  });
}

describe('hono: Device Bound Session Credentials over HTTP', () => {
  it('registers the device key at login and lets the bound browser use sensitive routes', async () => {
    const { url, events } = await start();
    const { jar, instructions } = await boundBrowser(url);
    expect(instructions.refresh_url).toBe('/dbsc/refresh');
    expect(jar.cookies.has('__Host-sid-bound')).toBe(true);
    expect((await call(`${url}/transfer`, jar)).status).toBe(200);
    expect(events.some((e) => e.type === 'session.dbsc_registered')).toBe(true);
  });

  it('refreshes the short-lived cookie by proof of possession; a copied cookie stops working after its lifetime', async () => {
    const { url, clock, events } = await start();
    const { jar, key, instructions } = await boundBrowser(url);

    // Copied without the bound cookie: refused at once on bound routes, fine elsewhere.
    const sessionOnly = jar.copy('__Host-sid');
    expect((await call(`${url}/profile`, sessionOnly)).status).toBe(200);
    const refused = await call(`${url}/transfer`, sessionOnly);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('DBSC_BINDING_REQUIRED');

    // Copied with it: works until the bound cookie's short lifetime passes.
    const thief = jar.copy();
    expect((await call(`${url}/transfer`, thief)).status).toBe(200);
    clock.advance(60_000);
    expect((await call(`${url}/transfer`, thief)).status).toBe(401);
    expect((await call(`${url}/transfer`, jar)).status).toBe(401);

    // The device refreshes with its key; the thief cannot, and is reported.
    expect((await refresh(url, jar, key, instructions.session_identifier)).status).toBe(200);
    expect((await call(`${url}/transfer`, jar)).status).toBe(200);
    const thiefKey = await generateDbscKey('ES256');
    const stolen = await refresh(url, thief, thiefKey, instructions.session_identifier);
    expect(stolen.status).toBe(401);
    expect(((await stolen.json()) as { error: { code: string } }).error.code).toBe('DBSC_PROOF_INVALID');
    expect((await call(`${url}/transfer`, thief)).status).toBe(401);
    expect(events.filter((e) => e.type === 'session.dbsc_rejected').map((e) => 'reason' in e && e.reason)).toEqual([
      'key_mismatch',
    ]);
  });

  it('keeps ordinary sessions for browsers without DBSC unless the route requires binding', async () => {
    const { url } = await start();
    const jar = new Jar();
    const login = await call(`${url}/login`, jar, { method: 'POST' });
    expect(login.headers.get('secure-session-registration')).toMatch(
      /^\(ES256 RS256\);path="\/dbsc\/register";challenge="/,
    );
    expect((await call(`${url}/transfer`, jar)).status).toBe(200);
    expect((await call(`${url}/strict`, jar)).status).toBe(401);
    // Refresh of a session that never registered: refused, the browser would end its bound session.
    expect((await call(`${url}/dbsc/refresh`, jar, { method: 'POST' })).status).toBe(401);
    // Endpoints without a session cookie: 401 before any proof is read.
    expect((await call(`${url}/dbsc/register`, new Jar(), { method: 'POST' })).status).toBe(401);
  });
});

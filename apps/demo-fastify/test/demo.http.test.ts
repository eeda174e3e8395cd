/**
 * The Fastify demo over real HTTP on loopback, with the same header check on every response as
 * the Express demo (demo-shared/test-support/header-lint.ts).
 */
import { createTestClock } from '@org/session-core/testing';
import { signUpThenLogIn } from 'demo-shared/test-support/accounts';
import { DemoClient } from 'demo-shared/test-support/client';
import { makeDataDir, removeDataDir } from 'demo-shared/test-support/data-dir';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningFastifyDemo } from '../src/app.js';
import { bootFastifyDemo } from './support/demo.js';

const MINUTE = 60_000;
const PASSWORD = 'correct horse battery';
const clock = createTestClock(Date.now());
let demo: RunningFastifyDemo;
let dataDir: string;
let accounts = 0;

beforeAll(async () => {
  dataDir = makeDataDir();
  demo = await bootFastifyDemo(dataDir, { idleTimeoutMs: 10 * MINUTE, absoluteTimeoutMs: 60 * MINUTE }, clock);
});
afterAll(async () => {
  await demo?.close();
  if (dataDir) removeDataDir(dataDir);
});

async function signUp(userAgent?: string): Promise<{ client: DemoClient; email: string }> {
  const email = `fastify${++accounts}@example.com`;
  const client = new DemoClient(demo.origin, { userAgent });
  const response = await signUpThenLogIn(client, email, PASSWORD);
  expect(response.status).toBe(303);
  expect(response.location).toBe('/sessions');
  await client.get('/sessions');
  return { client, email };
}

async function logIn(email: string, userAgent?: string): Promise<DemoClient> {
  const client = new DemoClient(demo.origin, { userAgent });
  await client.get('/login');
  expect((await client.post('/login', { email, password: PASSWORD })).status).toBe(303);
  await client.get('/sessions');
  return client;
}

async function isLoggedIn(client: DemoClient): Promise<boolean> {
  const response = await client.get('/sessions');
  if (response.status === 200) return true;
  expect(response.status).toBe(303);
  expect(response.location).toMatch(/^\/login/);
  return false;
}

describe('Fastify demo: accounts and sessions', () => {
  it('signs up with the production cookie, exactly as the policy says', async () => {
    const { email } = await signUp();
    const client = new DemoClient(demo.origin);
    await client.get('/login');
    const response = await client.post('/login', { email, password: PASSWORD });
    expect(response.headers.getSetCookie()).toContain(
      `__Host-sid=${client.sessionToken}; Path=/; Secure; HttpOnly; SameSite=Lax`,
    );
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(client.cookies.has('__Host-pre')).toBe(false);
  });

  it('refuses a wrong password, a login without CSRF token, and a cross-site post', async () => {
    const { email } = await signUp();
    const client = new DemoClient(demo.origin);
    await client.get('/login');
    expect((await client.post('/login', { email, password: 'wrong password' })).status).toBe(401);
    expect((await client.post('/login', { email, password: PASSWORD }, { 'x-omit-csrf': '1' })).status).toBe(403);
    const crossSite = await client.post(
      '/login',
      { email, password: PASSWORD },
      { 'sec-fetch-site': 'cross-site', origin: 'http://127.0.0.1:1' },
    );
    expect(crossSite.status).toBe(403);
    expect(client.sessionToken).toBeUndefined();
  });

  it('logs out and kills the token server-side; a planted token is never adopted', async () => {
    const { client, email } = await signUp();
    const oldToken = client.sessionToken as string;
    expect((await client.post('/logout')).status).toBe(303);
    const replay = new DemoClient(demo.origin);
    replay.cookies.set('__Host-sid', oldToken);
    expect(await isLoggedIn(replay)).toBe(false);

    const planted = `${'P'.repeat(22)}.${'q'.repeat(43)}`;
    const victim = new DemoClient(demo.origin);
    victim.cookies.set('__Host-sid', planted);
    await victim.get('/login');
    await victim.post('/login', { email, password: PASSWORD });
    expect(victim.sessionToken).not.toBe(planted);
  });

  it("lists sessions, logs out one device and everywhere else, never another user's session", async () => {
    const { client, email } = await signUp('Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0');
    const phone = await logIn(email, 'Mozilla/5.0 (Linux; Android 15) Chrome/156.0 Mobile');
    const tablet = await logIn(email, 'tablet');
    const page = await client.get('/sessions');
    expect(page.body.match(/data-session=/g)).toHaveLength(3);
    expect(page.body).toContain('Firefox on Linux');
    expect(page.body).toContain('Chrome on Android');

    const { client: mallory } = await signUp();
    const handles = [...page.body.matchAll(/<tr class="" data-session="([^"]+)"/g)].map((m) => m[1] as string);
    expect((await mallory.post('/sessions/revoke', { session: handles[0] as string })).status).toBe(404);
    expect(await isLoggedIn(phone)).toBe(true);

    const phoneHandle = /<tr class="current" data-session="([^"]+)"/.exec((await phone.get('/sessions')).body)?.[1];
    await client.get('/sessions');
    expect((await client.post('/sessions/revoke', { session: phoneHandle as string })).status).toBe(303);
    expect(await isLoggedIn(phone)).toBe(false);
    expect(await isLoggedIn(tablet)).toBe(true);
    expect((await client.post('/sessions/revoke-others')).status).toBe(303);
    expect(await isLoggedIn(tablet)).toBe(false);
    expect(await isLoggedIn(client)).toBe(true);
  });

  it('asks for the password again for a sensitive action on a stale session', async () => {
    const { client } = await signUp();
    clock.advance(6 * MINUTE);
    await client.get('/account');
    const stale = await client.post('/account/password', { newPassword: 'another long password' });
    expect(stale.status).toBe(401);
    const before = client.sessionToken;
    expect((await client.post('/reauth', { password: PASSWORD, next: '/account' })).status).toBe(303);
    expect(client.sessionToken).not.toBe(before);
    await client.get('/account');
    expect((await client.post('/account/password', { newPassword: 'another long password' })).status).toBe(303);
  });

  it('ends an idle session and says so', async () => {
    const { client } = await signUp();
    clock.advance(10 * MINUTE + 1000);
    const response = await client.get('/sessions');
    expect(response.location).toBe('/login?reason=expired');
    expect(client.sessionToken).toBeUndefined();
  });

  it('issues a session JWT that /api/me accepts until the session ends', async () => {
    const { client, email } = await signUp();
    await client.get('/jwt');
    const issued = await client.request('POST', '/api/session-jwt', undefined, {
      origin: demo.origin,
      'x-csrf-token': client.csrfToken as string,
    });
    expect(issued.status).toBe(200);
    const { jwt } = JSON.parse(issued.body) as { jwt: string };
    const api = new DemoClient(demo.origin);
    const me = await api.get('/api/me', { authorization: `Bearer ${jwt}` });
    expect(me.status).toBe(200);
    expect(JSON.parse(me.body)).toMatchObject({ user: { email } });
    await client.post('/logout');
    expect((await api.get('/api/me', { authorization: `Bearer ${jwt}` })).status).toBe(401);
    expect(JSON.parse((await api.get('/api/me')).body)).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
  });

  it('answers an oversized form with 413 and a plain page, never a 500', async () => {
    const client = new DemoClient(demo.origin);
    await client.get('/login');
    const response = await client.post('/login', { email: 'a@example.com', password: 'x'.repeat(20_000) });
    expect(response.status).toBe(413);
    expect(response.body).toContain('Bad request');
  });

  it('sends HSTS and the CSP on every response', async () => {
    const client = new DemoClient(demo.origin);
    for (const path of ['/login', '/demo.css', '/nowhere', '/.well-known/jwks.json']) {
      const response = await client.get(path);
      expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
      expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    }
  });

  it('keeps sessions across a restart on the same SQLite files', async () => {
    const restartDir = makeDataDir();
    try {
      const first = await bootFastifyDemo(restartDir);
      const client = new DemoClient(first.origin);
      expect((await signUpThenLogIn(client, 'restart@example.com', PASSWORD)).status).toBe(303);
      await first.close();
      const second = await bootFastifyDemo(restartDir);
      try {
        const again = new DemoClient(second.origin);
        for (const [name, value] of client.cookies) again.cookies.set(name, value);
        expect((await again.get('/sessions')).status).toBe(200);
      } finally {
        await second.close();
      }
    } finally {
      removeDataDir(restartDir);
    }
  });
});

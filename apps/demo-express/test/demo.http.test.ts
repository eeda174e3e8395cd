/**
 * The Express demo over real HTTP on loopback: every flow a user can click through, with the header
 * check (support/header-lint.ts) on every response.
 */
import { request as httpRequest } from 'node:http';
import { createTestClock } from '@org/session-core/testing';
import { SIGNUP_SENT_PATH, signUpThenLogIn } from 'demo-shared/test-support/accounts';
import { DemoClient } from 'demo-shared/test-support/client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningDemo } from '../src/app.js';
import { bootDemo, makeDataDir, removeDataDir } from './support/demo.js';

const MINUTE = 60_000;
const PASSWORD = 'correct horse battery';
const clock = createTestClock(Date.now());
let demo: RunningDemo;
let dataDir: string;
let accounts = 0;

beforeAll(async () => {
  dataDir = makeDataDir();
  demo = await bootDemo(
    dataDir,
    { idleTimeoutMs: 10 * MINUTE, absoluteTimeoutMs: 60 * MINUTE, reauthAfterMs: 5 * MINUTE },
    clock,
  );
});
afterAll(async () => {
  await demo?.close();
  removeDataDir(dataDir);
});
// The test clock stands still, so the login throttle's per-address window (50 attempts in 15 min,
// all from 127.0.0.1 here) would never pass: each test starts a quarter of an hour later.
beforeEach(() => {
  clock.advance(16 * MINUTE);
});

/** A new account, signed up through the form; returns its logged-in client. */
async function signUp(userAgent?: string): Promise<{ client: DemoClient; email: string }> {
  const email = `user${++accounts}@example.com`;
  const client = new DemoClient(demo.origin, { userAgent });
  const response = await signUpThenLogIn(client, email, PASSWORD);
  expect(response.status).toBe(303);
  expect(response.location).toBe('/sessions');
  await client.get('/sessions'); // as a browser would: the next page carries a session-bound CSRF token
  return { client, email };
}

async function logIn(email: string, userAgent?: string, extra: Record<string, string> = {}): Promise<DemoClient> {
  const client = new DemoClient(demo.origin, { userAgent });
  await client.get('/login');
  const response = await client.post('/login', { email, password: PASSWORD, ...extra });
  expect(response.status).toBe(303);
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

describe('sign up, log in, log out', () => {
  it('signs up with a production session cookie and a page that shows no token', async () => {
    const { client, email } = await signUp();
    expect(client.sessionToken).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    // The pre-login CSRF cookie was ended at login (D3).
    expect(client.cookies.has('__Host-pre')).toBe(false);
    const page = await client.get('/sessions');
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.body).toContain(email);
  });

  it('sets the cookie with exactly the policy attributes and no-store on login', async () => {
    const { email } = await signUp();
    const client = new DemoClient(demo.origin);
    await client.get('/login');
    const response = await client.post('/login', { email, password: PASSWORD });
    const cookies = response.headers.getSetCookie();
    const session = cookies.find((c) => c.startsWith('__Host-sid='));
    expect(session).toBe(`__Host-sid=${client.sessionToken}; Path=/; Secure; HttpOnly; SameSite=Lax`);
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('"remember me" gives a persistent cookie whose Max-Age is the remaining absolute lifetime', async () => {
    const { email } = await signUp();
    const client = new DemoClient(demo.origin);
    await client.get('/login');
    const response = await client.post('/login', { email, password: PASSWORD, remember: '1' });
    const session = response.headers.getSetCookie().find((c) => c.startsWith('__Host-sid='));
    expect(session).toContain('; Max-Age=3600;');
  });

  it('refuses a wrong password with 401 and no session cookie, and an unknown email the same way', async () => {
    const { email } = await signUp();
    for (const attempt of [email, 'nobody@example.com']) {
      const client = new DemoClient(demo.origin);
      await client.get('/login');
      const response = await client.post('/login', { email: attempt, password: 'wrong password' });
      expect(response.status).toBe(401);
      expect(response.body).toContain('Wrong email or password.');
      expect(client.sessionToken).toBeUndefined();
    }
  });

  it('answers a registered e-mail like a new one (no enumeration), and refuses a short password', async () => {
    const { email } = await signUp();
    const client = new DemoClient(demo.origin);
    await client.get('/signup');
    const again = await client.post('/signup', { email, password: PASSWORD });
    expect([again.status, again.location]).toEqual([303, SIGNUP_SENT_PATH]);
    const short = await client.post('/signup', { email: 'short@example.com', password: 'short' });
    expect(short.status).toBe(400);
    expect(client.sessionToken).toBeUndefined();
  });

  it('logs out: deletes the cookie, and the old token is dead on the server (replay fails)', async () => {
    const { client } = await signUp();
    const oldToken = client.sessionToken as string;
    const response = await client.post('/logout');
    expect(response.status).toBe(303);
    expect(response.headers.getSetCookie()).toContain(
      '__Host-sid=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Lax',
    );
    expect(client.sessionToken).toBeUndefined();
    const replay = new DemoClient(demo.origin);
    replay.cookies.set('__Host-sid', oldToken);
    expect(await isLoggedIn(replay)).toBe(false);
  });

  it('never adopts a planted token: login issues a new one and the planted one stays invalid (FX-01)', async () => {
    const { email } = await signUp();
    const planted = `${'P'.repeat(22)}.${'q'.repeat(43)}`;
    const client = new DemoClient(demo.origin);
    client.cookies.set('__Host-sid', planted);
    await client.get('/login');
    await client.post('/login', { email, password: PASSWORD });
    expect(client.sessionToken).not.toBe(planted);
    const attacker = new DemoClient(demo.origin);
    attacker.cookies.set('__Host-sid', planted);
    expect(await isLoggedIn(attacker)).toBe(false);
  });

  it('logging in again from a logged-in browser rotates: the previous token is dead (FX-02, FX-05)', async () => {
    const { client, email } = await signUp();
    const before = client.sessionToken as string;
    const form = await client.get('/login'); // still offered: logging in again replaces this session
    expect(form.body).toContain('You are signed in as');
    const response = await client.post('/login', { email, password: PASSWORD });
    expect(response.status).toBe(303);
    expect(client.sessionToken).not.toBe(before);
    const stale = new DemoClient(demo.origin);
    stale.cookies.set('__Host-sid', before);
    expect(await isLoggedIn(stale)).toBe(false);
  });

  it('answers malformed and oversized cookies with the login page, never a 500', async () => {
    for (const value of ['junk', "' OR 1=1 --", `${'A'.repeat(22)}.${'b'.repeat(42)}`, 'x'.repeat(4000)]) {
      const client = new DemoClient(demo.origin);
      client.cookies.set('__Host-sid', value);
      const response = await client.get('/sessions');
      expect(response.status).toBe(303);
      expect(response.body).not.toContain(value);
    }
  });
});

describe('CSRF on the forms (H1-H6)', () => {
  it('refuses a login post without the pre-session token (login CSRF, CS-09)', async () => {
    const { email } = await signUp();
    const client = new DemoClient(demo.origin);
    await client.get('/login');
    const response = await client.post('/login', { email, password: PASSWORD }, { 'x-omit-csrf': '1' });
    expect(response.status).toBe(403);
    expect(response.body).toContain('CSRF_REJECTED');
    expect(client.sessionToken).toBeUndefined();
  });

  it('refuses a post from another origin even with a valid token (CS-01, CS-03)', async () => {
    const { client, email } = await signUp();
    const other = await logIn(email);
    const crossSite = await client.post(
      '/sessions/revoke-others',
      {},
      { origin: 'http://127.0.0.1:1', 'sec-fetch-site': 'cross-site' },
    );
    expect(crossSite.status).toBe(403);
    const wrongOrigin = await client.post('/sessions/revoke-others', {}, { origin: 'http://attacker.example' });
    expect(wrongOrigin.status).toBe(403);
    expect(await isLoggedIn(other)).toBe(true);
  });

  it('refuses a same-origin post with a missing or foreign token, accepts the right one', async () => {
    const { client: alice } = await signUp();
    const { client: bob } = await signUp();
    await alice.get('/sessions');
    await bob.get('/sessions');
    const missing = await alice.post('/sessions/revoke-others', {}, { 'x-omit-csrf': '1' });
    expect(missing.status).toBe(403);
    const foreign = await alice.post('/sessions/revoke-others', { _csrf: bob.csrfToken as string });
    expect(foreign.status).toBe(403);
    const right = await alice.post('/sessions/revoke-others');
    expect(right.status).toBe(303);
  });
});

describe('the sessions page', () => {
  it('lists every device with user agent, IP, created and last seen, and marks the current one', async () => {
    const { client, email } = await signUp('Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0.0.0 Safari/537.36');
    await logIn(email, 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Firefox/140.0');
    const page = await client.get('/sessions');
    expect(page.status).toBe(200);
    const rows = page.body.match(/<tr class="[^"]*" data-session=/g) ?? [];
    expect(rows).toHaveLength(2);
    expect(page.body).toContain('Chrome on Linux');
    expect(page.body).toContain('Firefox on macOS');
    expect(page.body).toContain('127.0.0.1');
    expect(page.body.match(/class="badge">this device/g)).toHaveLength(1);
    expect(page.body).toContain('Log out everywhere else (1)');
    expect(page.body).toContain('id="idle-expiry"');
    expect(page.body).toContain('id="absolute-expiry"');
  });

  it('logs out another device; that device is logged out on its next request', async () => {
    const { client, email } = await signUp();
    const phone = await logIn(email, 'phone');
    const page = await client.get('/sessions');
    const handle = /<tr class="" data-session="([^"]+)"/.exec(page.body)?.[1] as string;
    expect(handle).toBeTruthy();
    const response = await client.post('/sessions/revoke', { session: handle });
    expect(response.status).toBe(303);
    expect(response.location).toBe('/sessions?done=revoked');
    expect(await isLoggedIn(phone)).toBe(false);
    expect(await isLoggedIn(client)).toBe(true);
  });

  it('logs out everywhere else but keeps this device', async () => {
    const { client, email } = await signUp();
    const others = [await logIn(email, 'laptop'), await logIn(email, 'tablet')];
    await client.get('/sessions');
    expect((await client.post('/sessions/revoke-others')).status).toBe(303);
    for (const other of others) expect(await isLoggedIn(other)).toBe(false);
    expect(await isLoggedIn(client)).toBe(true);
  });

  it("never lets a user revoke another user's session (E5): 404 and the session lives", async () => {
    const { client: alice } = await signUp();
    const { client: bob } = await signUp();
    const bobsPage = await bob.get('/sessions');
    const bobsHandle = /data-session="([^"]+)"/.exec(bobsPage.body)?.[1] as string;
    await alice.get('/sessions');
    const response = await alice.post('/sessions/revoke', { session: bobsHandle });
    expect(response.status).toBe(404);
    expect(await isLoggedIn(bob)).toBe(true);
  });

  it('ignores a session token passed in the URL or a form field (A7)', async () => {
    const { client } = await signUp();
    const anonymous = new DemoClient(demo.origin);
    const response = await anonymous.get(`/sessions?sid=${encodeURIComponent(client.sessionToken as string)}`);
    expect(response.status).toBe(303);
  });
});

describe('expiry with the injected clock', () => {
  it('ends an idle session and says so on the login page', async () => {
    const { client } = await signUp();
    clock.advance(10 * MINUTE + 1000);
    const response = await client.get('/sessions');
    expect(response.status).toBe(303);
    expect(response.location).toBe('/login?reason=expired');
    expect(client.sessionToken).toBeUndefined();
    const login = await client.get('/login?reason=expired');
    expect(login.body).toContain('Your session expired');
  });

  it('keeps an active session until the absolute timeout, whatever the activity', async () => {
    const { client } = await signUp();
    for (let step = 0; step < 7; step++) {
      clock.advance(8 * MINUTE);
      expect(await isLoggedIn(client), `after ${(step + 1) * 8} min`).toBe(true);
    }
    clock.advance(5 * MINUTE); // 61 minutes after login
    expect(await isLoggedIn(client)).toBe(false);
  });
});

describe('sensitive actions need a fresh login', () => {
  it('asks for the password when the session is not fresh, then changes it and ends other sessions', async () => {
    const { client, email } = await signUp();
    const other = await logIn(email, 'other device');
    clock.advance(6 * MINUTE);
    await client.get('/account');
    const stale = await client.post('/account/password', { newPassword: 'a brand new password' });
    expect(stale.status).toBe(401);
    expect(stale.body).toContain('Confirm it is you');

    const before = client.sessionToken;
    const wrong = await client.post('/reauth', { password: 'not my password', next: '/account' });
    expect(wrong.status).toBe(401);
    const confirmed = await client.post('/reauth', { password: PASSWORD, next: '/account' });
    expect(confirmed.status).toBe(303);
    expect(confirmed.location).toBe('/account?done=confirmed');
    expect(client.sessionToken).not.toBe(before); // re-authentication rotates

    await client.get('/account');
    const changed = await client.post('/account/password', { newPassword: 'a brand new password' });
    expect(changed.status).toBe(303);
    expect(await isLoggedIn(other)).toBe(false);
    expect(await isLoggedIn(client)).toBe(true);
    // The new password works, the old one does not.
    await client.post('/logout');
    const fresh = new DemoClient(demo.origin);
    await fresh.get('/login');
    expect((await fresh.post('/login', { email, password: PASSWORD })).status).toBe(401);
    expect((await fresh.post('/login', { email, password: 'a brand new password' })).status).toBe(303);
  });

  it('only redirects to known pages after re-authentication (no open redirect)', async () => {
    const { client } = await signUp();
    await client.get('/reauth?next=https://attacker.example/');
    const response = await client.post('/reauth', { password: PASSWORD, next: 'https://attacker.example/' });
    expect(response.location).toBe('/account?done=confirmed');
  });

  it('deletes the account with every session when fresh', async () => {
    const { client, email } = await signUp();
    const other = await logIn(email, 'other');
    await client.get('/account');
    const response = await client.post('/account/delete');
    expect(response.status).toBe(303);
    expect(response.location).toBe('/login?reason=account-deleted');
    expect(client.sessionToken).toBeUndefined();
    expect(await isLoggedIn(other)).toBe(false);
    const again = new DemoClient(demo.origin);
    await again.get('/login');
    expect((await again.post('/login', { email, password: PASSWORD })).status).toBe(401);
  });
});

describe('transport (B9)', () => {
  it('refuses to serve sessions over plain http to a host that is not loopback (500 INSECURE_TRANSPORT)', async () => {
    // What a browser would send if the demo were reached as http://demo.example.com (say, via DNS).
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = httpRequest(
        { host: '127.0.0.1', port: demo.port, path: '/login', headers: { host: 'demo.example.com' } },
        (response) => {
          let text = '';
          response.on('data', (chunk) => {
            text += chunk;
          });
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        },
      );
      request.on('error', reject);
      request.end();
    });
    expect(status).toBe(500);
    expect(body).toContain('INSECURE_TRANSPORT');
  });
});

describe('hostile requests', () => {
  it('answers an oversized form with 413 and a plain page, never a 500', async () => {
    const client = new DemoClient(demo.origin);
    await client.get('/login');
    const response = await client.post('/login', { email: 'a@example.com', password: 'x'.repeat(20_000) });
    expect(response.status).toBe(413);
    expect(response.body).toContain('Bad request');
  });
});

describe('security headers', () => {
  it('sends HSTS, a strict CSP and nosniff on pages and assets', async () => {
    const client = new DemoClient(demo.origin);
    for (const path of ['/login', '/demo.css', '/demo.js', '/no-such-page']) {
      const response = await client.get(path);
      expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
      expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });
});

describe('the JSON API behind a session JWT', () => {
  async function issueJwt(client: DemoClient): Promise<{ status: number; body: Record<string, unknown> }> {
    await client.get('/jwt');
    const response = await client.request('POST', '/api/session-jwt', undefined, {
      origin: demo.origin,
      'x-csrf-token': client.csrfToken as string,
    });
    return { status: response.status, body: JSON.parse(response.body) as Record<string, unknown> };
  }

  it('issues a short-lived EdDSA session JWT to a cookie session and accepts it as a bearer token', async () => {
    const { client, email } = await signUp();
    const issued = await issueJwt(client);
    expect(issued.status).toBe(200);
    const jwt = issued.body.jwt as string;
    const header = JSON.parse(Buffer.from(jwt.split('.')[0] as string, 'base64url').toString()) as Record<
      string,
      string
    >;
    expect(header).toMatchObject({ alg: 'EdDSA', typ: 'session+jwt' });
    expect(issued.body.expiresAt).toBeLessThanOrEqual(clock.now() + 300_000);

    const api = new DemoClient(demo.origin); // no cookies at all: the JWT alone
    const me = await api.get('/api/me', { authorization: `Bearer ${jwt}` });
    expect(me.status).toBe(200);
    expect(JSON.parse(me.body)).toMatchObject({ user: { email }, jwt: { aud: 'demo-api', iss: demo.origin } });
  });

  it('answers 401 with a JSON error code without a JWT, with a tampered one, and after logout', async () => {
    const { client } = await signUp();
    const jwt = (await issueJwt(client)).body.jwt as string;
    const api = new DemoClient(demo.origin);
    const none = await api.get('/api/me');
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body)).toEqual({ error: { code: 'UNAUTHENTICATED', message: expect.any(String) } });
    const [head, payload, signature] = jwt.split('.') as [string, string, string];
    const tampered = `${head}.${payload}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    const bad = await api.get('/api/me', { authorization: `Bearer ${tampered}` });
    expect(bad.status).toBe(401);
    expect((JSON.parse(bad.body) as { error: { code: string } }).error.code).toMatch(/^JWT_/);

    await client.post('/logout');
    const revoked = await api.get('/api/me', { authorization: `Bearer ${jwt}` });
    expect(revoked.status).toBe(401);
  });

  it('needs the CSRF token to issue a JWT from the cookie', async () => {
    const { client } = await signUp();
    const response = await client.request('POST', '/api/session-jwt', undefined, { origin: demo.origin });
    expect(response.status).toBe(403);
    expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'CSRF_REJECTED' } });
  });

  it('publishes only public keys at /.well-known/jwks.json', async () => {
    const response = await new DemoClient(demo.origin).get('/.well-known/jwks.json');
    const jwks = JSON.parse(response.body) as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });
});

describe('store outage (fail closed)', () => {
  it('answers 503 while the session store is down: no page, no cookie deleted, no login', async () => {
    const outageDir = makeDataDir();
    const outage = await bootDemo(outageDir);
    try {
      const client = new DemoClient(outage.origin);
      await signUpThenLogIn(client, 'outage@example.com', PASSWORD);
      await client.get('/sessions');
      const token = client.sessionToken;
      await outage.services.manager.close();

      const page = await client.get('/sessions');
      expect(page.status).toBe(503);
      expect(page.body).toContain('STORE_UNAVAILABLE');
      expect(page.headers.getSetCookie()).toEqual([]); // the session may be fine: keep the cookie (I1)
      expect(client.sessionToken).toBe(token);

      const fresh = new DemoClient(outage.origin);
      await fresh.get('/login');
      const login = await fresh.post('/login', { email: 'outage@example.com', password: PASSWORD });
      expect(login.status).toBe(503);
      expect(fresh.sessionToken).toBeUndefined();
    } finally {
      await outage.close().catch(() => undefined);
      removeDataDir(outageDir);
    }
  });
});

describe('restart', () => {
  it('keeps sessions, CSRF tokens and JWT keys across a demo restart (SQLite files in the data folder)', async () => {
    const restartDir = makeDataDir();
    try {
      const first = await bootDemo(restartDir);
      const client = new DemoClient(first.origin);
      await signUpThenLogIn(client, 'restart@example.com', PASSWORD);
      await client.get('/sessions');
      const jwks = (await client.get('/.well-known/jwks.json')).body;
      await first.close();

      const second = await bootDemo(restartDir);
      try {
        // Cookies ignore ports: the same browser reaches the restarted demo with the same cookie.
        const again = new DemoClient(second.origin);
        for (const [name, value] of client.cookies) again.cookies.set(name, value);
        again.csrfToken = client.csrfToken;
        const page = await again.get('/sessions');
        expect(page.status).toBe(200);
        expect(page.body).toContain('restart@example.com');
        // A form rendered before the restart still posts: the CSRF key was kept.
        const stale = new DemoClient(second.origin);
        for (const [name, value] of client.cookies) stale.cookies.set(name, value);
        stale.csrfToken = client.csrfToken;
        expect((await stale.post('/sessions/revoke-others')).status).toBe(303);
        expect((await again.get('/.well-known/jwks.json')).body).toBe(jwks);
      } finally {
        await second.close();
      }
    } finally {
      removeDataDir(restartDir);
    }
  });
});

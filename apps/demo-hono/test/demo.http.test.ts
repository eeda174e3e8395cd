/**
 * The Hono demo over real HTTP, in both variants: on Node (@hono/node-server, SQLite) and as a
 * Worker in workerd (miniflare) on local D1. Same client, same header check on every response
 * (demo-shared/test-support), same cases; the Worker's store is read around the app to show the
 * sessions really are in D1, hashed.
 */
import { createTestClock } from '@org/session-core/testing';
import { signUpThenLogIn } from 'demo-shared/test-support/accounts';
import { DemoClient } from 'demo-shared/test-support/client';
import { makeDataDir, removeDataDir } from 'demo-shared/test-support/data-dir';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorkerDemo } from '../src/worker-node.js';
import { bootHonoDemo } from './support/demo.js';

const MINUTE = 60_000;
const PASSWORD = 'correct horse battery';
const SID_FLAGS = /^__Host-sid=[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Lax$/;

interface Variant {
  origin: string;
  /** Moves the server's clock (the Node variant's test clock); the Worker runs on real time. */
  advance?: (ms: number) => void;
  /** The secret hashes the session table holds, read around the app (Worker: D1). */
  storedHashes?: () => Promise<string[]>;
  close(): Promise<void>;
}

const variants: Array<{ name: string; testClock: boolean; d1: boolean; start(dataDir: string): Promise<Variant> }> = [
  {
    name: 'Node (@hono/node-server, SQLite)',
    testClock: true,
    d1: false,
    start: async (dataDir) => {
      const clock = createTestClock(Date.now());
      const demo = await bootHonoDemo(dataDir, { idleTimeoutMs: 10 * MINUTE, absoluteTimeoutMs: 60 * MINUTE }, clock);
      return { origin: demo.origin, advance: (ms) => clock.advance(ms), close: () => demo.close() };
    },
  },
  {
    name: 'Worker (workerd via miniflare, D1)',
    testClock: false,
    d1: true,
    start: async (dataDir) => {
      const demo = await startWorkerDemo({ dataDir, port: 0 });
      return {
        origin: demo.origin,
        storedHashes: async () => {
          const db = await demo.mf.getD1Database('DB');
          const { results } = await db.prepare('SELECT secret_hash FROM session_store_sessions').all();
          return results.map((row: Record<string, unknown>) => String(row.secret_hash));
        },
        close: () => demo.close(),
      };
    },
  },
];

for (const variant of variants) {
  describe(`the Hono demo over HTTP: ${variant.name}`, () => {
    let server: Variant;
    let dataDir: string;
    let accounts = 0;

    beforeAll(async () => {
      dataDir = makeDataDir();
      server = await variant.start(dataDir);
    }, 60_000);
    afterAll(async () => {
      await server?.close();
      if (dataDir) removeDataDir(dataDir);
    });

    async function signUp(): Promise<{ client: DemoClient; email: string; setCookie: string[] }> {
      const email = `hono${++accounts}@example.com`;
      const client = new DemoClient(server.origin);
      const response = await signUpThenLogIn(client, email, PASSWORD);
      expect([response.status, response.location]).toEqual([303, '/sessions']);
      return { client, email, setCookie: response.headers.getSetCookie() };
    }
    async function logIn(email: string): Promise<DemoClient> {
      const client = new DemoClient(server.origin);
      await client.get('/login');
      expect((await client.post('/login', { email, password: PASSWORD })).status).toBe(303);
      return client;
    }
    async function loggedIn(client: DemoClient): Promise<boolean> {
      const response = await client.get('/sessions');
      if (response.status === 200) return true;
      expect([response.status, response.location?.startsWith('/login')]).toEqual([303, true]);
      return false;
    }

    it('signs up with exactly the production cookie, and the sessions page is no-store', async () => {
      const { client, email, setCookie } = await signUp();
      expect(setCookie.filter((line) => line.startsWith('__Host-sid='))).toHaveLength(1);
      expect(setCookie.find((line) => line.startsWith('__Host-sid='))).toMatch(SID_FLAGS);
      const page = await client.get('/sessions');
      expect(page.status).toBe(200);
      expect(page.body).toContain(email);
      expect(page.headers.get('cache-control')).toBe('no-store');
      expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    });

    it('a wrong password is 401 and sets no session', async () => {
      const { email } = await signUp();
      const client = new DemoClient(server.origin);
      await client.get('/login');
      const response = await client.post('/login', { email, password: 'not the password' });
      expect(response.status).toBe(401);
      expect(client.sessionToken).toBeUndefined();
    });

    it('refuses a cross-site POST even with a valid CSRF token; nothing is revoked', async () => {
      const { client, email } = await signUp();
      const other = await logIn(email);
      await client.get('/sessions');
      const response = await client.post(
        '/sessions/revoke-others',
        {},
        {
          origin: 'https://evil.example',
          'sec-fetch-site': 'cross-site',
        },
      );
      expect(response.status).toBe(403);
      expect(response.body).toContain('CSRF_REJECTED');
      expect(await loggedIn(other)).toBe(true);
      expect(await loggedIn(client)).toBe(true);
    });

    it('revokes another device by its row, and everyone else at once', async () => {
      const { client, email } = await signUp();
      const second = await logIn(email);
      const third = await logIn(email);
      const page = await client.get('/sessions');
      const rows = [...page.body.matchAll(/<tr class="(current|)" data-session="([0-9a-f]{16})"/g)];
      expect(rows).toHaveLength(3);
      const target = rows.find((row) => row[1] !== 'current')?.[2] as string;
      expect((await client.post('/sessions/revoke', { session: target })).location).toBe('/sessions?done=revoked');
      const alive = [await loggedIn(second), await loggedIn(third)];
      expect(alive.sort()).toEqual([false, true]);
      await client.get('/sessions');
      expect((await client.post('/sessions/revoke-others')).location).toBe('/sessions?done=others');
      expect([await loggedIn(second), await loggedIn(third)]).toEqual([false, false]);
      expect(await loggedIn(client)).toBe(true);
    });

    it('logout deletes the cookie and kills the token server-side', async () => {
      const { client } = await signUp();
      const token = client.sessionToken as string;
      await client.get('/sessions');
      const response = await client.post('/logout');
      expect(response.location).toBe('/login?reason=logged-out');
      expect(response.headers.getSetCookie().some((l) => l.startsWith('__Host-sid=;') && l.includes('Max-Age=0'))).toBe(
        true,
      );
      client.cookies.set('__Host-sid', token);
      expect(await loggedIn(client)).toBe(false);
    });

    it('the JWT API: a session JWT from the cookie session (same-origin POST with the CSRF token) opens /api/me until logout', async () => {
      const { client, email } = await signUp();
      await client.get('/jwt');
      const issued = await client.request('POST', '/api/session-jwt', '', {
        origin: server.origin,
        'x-csrf-token': client.csrfToken as string,
      });
      expect(issued.status).toBe(200);
      const { jwt } = JSON.parse(issued.body) as { jwt: string };
      const me = await fetch(`${server.origin}/api/me`, { headers: { authorization: `Bearer ${jwt}` } });
      expect(me.status).toBe(200);
      expect(((await me.json()) as { user: { email: string } }).user.email).toBe(email);
      const jwks = await fetch(`${server.origin}/.well-known/jwks.json`);
      expect(((await jwks.json()) as { keys: Array<{ d?: string }> }).keys.every((key) => key.d === undefined)).toBe(
        true,
      );
      await client.get('/sessions');
      await client.post('/logout');
      const after = await fetch(`${server.origin}/api/me`, { headers: { authorization: `Bearer ${jwt}` } });
      expect(after.status).toBe(401);
      const noJwt = await fetch(`${server.origin}/api/me`);
      expect(noJwt.status).toBe(401);
    });

    it('the fresh-session gate: a sensitive action right after login goes through', async () => {
      const { client } = await signUp();
      await client.get('/account');
      const changed = await client.post('/account/password', { newPassword: 'another long passphrase' });
      expect(changed.location).toBe('/account?done=password');
      expect(await loggedIn(client)).toBe(true);
    });

    it.runIf(variant.testClock)(
      'the fresh-session gate: a stale session must re-authenticate first (needs the test clock: Node only)',
      async () => {
        const { client } = await signUp();
        server.advance?.(6 * MINUTE);
        await client.get('/account');
        const stale = await client.post('/account/password', { newPassword: 'another long passphrase' });
        expect(stale.status).toBe(401);
        expect(stale.body).toContain('name="next" value="/account#change-password"');
        const reauth = await client.post('/reauth', { password: PASSWORD, next: '/account' });
        expect(reauth.location).toBe('/account?done=confirmed');
        await client.get('/account');
        expect((await client.post('/account/password', { newPassword: 'another long passphrase' })).status).toBe(303);
      },
    );

    it.runIf(variant.d1)(
      'sessions are in D1, hashed: the store holds SHA-256 of each secret, never the token (Worker only)',
      async () => {
        const { client } = await signUp();
        const [id, secret] = (client.sessionToken as string).split('.') as [string, string];
        const hashes = (await server.storedHashes?.()) ?? [];
        expect(hashes.length).toBeGreaterThan(0);
        expect(hashes.every((hash) => /^[0-9a-f]{64}$/.test(hash))).toBe(true);
        expect(hashes.join(' ')).not.toContain(secret);
        expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      },
    );
  });
}

describe('the Hono demo as a Worker: idle expiry on real time', () => {
  it('a session idle past its timeout ends, and the login page says so', async () => {
    const dataDir = makeDataDir();
    const demo = await startWorkerDemo({ dataDir, port: 0, idleTimeoutMs: 3000, absoluteTimeoutMs: 60_000 });
    try {
      const client = new DemoClient(demo.origin);
      expect((await signUpThenLogIn(client, 'idle@example.com', PASSWORD)).status).toBe(303);
      expect((await client.get('/sessions')).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 3500));
      const expired = await client.get('/sessions');
      expect([expired.status, expired.location]).toEqual([303, '/login?reason=expired']);
    } finally {
      await demo.close();
      removeDataDir(dataDir);
    }
  }, 60_000);
});

/**
 * The getting-started apps of docs/getting-started.md, one per framework, each on a real SQLite
 * file and a real port: log in, use the session, log out, and the session survives a restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as express from '../src/getting-started-express.js';
import * as fastify from '../src/getting-started-fastify.js';
import * as hono from '../src/getting-started-hono.js';
import { Client, freePort } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'getting-started-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const frameworks = { express, fastify, hono };

describe.each(Object.entries(frameworks))('getting started with %s', (name, example) => {
  it('logs in, serves the session, logs out; a session survives a restart of the app', async () => {
    const port = await freePort();
    const dbPath = join(dir, `${name}.db`);
    let app = await example.start({ port, dbPath });
    const client = new Client(app.origin);
    try {
      expect((await client.request('GET', '/me')).status).toBe(401);
      await client.refreshCsrf();
      const login = await client.request('POST', '/login', { username: 'ada', password: 'correct horse battery' });
      expect(login).toMatchObject({ status: 200, json: { userId: 'user-ada' } });
      const cookie = client.setCookies.find((c) => c.startsWith('__Host-sid='));
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/Secure/);
      expect((await client.request('GET', '/me')).json).toEqual({ userId: 'user-ada' });

      await app.close();
      app = await example.start({ port, dbPath }); // same file: sessions persist
      expect((await client.request('GET', '/me')).json).toEqual({ userId: 'user-ada' });

      await client.refreshCsrf(); // a new process, a new CSRF key in this example
      expect((await client.request('POST', '/logout')).json).toEqual({ ok: true });
      const after = await client.request('GET', '/me');
      expect(after.status).toBe(401);
      expect(after.json).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    } finally {
      await app.close();
    }
  });
});

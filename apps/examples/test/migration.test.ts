/**
 * The migration guides' before and after apps, run side by side over real HTTP: the same user
 * journey works on both, and what changes (cookie attributes, logout that ends the session for
 * every copy of the cookie, CSRF) is asserted rather than claimed.
 */

import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type express from 'express';
import { afterAll, describe, expect, it } from 'vitest';
import * as expressSessionAfter from '../src/express-session-after.js';
import * as ironSessionAfter from '../src/iron-session-after.js';
import { Client } from './support.js';

// The "before" apps are type-checked on their own (tsconfig.before.json): express-session and our
// adapter both declare `req.session`, so one program cannot hold both, as no real app would.
type BeforeApp = { createApp(secret: string): express.Express };
const expressSessionBefore: BeforeApp = await import(`../src/${'express-session-before'}.js`);
const ironSessionBefore: BeforeApp = await import(`../src/${'iron-session-before'}.js`);

const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

/** Listens first, so the app can be told its own origin (for the CSRF origin check). */
async function listen(makeApp: (origin: string) => express.Express | Promise<express.Express>): Promise<string> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  server.on('request', await makeApp(origin));
  return origin;
}

/** The journey every version of the app supports; returns the client and a copy taken while logged in. */
async function journey(origin: string): Promise<{ client: Client; stolen: Client }> {
  const client = new Client(origin);
  await client.refreshCsrf();
  expect((await client.request('POST', '/login', { username: 'ada', password: 'wrong' })).status).toBe(401);
  const login = await client.request('POST', '/login', { username: 'ada', password: 'correct horse battery' });
  expect(login).toMatchObject({ status: 200, json: { userId: 'user-ada' } });
  await client.refreshCsrf(); // a new session: the page gets a token bound to it
  expect((await client.request('GET', '/me')).json).toEqual({ userId: 'user-ada' });
  expect((await client.request('POST', '/cart', { item: 'tea' })).json).toEqual({ items: ['tea'] });
  expect((await client.request('POST', '/cart', { item: 'scones' })).json).toEqual({ items: ['tea', 'scones'] });
  expect((await client.request('GET', '/cart')).json).toEqual({ items: ['tea', 'scones'] });
  const stolen = client.copy();
  expect((await client.request('POST', '/logout')).json).toEqual({ ok: true });
  expect((await client.request('GET', '/me')).json).toEqual({ userId: null });
  expect((await client.request('GET', '/cart')).status).toBe(401);
  return { client, stolen };
}

const csrfKey = () => new Uint8Array(randomBytes(32));

describe('migrating from express-session', () => {
  it('before: the journey works on express-session', async () => {
    const origin = await listen(() => expressSessionBefore.createApp(randomBytes(32).toString('hex')));
    const { client, stolen } = await journey(origin);
    // express-session keeps sessions in its store, so a copy of the cookie dies with the session.
    expect((await stolen.request('GET', '/me')).json).toEqual({ userId: null });
    // The cookie carries none of the prefixes or flags a browser enforces beyond HttpOnly.
    const cookie = client.setCookies.find((c) => c.startsWith('sid='));
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).not.toMatch(/Secure/i);
  });

  it('after: the same journey on @org/session-express, with CSRF and __Host- cookies', async () => {
    const origin = await listen((origin) => expressSessionAfter.createApp({ csrfKey: csrfKey(), origin }));
    const { client, stolen } = await journey(origin);
    expect((await stolen.request('GET', '/me')).json).toEqual({ userId: null });
    const cookie = client.setCookies.find((c) => c.startsWith('__Host-sid='));
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/Secure/);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).toMatch(/Path=\//);
    // A state-changing request without the CSRF token is refused.
    const fresh = new Client(origin);
    await fresh.refreshCsrf();
    await fresh.request('POST', '/login', { username: 'ada', password: 'correct horse battery' });
    fresh.csrfToken = null;
    const refused = await fresh.request('POST', '/cart', { item: 'tea' });
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ error: { code: 'CSRF_REJECTED' } });
  });
});

describe('migrating from iron-session', () => {
  it('before: the journey works on iron-session, and a copied cookie outlives logout', async () => {
    const origin = await listen(() => ironSessionBefore.createApp(randomBytes(32).toString('hex')));
    const { stolen } = await journey(origin);
    // The sealed cookie is the session: logging out cleared one browser's copy, not the session.
    expect((await stolen.request('GET', '/me')).json).toEqual({ userId: 'user-ada' });
    expect((await stolen.request('GET', '/cart')).json).toEqual({ items: ['tea', 'scones'] });
  });

  it('after: the same journey in hybrid mode; logout ends the session for every copy on strict routes', async () => {
    const origin = await listen((origin) => ironSessionAfter.createApp({ csrfKey: csrfKey(), origin }));
    const { stolen } = await journey(origin);
    // Ordinary reads trust the signed JWT cookie until it expires (ttlSeconds: 60), the documented
    // revocation window of hybrid mode; the guide says which routes to mark strict.
    expect((await stolen.request('GET', '/me')).json).toEqual({ userId: 'user-ada' });
    // Strict routes ask the store: the copied cookies are refused at once.
    expect((await stolen.request('GET', '/cart')).status).toBe(401);
  });
});

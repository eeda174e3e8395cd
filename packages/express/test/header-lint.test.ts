import type { AddressInfo } from 'node:net';
import { resolveCookiePolicy } from '@org/session-core/adapter';
import { createLintedClient, lintHttpResponse } from '@org/session-core/testing';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The lint must catch what it claims to catch: a real server sends each mistake on purpose.
const token = 'AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
const good = `__Host-sid=${token}; Path=/; Secure; HttpOnly; SameSite=Lax`;
const policy = { sessionCookie: resolveCookiePolicy(), preSessionCookieName: '__Host-pre' };

const app = express();
const routes: Record<string, (res: express.Response) => void> = {
  clean: (res) => res.setHeader('cache-control', 'no-store').setHeader('set-cookie', good).json({ ok: true }),
  twice: (res) => res.setHeader('cache-control', 'no-store').setHeader('set-cookie', [good, good]).end(),
  'no-httponly': (res) =>
    res.setHeader('cache-control', 'no-store').setHeader('set-cookie', good.replace('; HttpOnly', '')).end(),
  'wrong-samesite': (res) =>
    res.setHeader('cache-control', 'no-store').setHeader('set-cookie', good.replace('Lax', 'None')).end(),
  domain: (res) =>
    res.setHeader('cache-control', 'no-store').setHeader('set-cookie', `${good}; Domain=example.com`).end(),
  'too-long': (res) =>
    res.setHeader('cache-control', 'no-store').setHeader('set-cookie', `${good}; Max-Age=34560001`).end(),
  'bad-deletion': (res) =>
    res
      .setHeader('cache-control', 'no-store')
      .setHeader('set-cookie', '__Host-sid=; Path=/; Secure; HttpOnly; SameSite=Lax')
      .end(),
  cacheable: (res) => res.setHeader('set-cookie', good).end(),
  'token-in-body': (res) => res.setHeader('cache-control', 'no-store').setHeader('set-cookie', good).json({ token }),
  'token-in-location': (res) => res.redirect(302, `/home?sid=${token}`),
  'pre-persistent': (res) =>
    res
      .setHeader('cache-control', 'no-store')
      .setHeader('set-cookie', '__Host-pre=abcdefghij; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=60')
      .end(),
  stack: (res) => res.status(500).json({ error: { code: 'INTERNAL_ERROR', message: 'x', stack: 'at foo (a.js:1)' } }),
  'unknown-code': (res) => res.status(401).json({ error: { code: 'NOPE', message: 'x' } }),
  'framework-404': (res) => res.status(404).json({ message: 'Not found', error: 'Not Found', statusCode: 404 }),
};
for (const [path, send] of Object.entries(routes)) app.get(`/${path}`, (_req, res) => send(res));

let server: ReturnType<typeof app.listen>;
let base = '';
beforeAll(async () => {
  server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function lint(path: string): Promise<string[]> {
  const res = await fetch(`${base}/${path}`, { redirect: 'manual' });
  const body = await res.text();
  return lintHttpResponse(
    { status: res.status, headers: res.headers, setCookies: res.headers.getSetCookie(), body },
    policy,
  );
}

describe('header-lint', () => {
  it.each([
    ['clean', []],
    ['framework-404', []],
    ['twice', ['more than one Set-Cookie for __Host-sid']],
    ['no-httponly', ['HttpOnly is missing']],
    ['wrong-samesite', ['SameSite must be Lax']],
    ['domain', ['Domain must be absent']],
    ['too-long', ['Max-Age must be a positive integer of at most 400 days']],
    ['bad-deletion', ['a deletion needs Max-Age=0']],
    ['cacheable', ['without Cache-Control: no-store']],
    ['token-in-body', ['a token appears in the body']],
    ['token-in-location', ['session parameter']],
    ['pre-persistent', ['must not be persistent']],
    ['stack', ['stack trace', 'exactly { error: { code, message } }']],
    ['unknown-code', ['exactly { error: { code, message } }']],
  ])('%s', async (path, expected) => {
    const problems = await lint(path);
    expect(problems).toHaveLength(expected.length);
    expected.forEach((fragment, i) => {
      expect(problems[i]).toContain(fragment);
    });
  });

  it('the linted client throws on a problem, so no test can ignore it', async () => {
    const client = createLintedClient(base, policy);
    await expect(client.request('/clean')).resolves.toMatchObject({ status: 200 });
    await expect(client.request('/cacheable')).rejects.toThrow(/header-lint failed for GET \/cacheable/);
    expect(client.linted).toBe(2);
  });

  it('a token the client saw once may never appear in a later body', async () => {
    const client = createLintedClient(base, { sessionCookie: policy.sessionCookie });
    await client.request('/clean');
    client.addSecret('{"ok":true}');
    await expect(client.request('/clean')).rejects.toThrow(/a token appears in the body/);
  });
});

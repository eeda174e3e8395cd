import { resolveCookiePolicy } from '@org/session-core/adapter';
import { lintHttpResponse } from '@org/session-core/testing';
import { type Context, Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen } from './node-server.js';

// The lint must catch what it claims to catch on Hono's responses too: each route sends one
// mistake on purpose, through Hono's own header API.
const token = 'CCCCCCCCCCCCCCCCCCCCCC.DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD';
const good = `__Host-sid=${token}; Path=/; Secure; HttpOnly; SameSite=Lax`;
const policy = { sessionCookie: resolveCookiePolicy(), preSessionCookieName: '__Host-pre' };

/** An empty (or JSON) response with `Cache-Control: no-store` and the given cookies. */
const noStore = (c: Context, cookies: string[], json?: object) => {
  c.header('cache-control', 'no-store');
  for (const cookie of cookies) c.header('set-cookie', cookie, { append: true });
  return json ? c.json(json) : c.body(null);
};
const app = new Hono();
const routes: Record<string, (c: Context) => Response> = {
  clean: (c) => noStore(c, [good], { ok: true }),
  twice: (c) => noStore(c, [good, good]),
  'no-httponly': (c) => noStore(c, [good.replace('; HttpOnly', '')]),
  'wrong-samesite': (c) => noStore(c, [good.replace('Lax', 'Strict')]),
  'no-secure': (c) => noStore(c, [good.replace('; Secure', '')]),
  'wrong-path': (c) => noStore(c, [good.replace('Path=/', 'Path=/app')]),
  cacheable: (c) => c.body(null, 200, { 'set-cookie': good }),
  'token-in-body': (c) => noStore(c, [good], { token }),
  'token-in-location': (c) => c.redirect(`/home?sid=${token}`, 302),
  'bad-deletion': (c) => noStore(c, ['__Host-sid=; Path=/; Secure; HttpOnly; SameSite=Lax']),
  'error-extra-field': (c) => c.json({ error: { code: 'UNAUTHENTICATED', message: 'x', detail: 'y' } }, 401),
};
for (const [path, send] of Object.entries(routes)) app.get(`/${path}`, send);

let server: Awaited<ReturnType<typeof listen>>;
beforeAll(async () => {
  server = await listen(app);
});
afterAll(() => server.close());

async function lint(path: string): Promise<string[]> {
  const res = await fetch(`${server.url}/${path}`, { redirect: 'manual' });
  const body = await res.text();
  return lintHttpResponse(
    { status: res.status, headers: res.headers, setCookies: res.headers.getSetCookie(), body },
    policy,
  );
}

describe('header-lint on Hono responses', () => {
  it.each([
    ['clean', []],
    ['twice', ['more than one Set-Cookie for __Host-sid']],
    ['no-httponly', ['HttpOnly is missing']],
    ['wrong-samesite', ['SameSite must be Lax']],
    ['no-secure', ['Secure']],
    ['wrong-path', ['Path']],
    ['cacheable', ['without Cache-Control: no-store']],
    ['token-in-body', ['a token appears in the body']],
    ['token-in-location', ['session parameter']],
    ['bad-deletion', ['a deletion needs Max-Age=0']],
    ['error-extra-field', ['exactly { error: { code, message } }']],
  ])('%s', async (path, expected) => {
    const problems = await lint(path);
    expect(problems).toHaveLength(expected.length);
    expected.forEach((fragment, i) => {
      expect(problems[i]).toContain(fragment);
    });
  });
});

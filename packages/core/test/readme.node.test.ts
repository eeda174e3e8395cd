/// <reference types="node" />
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// The root README's example is code users copy: run it exactly as written.
const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
const block = /## Example[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
const dir = mkdtempSync(join(tmpdir(), 'readme-example-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function loadExample(): Promise<{ handle: (request: Request) => Promise<Response> }> {
  if (!block) throw new Error('README.md has no ts block under "## Example"');
  // Same module, resolved to this workspace's core source instead of the published name.
  const coreEntry = pathToFileURL(new URL('../src/index.ts', import.meta.url).pathname).href;
  const file = join(dir, 'example.ts');
  writeFileSync(file, block.replace("'@org/session-core'", `'${coreEntry}'`));
  return import(/* @vite-ignore */ pathToFileURL(file).href);
}

describe('README example', () => {
  it('logs in, reads the session from the cookie, and refuses anonymous requests', async () => {
    const { handle } = await loadExample();
    const anonymous = await handle(new Request('http://localhost/'));
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({ error: 'login required' });

    const login = await handle(new Request('http://localhost/login', { method: 'POST' }));
    expect(login.status).toBe(303);
    expect(login.headers.get('cache-control')).toBe('no-store');
    const setCookie = login.headers.getSetCookie();
    expect(setCookie).toHaveLength(1);
    expect(setCookie[0]).toMatch(/^__Host-sid=[\w-]{22}\.[\w-]{43}; Path=\/; Secure; HttpOnly; SameSite=Lax$/);

    const cookie = (setCookie[0] as string).split(';')[0] as string;
    const me = await handle(new Request('http://localhost/', { headers: { cookie } }));
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual({ user: 'u_42' });

    // A forged secret for the real id is no session, and the dead cookie is cleared.
    const forged = `${cookie.slice(0, cookie.indexOf('.') + 1)}${'A'.repeat(42)}A`;
    const refused = await handle(new Request('http://localhost/', { headers: { cookie: forged } }));
    expect(refused.status).toBe(401);
    expect(refused.headers.getSetCookie()[0]).toMatch(
      /^__Host-sid=; Path=\/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Lax$/,
    );
  });

  it('logging in again replaces the session the browser held', async () => {
    const { handle } = await loadExample();
    const first = (await handle(new Request('http://localhost/login', { method: 'POST' }))).headers.getSetCookie()[0];
    const firstCookie = (first as string).split(';')[0] as string;
    const second = await handle(
      new Request('http://localhost/login', { method: 'POST', headers: { cookie: firstCookie } }),
    );
    const secondCookie = (second.headers.getSetCookie()[0] as string).split(';')[0] as string;
    expect(secondCookie).not.toBe(firstCookie);
    expect((await handle(new Request('http://localhost/', { headers: { cookie: firstCookie } }))).status).toBe(401);
    expect((await handle(new Request('http://localhost/', { headers: { cookie: secondCookie } }))).status).toBe(200);
  });
});

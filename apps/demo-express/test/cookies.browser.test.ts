/**
 * Facts about Debian's Chromium that the cookie policy relies on, measured rather than assumed
 * (security checklist B1, B2, B4, B6, B9 [B]). The results are written up in docs/browser-notes.md.
 * A tiny node:http server sets cookies exactly as core serialises them in production mode.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isSessionError } from '@org/session-core';
import {
  MAX_COOKIE_NAME_VALUE_BYTES,
  resolveCookiePolicy,
  serializeCookie,
  serializeSessionCookie,
} from '@org/session-core/adapter';
import { browserCookie, launchChromium, skipBrowserSuites } from 'demo-shared/test-support/browser';
import { listenOnLoopback, type RunningServer } from 'demo-shared/test-support/http-server';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

// Shaped like a real token (<22-char id>.<43-char secret>), but only ever used on this test server.
const TOKEN = `${'A'.repeat(22)}.${'b'.repeat(43)}`;
const productionPolicy = resolveCookiePolicy();

/** WPT cookies/size/name-and-value.html boundaries: [name length, value length, kept]. */
const sizeRows: Array<[nameLength: number, valueLength: number, kept: boolean]> = [
  [2048, 2048, true],
  [1, 4095, true],
  [4095, 1, true],
  [1, 4096, false],
  [4096, 1, false],
  [2049, 2048, false],
];

function sizedName(row: number, length: number): string {
  // The first character keeps every row's name distinct.
  return `${String.fromCharCode(97 + row)}${'n'.repeat(length - 1)}`;
}

function handle(request: IncomingMessage, response: ServerResponse): void {
  const url = new URL(request.url ?? '/', 'http://placeholder');
  const cookies: string[] = [];
  switch (url.pathname) {
    case '/session':
      cookies.push(serializeSessionCookie(productionPolicy, TOKEN));
      // A script-visible control cookie proves document.cookie works on this page at all.
      cookies.push(serializeCookie('visible', '1', { path: '/', secure: false, httpOnly: false, sameSite: 'lax' }));
      break;
    case '/persistent':
      cookies.push(serializeSessionCookie(productionPolicy, TOKEN, 3600));
      break;
    case '/sizes':
      sizeRows.forEach(([nameLength, valueLength], row) => {
        // Raw header lines: core's serialiser refuses the oversized rows, which is the point (B4).
        cookies.push(`${sizedName(row, nameLength)}=${'v'.repeat(valueLength)}; Path=/`);
      });
      break;
    case '/host-prefix-violations':
      cookies.push('__Host-nosecure=1; Path=/; HttpOnly');
      cookies.push(`__Host-domain=1; Path=/; Secure; Domain=${url.searchParams.get('domain') ?? 'localhost'}`);
      cookies.push('__Host-subpath=1; Path=/sub; Secure');
      break;
  }
  response.setHeader('content-type', 'text/html; charset=utf-8');
  response.setHeader('cache-control', 'no-store');
  if (cookies.length > 0) response.setHeader('set-cookie', cookies);
  if (url.pathname === '/echo') {
    response.end(`<pre id="cookie">${escapeHtml(request.headers.cookie ?? '')}</pre>`);
    return;
  }
  response.end('<p>ok</p>');
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

describe.skipIf(skipBrowserSuites)('Chromium cookie facts (docs/browser-notes.md)', () => {
  let browser: Browser;
  let server: RunningServer;
  let context: BrowserContext;

  beforeAll(async () => {
    [browser, server] = await Promise.all([launchChromium(), listenOnLoopback(handle)]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });
  beforeEach(async () => {
    await context?.close();
    context = await browser.newContext();
  });

  for (const host of ['localhost', '127.0.0.1'] as const) {
    it(`B9: keeps the production __Host-sid cookie (Secure) over plain http://${host} and sends it back`, async () => {
      const origin = `http://${host}:${server.port}`;
      const page = await context.newPage();
      await page.goto(`${origin}/session`);
      const cookie = await browserCookie(context, '__Host-sid');
      // B1 [B]: exactly the attributes the policy asked for, host-only.
      expect(cookie).toMatchObject({
        value: TOKEN,
        domain: host,
        path: '/',
        secure: true,
        httpOnly: true,
        sameSite: 'Lax',
      });
      await page.goto(`${origin}/echo`);
      expect(await page.textContent('#cookie')).toContain(`__Host-sid=${TOKEN}`);
    });
  }

  it('B2: document.cookie shows the script-visible control cookie but never the HttpOnly session cookie', async () => {
    const page = await context.newPage();
    await page.goto(`${server.origin}/session`);
    const visibleToScript = await page.evaluate(() => document.cookie);
    expect(visibleToScript).toContain('visible=1');
    expect(visibleToScript).not.toContain('__Host-sid');
    expect(visibleToScript).not.toContain(TOKEN);
  });

  it('B6: the default session cookie is a browser-session cookie (expires -1); a persistent one carries Max-Age', async () => {
    const page = await context.newPage();
    await page.goto(`${server.origin}/session`);
    expect((await browserCookie(context, '__Host-sid'))?.expires).toBe(-1);

    const before = Date.now() / 1000;
    await page.goto(`${server.origin}/persistent`);
    const persistent = await browserCookie(context, '__Host-sid');
    expect(persistent?.expires).toBeGreaterThanOrEqual(Math.floor(before) + 3600 - 1);
    expect(persistent?.expires).toBeLessThanOrEqual(Date.now() / 1000 + 3600 + 1);
  });

  it('B4: keeps a cookie whose name plus value is 4096 bytes and drops one of 4097, as core assumes', async () => {
    const page = await context.newPage();
    await page.goto(`${server.origin}/sizes`);
    const stored = new Set((await context.cookies()).map((cookie) => cookie.name));
    const observed = sizeRows.map(([nameLength, valueLength], row) => [
      nameLength,
      valueLength,
      stored.has(sizedName(row, nameLength)),
    ]);
    expect(observed).toEqual(sizeRows);

    // Core's serialiser draws its line at the same place.
    expect(MAX_COOKIE_NAME_VALUE_BYTES).toBe(4096);
    expect(() => serializeCookie('n', 'v'.repeat(4095))).not.toThrow();
    let refused: unknown;
    try {
      serializeCookie('n', 'v'.repeat(4096));
    } catch (error) {
      refused = error;
    }
    expect(isSessionError(refused, 'COOKIE_TOO_LARGE')).toBe(true);
  });

  it('B1: drops __Host- cookies without Secure, with a Domain, or with a Path other than /', async () => {
    const page = await context.newPage();
    await page.goto(`${server.origin}/host-prefix-violations`);
    await page.goto(`${server.origin}/sub/echo`);
    const names = (await context.cookies()).map((cookie) => cookie.name);
    expect(names).not.toContain('__Host-nosecure');
    expect(names).not.toContain('__Host-domain');
    expect(names).not.toContain('__Host-subpath');
    expect(names).toEqual([]);
  });
});

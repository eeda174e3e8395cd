/**
 * The Worker variant (workerd through miniflare, sessions and users in local D1) in Debian's
 * Chromium: sign up, the cookie as the browser keeps it, a second browser revoked from the first,
 * a cross-site form post refused, logout and Back.
 */
import { browserCookie, launchChromium, skipBrowserSuites } from 'demo-shared/test-support/browser';
import { makeDataDir, removeDataDir } from 'demo-shared/test-support/data-dir';
import { listenOnLoopback } from 'demo-shared/test-support/http-server';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorkerDemo, startWorkerDemo } from '../src/worker-node.js';

const PASSWORD = 'correct horse battery';

describe.skipIf(skipBrowserSuites)('the Hono demo as a Worker on D1, in Chromium', () => {
  let browser: Browser;
  let demo: RunningWorkerDemo;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = makeDataDir();
    [browser, demo] = await Promise.all([launchChromium(), startWorkerDemo({ dataDir, port: 0 })]);
  });
  afterAll(async () => {
    await browser?.close();
    await demo?.close();
    if (dataDir) removeDataDir(dataDir);
  });

  async function submit(page: Page, action: '/signup' | '/login', email: string): Promise<void> {
    await page.goto(`${demo.origin}${action}`);
    await page.fill(`form[action="${action}"] input[name=email]`, email);
    await page.fill(`form[action="${action}"] input[name=password]`, PASSWORD);
    await page.click(`form[action="${action}"] button[type=submit]`);
    // Sign-up answers "check your e-mail" whether or not the address is new; then the login form.
    if (action === '/signup') return submit(page, '/login', email);
    await page.waitForURL(`${demo.origin}/sessions`);
  }

  it('signs up, revokes a second browser, refuses a cross-site post, logs out, and Back shows nothing', async () => {
    const first = await browser.newContext();
    const second = await browser.newContext();
    const attacker = await listenOnLoopback((_req, res) => {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(`<!doctype html><form id="f" method="post" action="${demo.origin}/sessions/revoke-others"></form>
<script>document.getElementById('f').submit()</script>`);
    });
    try {
      const page = await first.newPage();
      await submit(page, '/signup', 'worker-browser@example.com');
      expect(await browserCookie(first, '__Host-sid')).toMatchObject({
        httpOnly: true,
        secure: true,
        sameSite: 'Lax',
        path: '/',
        expires: -1,
      });
      expect(await page.evaluate(() => document.cookie)).not.toContain('__Host-sid');

      const other = await second.newPage();
      await submit(other, '/login', 'worker-browser@example.com');
      // Another site's form post reaches the Worker without the Lax cookie and is refused.
      const evil = await first.newPage();
      const refused = evil.waitForResponse((r) => r.url() === `${demo.origin}/sessions/revoke-others`);
      await evil.goto(`http://127.0.0.1:${attacker.port}/`);
      expect((await refused).status()).toBe(403);
      await other.goto(`${demo.origin}/sessions`);
      expect(other.url()).toBe(`${demo.origin}/sessions`);

      await page.reload();
      await expect(page.locator('#sessions tbody tr').count()).resolves.toBe(2);
      await page.click('#sessions tbody tr:not(.current) button[type=submit]');
      await page.waitForURL(`${demo.origin}/sessions?done=revoked`);
      await other.goto(`${demo.origin}/sessions`);
      expect(other.url()).toBe(`${demo.origin}/login?reason=ended`);

      await page.click('#logout');
      await page.waitForURL(`${demo.origin}/login?reason=logged-out`);
      expect(await browserCookie(first, '__Host-sid')).toBeUndefined();
      await page.goBack();
      await page.waitForLoadState();
      expect(page.url()).toMatch(new RegExp(`^${demo.origin}/login`));
      await expect(page.content()).resolves.not.toContain('worker-browser@example.com</span>');
    } finally {
      await attacker.close();
      await first.close();
      await second.close();
    }
  });
});

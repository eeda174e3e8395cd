/**
 * The Hono demo on Node end to end in Debian's Chromium (playwright-core): what a user clicks, what the
 * browser stores, and what another site can make the browser do.
 */
import type { IncomingMessage } from 'node:http';
import { createTestClock } from '@org/session-core/testing';
import { browserCookie, launchChromium, skipBrowserSuites } from 'demo-shared/test-support/browser';
import { listenOnLoopback, type RunningServer } from 'demo-shared/test-support/http-server';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHonoDemo } from '../src/node.js';
import { bootHonoDemo, makeDataDir, removeDataDir } from './support/demo.js';

const MINUTE = 60_000;
const PASSWORD = 'correct horse battery';

describe.skipIf(skipBrowserSuites)('the Hono demo (Node, SQLite) in Chromium', () => {
  const clock = createTestClock(Date.now());
  let browser: Browser;
  let demo: RunningHonoDemo;
  let dataDir: string;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    dataDir = makeDataDir();
    [browser, demo] = await Promise.all([
      launchChromium(),
      bootHonoDemo(dataDir, { idleTimeoutMs: 10 * MINUTE, absoluteTimeoutMs: 60 * MINUTE }, clock),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await demo?.close();
    if (dataDir) removeDataDir(dataDir);
  });

  async function freshPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext();
    contexts.push(context);
    return { context, page: await context.newPage() };
  }

  async function signUp(page: Page, email: string): Promise<void> {
    await page.goto(`${demo.origin}/signup`);
    await page.fill('form[action="/signup"] input[name=email]', email);
    await page.fill('form[action="/signup"] input[name=password]', PASSWORD);
    await page.click('form[action="/signup"] button[type=submit]');
    await page.waitForURL(`${demo.origin}/sessions`);
  }

  async function logIn(page: Page, email: string): Promise<void> {
    await page.goto(`${demo.origin}/login`);
    await page.fill('form[action="/login"] input[name=email]', email);
    await page.fill('form[action="/login"] input[name=password]', PASSWORD);
    await page.click('form[action="/login"] button[type=submit]');
    await page.waitForURL(`${demo.origin}/sessions`);
  }

  async function liveSessionCount(email: string): Promise<number> {
    const { manager, users } = demo.services;
    const user = await users.authenticate(email, PASSWORD);
    return user ? (await manager.list(user.id)).length : 0;
  }

  it('signs up, shows the sessions page, and keeps the session cookie away from scripts and web storage', async () => {
    const { context, page } = await freshPage();
    await signUp(page, 'ada@example.com');
    await expect(page.textContent('h1')).resolves.toBe('Active sessions');
    await expect(page.textContent('tr.current')).resolves.toContain('Headless Chrome on Linux');
    await expect(page.textContent('#expiry')).resolves.toContain('Idle expiry');

    const cookie = await browserCookie(context, '__Host-sid');
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/', expires: -1 });
    const scriptView = await page.evaluate(() => document.cookie);
    expect(scriptView).not.toContain('__Host-sid');
    expect(scriptView).not.toContain(cookie?.value);
    // The JWT page's script gets a session JWT and calls the API with it (CSP allows only 'self').
    await page.goto(`${demo.origin}/jwt`);
    await page.click('#call-api');
    await page.waitForFunction(() => document.getElementById('api-result')?.textContent?.includes('200'));
    await expect(page.textContent('#api-result')).resolves.toContain('"email": "ada@example.com"');
    // G5, K1: nothing in web storage, on any page of the app, even after using the JWT.
    for (const path of ['/jwt', '/sessions', '/account']) {
      if (path !== '/jwt') await page.goto(`${demo.origin}${path}`);
      const storage = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length }));
      expect(storage, path).toEqual({ local: 0, session: 0 });
    }
  });

  it('revokes a second browser from the first; the second is logged out on its next request', async () => {
    const first = await freshPage();
    await signUp(first.page, 'grace@example.com');
    const second = await freshPage();
    await logIn(second.page, 'grace@example.com');

    await first.page.reload();
    await expect(first.page.locator('#sessions tbody tr').count()).resolves.toBe(2);
    await first.page.click('#sessions tbody tr:not(.current) button[type=submit]');
    await first.page.waitForURL(`${demo.origin}/sessions?done=revoked`);
    await expect(first.page.locator('#sessions tbody tr').count()).resolves.toBe(1);

    await second.page.goto(`${demo.origin}/sessions`);
    expect(second.page.url()).toBe(`${demo.origin}/login`);
    // The dead cookie was cleared on that request.
    expect(await browserCookie(second.context, '__Host-sid')).toBeUndefined();
  });

  it('refuses a cross-site form post from another loopback origin (CS-08); nothing changes', async () => {
    const victim = await freshPage();
    await signUp(victim.page, 'mallory-target@example.com');
    const otherDevice = await freshPage();
    await logIn(otherDevice.page, 'mallory-target@example.com');
    expect(await liveSessionCount('mallory-target@example.com')).toBe(2);

    const target = `${demo.origin}/sessions/revoke-others`;
    const attacker: RunningServer = await listenOnLoopback((_req, res) => {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(`<!doctype html><body>
<form id="f" method="post" action="${target}"><input name="ignored" value="1"></form>
<script>
  fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', credentials: 'include', body: new URLSearchParams({ a: '1' }) })
    .finally(() => document.getElementById('f').submit());
</script></body>`);
    });
    const seen: Array<{ cookie: boolean; fetchSite: string | undefined; origin: string | undefined }> = [];
    const record = (req: IncomingMessage) => {
      if (req.url === '/sessions/revoke-others') {
        seen.push({
          cookie: (req.headers.cookie ?? '').includes('__Host-sid='),
          fetchSite: req.headers['sec-fetch-site'] as string | undefined,
          origin: req.headers.origin,
        });
      }
    };
    demo.server.prependListener('request', record);
    try {
      const formResponse = victim.page.waitForResponse(
        (r) => r.url() === target && r.request().resourceType() === 'document',
      );
      await victim.page.goto(`http://127.0.0.1:${attacker.port}/`);
      const response = await formResponse;
      expect(response.status()).toBe(403);
      await victim.page.waitForLoadState();
      await expect(victim.page.textContent('h1')).resolves.toContain('CSRF_REJECTED');
    } finally {
      demo.server.off('request', record);
      await attacker.close();
    }
    // Both requests arrived (fetch no-cors, then the form), cross-site, and without the Lax cookie.
    expect(seen).toHaveLength(2);
    for (const request of seen) {
      expect(request).toEqual({ cookie: false, fetchSite: 'cross-site', origin: `http://127.0.0.1:${attacker.port}` });
    }
    expect(await liveSessionCount('mallory-target@example.com')).toBe(2);
    await otherDevice.page.goto(`${demo.origin}/sessions`);
    expect(otherDevice.page.url()).toBe(`${demo.origin}/sessions`);
  });

  it('logs out with the button; Back shows no cached account page (B7, B8)', async () => {
    const { context, page } = await freshPage();
    await signUp(page, 'linus@example.com');
    await page.click('#logout');
    await page.waitForURL(`${demo.origin}/login?reason=logged-out`);
    expect(await browserCookie(context, '__Host-sid')).toBeUndefined();
    await page.goBack();
    await page.waitForLoadState();
    expect(page.url()).toMatch(new RegExp(`^${demo.origin}/login`));
    await expect(page.content()).resolves.not.toContain('linus@example.com</span>');
  });

  it('shows the idle deadline and ends the session visibly once it passes', async () => {
    const { page } = await freshPage();
    await signUp(page, 'barbara@example.com');
    await expect(page.textContent('#idle-expiry')).resolves.toMatch(/^in (9|10) min/);
    await expect(page.textContent('#absolute-expiry')).resolves.toMatch(/^in (59|60) min|in 1 h/);
    clock.advance(10 * MINUTE + 1000);
    await page.reload();
    expect(page.url()).toBe(`${demo.origin}/login?reason=expired`);
    await expect(page.textContent('.notice')).resolves.toBe('Your session expired. Log in again.');
  });
});

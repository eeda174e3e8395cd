/**
 * The Next demo end to end in Debian's Chromium (playwright-core), served by the real `next start`
 * CLI on this run's build: what a user clicks, what the browser stores, and what another site can
 * make the browser do.
 */
import { browserCookie, launchChromium, skipBrowserSuites } from 'demo-shared/test-support/browser';
import { listenOnLoopback, type RunningServer } from 'demo-shared/test-support/http-server';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDataDir, type RunningNextDemo, removeDataDir, startNextDemo } from './support/demo.js';

const PASSWORD = 'correct horse battery';
const IDLE_MS = 4000;

describe.skipIf(skipBrowserSuites)('the Next demo (next start, SQLite) in Chromium', () => {
  let browser: Browser;
  let demo: RunningNextDemo;
  // A second server on the same build with a short idle timeout, for the expiry scenario.
  let shortIdle: RunningNextDemo;
  const dataDirs = [makeDataDir(), makeDataDir()];
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    [browser, demo, shortIdle] = await Promise.all([
      launchChromium(),
      startNextDemo(dataDirs[0] as string),
      startNextDemo(dataDirs[1] as string, { IDLE_TIMEOUT_MS: String(IDLE_MS), ABSOLUTE_TIMEOUT_MS: '600000' }),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([demo?.close(), shortIdle?.close()]);
    for (const dir of dataDirs) removeDataDir(dir);
  });

  async function freshPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext();
    contexts.push(context);
    return { context, page: await context.newPage() };
  }

  async function signUp(page: Page, email: string, origin = demo.origin): Promise<void> {
    await page.goto(`${origin}/signup`);
    await page.fill('form[action="/signup"] input[name=email]', email);
    await page.fill('form[action="/signup"] input[name=password]', PASSWORD);
    await page.click('form[action="/signup"] button[type=submit]');
    await page.waitForURL(`${origin}/sessions`);
  }

  async function logIn(page: Page, email: string): Promise<void> {
    await page.goto(`${demo.origin}/login`);
    await page.fill('form[action="/login"] input[name=email]', email);
    await page.fill('form[action="/login"] input[name=password]', PASSWORD);
    await page.click('form[action="/login"] button[type=submit]');
    await page.waitForURL(`${demo.origin}/sessions`);
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
    // The JWT page's script gets a session JWT and calls the API with it.
    await page.goto(`${demo.origin}/jwt`);
    await page.click('#call-api');
    await page.waitForFunction(() => document.getElementById('api-result')?.textContent?.includes('200'));
    await expect(page.textContent('#api-result')).resolves.toContain('"email": "ada@example.com"');
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
    expect(await browserCookie(second.context, '__Host-sid')).toBeUndefined();
  });

  it('refuses a cross-site form post from another loopback origin; nothing changes', async () => {
    const victim = await freshPage();
    await signUp(victim.page, 'mallory-target@example.com');
    const otherDevice = await freshPage();
    await logIn(otherDevice.page, 'mallory-target@example.com');

    const target = `${demo.origin}/sessions/revoke-others`;
    const attacker: RunningServer = await listenOnLoopback((_req, res) => {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(`<!doctype html><body>
<form id="f" method="post" action="${target}"><input name="ignored" value="1"></form>
<script>document.getElementById('f').submit();</script></body>`);
    });
    try {
      const formResponse = victim.page.waitForResponse(
        (r) => r.url() === target && r.request().resourceType() === 'document',
      );
      await victim.page.goto(`http://127.0.0.1:${attacker.port}/`);
      const response = await formResponse;
      expect(response.status()).toBe(403);
      expect(await response.request().headerValue('sec-fetch-site')).toBe('cross-site');
      await victim.page.waitForLoadState();
      await expect(victim.page.textContent('h1')).resolves.toContain('CSRF_REJECTED');
    } finally {
      await attacker.close();
    }
    // Both sessions live on: the other device still sees its page, and two rows.
    await otherDevice.page.goto(`${demo.origin}/sessions`);
    expect(otherDevice.page.url()).toBe(`${demo.origin}/sessions`);
    await expect(otherDevice.page.locator('#sessions tbody tr').count()).resolves.toBe(2);
  });

  it('logs out with the button; Back shows no cached account page', async () => {
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

  it('ends the session once the (short) idle timeout passes without a request', async () => {
    const { context, page } = await freshPage();
    await signUp(page, 'barbara@example.com', shortIdle.origin);
    expect(await browserCookie(context, '__Host-sid')).toBeDefined();
    await page.waitForTimeout(IDLE_MS + 1500);
    await page.reload();
    expect(page.url()).toMatch(new RegExp(`^${shortIdle.origin}/login`));
    await expect(page.textContent('.notice')).resolves.toBe('Your session expired. Log in again.');
    expect(await browserCookie(context, '__Host-sid')).toBeUndefined();
  });
});

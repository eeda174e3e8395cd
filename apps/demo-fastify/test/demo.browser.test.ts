/** The Fastify demo in Debian's Chromium: sign up, log in from a second browser, log out. */
import { browserCookie, launchChromium, skipBrowserSuites } from 'demo-shared/test-support/browser';
import { makeDataDir, removeDataDir } from 'demo-shared/test-support/data-dir';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningFastifyDemo } from '../src/app.js';
import { bootFastifyDemo } from './support/demo.js';

const PASSWORD = 'correct horse battery';

describe.skipIf(skipBrowserSuites)('the Fastify demo in Chromium', () => {
  let browser: Browser;
  let demo: RunningFastifyDemo;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = makeDataDir();
    [browser, demo] = await Promise.all([launchChromium(), bootFastifyDemo(dataDir)]);
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
    await page.waitForURL(`${demo.origin}/sessions`);
  }

  it('signs up, logs in from a second browser, revokes it, and logs out', async () => {
    const first = await browser.newContext();
    const second = await browser.newContext();
    try {
      const page = await first.newPage();
      await submit(page, '/signup', 'fastify-browser@example.com');
      expect(await browserCookie(first, '__Host-sid')).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax' });
      expect(await page.evaluate(() => document.cookie)).not.toContain('__Host-sid');
      expect(await page.evaluate(() => localStorage.length + sessionStorage.length)).toBe(0);

      const other = await second.newPage();
      await submit(other, '/login', 'fastify-browser@example.com');
      await page.reload();
      await expect(page.locator('#sessions tbody tr').count()).resolves.toBe(2);
      await page.click('#sessions tbody tr:not(.current) button[type=submit]');
      await page.waitForURL(`${demo.origin}/sessions?done=revoked`);
      await other.goto(`${demo.origin}/sessions`);
      expect(other.url()).toBe(`${demo.origin}/login`);

      await page.click('#logout');
      await page.waitForURL(`${demo.origin}/login?reason=logged-out`);
      expect(await browserCookie(first, '__Host-sid')).toBeUndefined();
      await page.goto(`${demo.origin}/sessions`);
      expect(page.url()).toBe(`${demo.origin}/login`);
    } finally {
      await first.close();
      await second.close();
    }
  });
});

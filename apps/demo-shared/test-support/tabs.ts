/**
 * Two tabs of one browser against a demo: what happens to the older tab's forms after the other
 * tab logs in, rotates the session (password change) or logs out. Every demo runs these in
 * Chromium with its own `boot`.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoServices } from '../src/services.js';
import { browserCookie, launchChromium, skipBrowserSuites } from './browser.js';
import { makeDataDir, removeDataDir } from './data-dir.js';

const PASSWORD = 'correct horse battery';

export interface BootedDemo {
  origin: string;
  services: DemoServices;
  close(): Promise<void>;
}

export function describeTabScenarios(framework: string, boot: (dataDir: string) => Promise<BootedDemo>): void {
  describe.skipIf(skipBrowserSuites)(`the ${framework} demo in two tabs (Chromium)`, () => {
    let browser: Browser;
    let demo: BootedDemo;
    let dataDir: string;
    const contexts: BrowserContext[] = [];

    beforeAll(async () => {
      dataDir = makeDataDir();
      [browser, demo] = await Promise.all([launchChromium(), boot(dataDir)]);
    });
    afterAll(async () => {
      for (const context of contexts) await context.close().catch(() => undefined);
      await browser?.close();
      await demo?.close();
      if (dataDir) removeDataDir(dataDir);
    });

    async function twoTabs(): Promise<{ context: BrowserContext; tab1: Page; tab2: Page }> {
      const context = await browser.newContext();
      contexts.push(context);
      return { context, tab1: await context.newPage(), tab2: await context.newPage() };
    }

    async function logIn(page: Page, email: string): Promise<void> {
      await page.goto(`${demo.origin}/login`);
      await page.fill('form[action="/login"] input[name=email]', email);
      await page.fill('form[action="/login"] input[name=password]', PASSWORD);
      await page.click('form[action="/login"] button[type=submit]');
      await page.waitForURL(`${demo.origin}/sessions`);
    }

    /** Sign-up answers "check your e-mail" (the same for every address); then the login form. */
    async function signUp(page: Page, email: string): Promise<void> {
      await page.goto(`${demo.origin}/signup`);
      await page.fill('form[action="/signup"] input[name=email]', email);
      await page.fill('form[action="/signup"] input[name=password]', PASSWORD);
      await page.click('form[action="/signup"] button[type=submit]');
      await page.waitForURL(`${demo.origin}/signup/check-email`);
      await logIn(page, email);
    }

    async function liveSessions(email: string): Promise<number> {
      const user = await demo.services.users.authenticate(email, PASSWORD);
      return user ? (await demo.services.manager.list(user.id)).length : 0;
    }

    /** Clicks a submit button and returns the status of the POST it sends. */
    async function post(page: Page, selector: string, path: string): Promise<number> {
      const response = page.waitForResponse(
        (r) => r.url() === `${demo.origin}${path}` && r.request().method() === 'POST',
      );
      await page.click(selector);
      return (await response).status();
    }

    it('a page rendered before a password change in another tab still posts; its Log out logs out', async () => {
      const { context, tab1, tab2 } = await twoTabs();
      const email = `rotate-${framework.toLowerCase()}@example.com`;
      await signUp(tab1, email);
      await tab1.goto(`${demo.origin}/account`);
      // Tab 2 changes the password: the session rotates (new id, new cookie) under tab 1's page.
      await tab2.goto(`${demo.origin}/account`);
      await tab2.fill('form[action="/account/password"] input[name=newPassword]', PASSWORD);
      await tab2.click('form[action="/account/password"] button[type=submit]');
      await tab2.waitForURL(`${demo.origin}/account?done=password`);

      // Tab 1's form carries the token of the page rendered before the rotation.
      await tab1.fill('form[action="/account/password"] input[name=newPassword]', PASSWORD);
      expect(await post(tab1, 'form[action="/account/password"] button[type=submit]', '/account/password')).toBe(303);
      await tab1.waitForURL(`${demo.origin}/account?done=password`);
      // Tab 2's page is now older than tab 1's rotation; its Log out still logs out.
      expect(await post(tab2, '#logout', '/logout')).toBe(303);
      await tab2.waitForURL(`${demo.origin}/login?reason=logged-out`);
      expect(await browserCookie(context, '__Host-sid')).toBeUndefined();
      expect(await liveSessions(email)).toBe(0);
    });

    it('Log out in an older tab after logging in again in another tab ends the session', async () => {
      const { context, tab1, tab2 } = await twoTabs();
      const email = `relogin-${framework.toLowerCase()}@example.com`;
      await signUp(tab1, email);
      await logIn(tab2, email); // a new session replaces the first in this browser
      expect(await post(tab1, '#logout', '/logout')).toBe(303);
      await tab1.waitForURL(`${demo.origin}/login?reason=logged-out`);
      await expect(tab1.textContent('h1')).resolves.toBe('Log in');
      expect(await browserCookie(context, '__Host-sid')).toBeUndefined();
      expect(await liveSessions(email)).toBe(0);
    });

    it('logging out in two tabs: the second also lands on the login page', async () => {
      const { tab1, tab2 } = await twoTabs();
      await signUp(tab1, `twice-${framework.toLowerCase()}@example.com`);
      await tab2.goto(`${demo.origin}/sessions`);
      expect(await post(tab1, '#logout', '/logout')).toBe(303);
      await tab1.waitForURL(`${demo.origin}/login?reason=logged-out`);
      expect(await post(tab2, '#logout', '/logout')).toBe(303);
      await tab2.waitForURL(`${demo.origin}/login?reason=logged-out`);
      await expect(tab2.textContent('h1')).resolves.toBe('Log in');
    });

    it('a login or sign-up form made stale by a login in another tab gets a fresh form, then works', async () => {
      const email = `stale-${framework.toLowerCase()}@example.com`;
      const elsewhere = await twoTabs();
      await signUp(elsewhere.tab1, email);
      const { tab1, tab2 } = await twoTabs();
      const tab3 = await tab1.context().newPage();
      await tab1.goto(`${demo.origin}/login`);
      await tab2.goto(`${demo.origin}/login`);
      await tab3.goto(`${demo.origin}/signup`);
      await tab1.fill('form[action="/login"] input[name=email]', email);
      await tab1.fill('form[action="/login"] input[name=password]', PASSWORD);
      await tab1.click('form[action="/login"] button[type=submit]');
      await tab1.waitForURL(`${demo.origin}/sessions`);

      await tab2.fill('form[action="/login"] input[name=email]', email);
      await tab2.fill('form[action="/login"] input[name=password]', PASSWORD);
      expect(await post(tab2, 'form[action="/login"] button[type=submit]', '/login')).toBe(409);
      await expect(tab2.textContent('h1')).resolves.toBe('Log in');
      await expect(tab2.textContent('.notice')).resolves.toContain('out of date');
      await expect(tab2.inputValue('form[action="/login"] input[name=email]')).resolves.toBe(email);
      await tab2.fill('form[action="/login"] input[name=password]', PASSWORD);
      await tab2.click('form[action="/login"] button[type=submit]');
      await tab2.waitForURL(`${demo.origin}/sessions`);

      await tab3.fill('form[action="/signup"] input[name=email]', `second-${email}`);
      await tab3.fill('form[action="/signup"] input[name=password]', PASSWORD);
      expect(await post(tab3, 'form[action="/signup"] button[type=submit]', '/signup')).toBe(409);
      await expect(tab3.textContent('h1')).resolves.toBe('Sign up');
      await expect(tab3.textContent('.notice')).resolves.toContain('out of date');
    });
  });
}

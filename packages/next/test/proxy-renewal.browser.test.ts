/**
 * The renewal design in real Chromium, across idle deadlines (short timeouts injected through the
 * policy, real clock): pages cannot set cookies, so the proxy renews on every page it matches; the
 * cookie's lifetime is the absolute deadline, so a session the store keeps alive never has its
 * cookie expire first. Sign-in and sign-out are server actions (Next's origin check plus ours).
 */

import { existsSync } from 'node:fs';
import { createSessionManager, MemoryStore } from '@org/session-core';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RunningApp, startFixtureApp } from './support/next-server.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = !existsSync(CHROMIUM) && process.env.CI !== 'true';
if (skip) console.warn(`[browser tests skipped] ${CHROMIUM} is not installed (apt-get install chromium)`);

const IDLE_MS = 4000;
const ABSOLUTE_MS = 60_000;
const store = new MemoryStore();
const policy = { idleTimeoutMs: IDLE_MS, absoluteTimeoutMs: ABSOLUTE_MS, touchIntervalMs: 500 };
// The test's view of the app's sessions (same store, same policy).
const manager = createSessionManager({ store, policy });
const SID = manager.cookie.name;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(skip)('proxy renewal in Chromium (next build, production server)', () => {
  let app: RunningApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let origin: string;

  beforeAll(async () => {
    app = await startFixtureApp((browserOrigin) => {
      origin = browserOrigin;
      return {
        store,
        clock: { now: () => Date.now() },
        policy,
        csrf: { key: new Uint8Array(32).fill(5), allowedOrigins: [browserOrigin] },
      };
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      timeout: 30_000,
    });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });
  beforeEach(async () => {
    context = await browser.newContext();
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
  });

  const signIn = async (user: string, remember: boolean) => {
    await page.goto(`${origin}/account`);
    expect(new URL(page.url()).pathname).toBe('/signin');
    expect(new URL(page.url()).searchParams.get('next')).toBe('/account');
    await page.getByLabel('user').fill(user);
    if (remember) await page.getByLabel('remember me').check();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${origin}/account`);
    expect(await page.locator('#user').textContent()).toBe(user);
  };
  const sessionCookie = async () => (await context.cookies()).find((c) => c.name === SID);

  it('keeps a remembered session alive across idle deadlines, its cookie never expiring before the store deadline; then idles out', async () => {
    const user = `renewal-${Date.now()}`;
    await signIn(user, true);
    const cookie = await sessionCookie();
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/' });
    expect(await page.evaluate(() => document.cookie)).not.toContain(SID);

    const started = Date.now();
    // Four page loads, each inside the idle timeout of the one before, spanning twice that timeout.
    for (let step = 0; step < 4; step++) {
      await sleep(IDLE_MS / 2);
      await page.goto(`${origin}/account`);
      expect(await page.locator('#user').textContent()).toBe(user);
      const [record] = await manager.list(user);
      const jar = await sessionCookie();
      expect(jar).toBeDefined();
      // The browser keeps the cookie at least as long as the store keeps the session.
      expect((jar?.expires as number) * 1000).toBeGreaterThanOrEqual((record?.idleExpiresAt as number) - 1000);
    }
    expect(Date.now() - started).toBeGreaterThan(IDLE_MS * 1.5);

    await sleep(IDLE_MS + 1000);
    await page.goto(`${origin}/account`);
    expect(new URL(page.url()).pathname).toBe('/signin');
    expect(new URL(page.url()).searchParams.get('next')).toBe('/account');
  });

  it('signs out through a server action; Back shows no account page from the cache', async () => {
    await signIn(`back-${Date.now()}`, false);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${origin}/signin`);
    expect(await sessionCookie()).toBeUndefined();
    await page.goBack();
    // Next's router asks the server for /account again; the proxy sends it to sign-in.
    await page.waitForURL((url) => url.pathname === '/signin', { timeout: 15_000 });
    expect(await page.locator('#user').count()).toBe(0);
  });
});

/**
 * DBSC in Debian's Chromium 156 with the DBSC feature flags and the software-key switch of
 * Chromium's own web tests. On this machine the browser receives the registration header but
 * never registers (docs/device-bound-sessions.md, "Tests, and what happened in the browser"), so
 * what is checked here is what the browser does: whichever way it goes, the session it ends up
 * with is the one the server reports, and the demo keeps working. dbsc.http.test.ts checks the
 * protocol with a client written from the spec.
 */
import { CHROMIUM_PATH, skipBrowserSuites } from 'demo-shared/test-support/browser';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDemo } from '../src/app.js';
import { bootDemo, makeDataDir, removeDataDir } from './support/demo.js';

const PASSWORD = 'correct horse battery';
const DBSC_FEATURES = [
  'DeviceBoundSessions:RequireOriginTrialTokens/false/RefreshQuota/false/ForceEnableForTesting/true',
  'EnableBoundSessionCredentialsSoftwareKeysForManualTesting',
];

describe.skipIf(skipBrowserSuites)('DBSC in Chromium (the demo)', () => {
  let browser: Browser;
  let demo: RunningDemo;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = makeDataDir();
    [browser, demo] = await Promise.all([
      chromium.launch({
        executablePath: CHROMIUM_PATH,
        // Playwright's own --enable-features would replace ours (the last switch wins).
        ignoreDefaultArgs: ['--enable-features=CDPScreenshotNewSurface,SkipListAccountsWithoutGaiaCookies'],
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          `--enable-features=${DBSC_FEATURES.join(',')}`,
          '--disable-features=DeviceBoundSessionsRefreshQuota',
        ],
        timeout: 30_000,
      }),
      bootDemo(dataDir),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await demo?.close();
    if (dataDir) removeDataDir(dataDir);
  });

  it('offers registration at login; the browser keeps a session whose binding the server reports truly', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const dbscRequests: string[] = [];
      let offered: string | null = null;
      page.on('request', (request) => {
        if (new URL(request.url()).pathname.startsWith('/dbsc/')) dbscRequests.push(new URL(request.url()).pathname);
      });
      context.on('request', (request) => {
        if (new URL(request.url()).pathname.startsWith('/dbsc/')) dbscRequests.push(new URL(request.url()).pathname);
      });
      page.on('response', async (response) => {
        if (new URL(response.url()).pathname === '/login' && response.request().method() === 'POST') {
          offered = (await response.allHeaders())['secure-session-registration'] ?? null;
        }
      });

      await page.goto(`${demo.origin}/signup`);
      await page.fill('form[action="/signup"] input[name=email]', 'chromium-dbsc@example.com');
      await page.fill('form[action="/signup"] input[name=password]', PASSWORD);
      await page.click('form[action="/signup"] button[type=submit]');
      await page.waitForURL(`${demo.origin}/signup/check-email`);
      await context.clearCookies();
      await page.goto(`${demo.origin}/login`);
      await page.fill('form[action="/login"] input[name=email]', 'chromium-dbsc@example.com');
      await page.fill('form[action="/login"] input[name=password]', PASSWORD);
      await page.click('form[action="/login"] button[type=submit]');
      await page.waitForURL(`${demo.origin}/sessions`);
      expect(offered).toMatch(/^\(ES256 RS256\);path="\/dbsc\/register";challenge="reg\./);

      // Registration is asynchronous in the spec: give the browser time to do it.
      await page.waitForTimeout(2000);
      const state = await page.evaluate(async () => {
        const response = await fetch('/api/device-binding');
        return ((await response.json()) as { state: string }).state;
      });
      const registered = (await context.cookies()).some((cookie) => cookie.name === '__Host-sid-bound');
      console.info(
        `[dbsc] Chromium sent ${dbscRequests.length} DBSC request(s) (${dbscRequests.join(', ') || 'none'}); session state ${state}`,
      );
      // What the server reports is what the browser holds: bound with a fresh cookie, or ordinary.
      expect(state).toBe(registered ? 'fresh' : 'unbound');
      expect(dbscRequests.includes('/dbsc/register')).toBe(registered);

      // Either way the session works, and a route that requires binding only when bound lets it through.
      const guarded = await page.evaluate(async () => (await fetch('/api/device-bound')).status);
      expect(guarded).toBe(200);
      await page.goto(`${demo.origin}/sessions`);
      expect(page.url()).toBe(`${demo.origin}/sessions`);
    } finally {
      await context.close();
    }
  });
});

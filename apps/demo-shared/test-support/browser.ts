import { existsSync } from 'node:fs';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';

/** Debian's Chromium: the only browser these tests use (none is ever downloaded). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

const chromiumInstalled = existsSync(CHROMIUM_PATH);

/**
 * True when the browser suites should be skipped: Chromium is missing and this is not CI. Under
 * `CI=true` a missing Chromium is not skipped, so the launch in `beforeAll` fails the run.
 */
export const skipBrowserSuites = !chromiumInstalled && process.env.CI !== 'true';
if (skipBrowserSuites) {
  console.warn(`[browser tests skipped] ${CHROMIUM_PATH} is not installed (apt-get install chromium)`);
}

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

/** Starts one headless Chromium for a test file; give every scenario its own fresh context. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 30_000 });
}

/** A cookie as Chromium stores it, looked up by name. */
export async function browserCookie(context: BrowserContext, name: string) {
  const cookies = await context.cookies();
  return cookies.find((cookie) => cookie.name === name);
}

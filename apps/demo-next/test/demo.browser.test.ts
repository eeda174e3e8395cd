/**
 * The Next demo end to end in Debian's Chromium (playwright-core), served by the real `next start`
 * CLI on this run's build: the scenarios every demo shares (demo-shared/test-support/scenarios.ts),
 * and a short idle timeout on a second server of the same build.
 */
import { browserCookie } from 'demo-shared/test-support/browser';
import { describeDemoInBrowser } from 'demo-shared/test-support/scenarios';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { makeDataDir, type RunningNextDemo, removeDataDir, startNextDemo } from './support/demo.js';

const IDLE_MS = 4000;

describeDemoInBrowser(
  'Next.js 16',
  (dataDir, { reauthAfterMs }) => startNextDemo(dataDir, { REAUTH_AFTER_MS: String(reauthAfterMs) }),
  ({ freshPage, signUp }) => {
    let shortIdle: RunningNextDemo;
    const dataDir = makeDataDir();
    beforeAll(async () => {
      shortIdle = await startNextDemo(dataDir, { IDLE_TIMEOUT_MS: String(IDLE_MS), ABSOLUTE_TIMEOUT_MS: '600000' });
    });
    afterAll(async () => {
      await shortIdle?.close();
      removeDataDir(dataDir);
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
  },
);

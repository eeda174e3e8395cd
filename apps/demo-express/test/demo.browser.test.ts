/**
 * The Express demo end to end in Debian's Chromium (playwright-core): the scenarios every demo
 * shares (demo-shared/test-support/scenarios.ts), and the idle deadline on the injected clock.
 */
import { createTestClock } from '@org/session-core/testing';
import { describeDemoInBrowser } from 'demo-shared/test-support/scenarios';
import { expect, it } from 'vitest';
import { bootDemo } from './support/demo.js';

const MINUTE = 60_000;
const clock = createTestClock(Date.now());

describeDemoInBrowser(
  'Express 5',
  async (dataDir, { reauthAfterMs }) => {
    const demo = await bootDemo(
      dataDir,
      { idleTimeoutMs: 10 * MINUTE, absoluteTimeoutMs: 60 * MINUTE, reauthAfterMs },
      clock,
    );
    return { origin: demo.origin, close: () => demo.close(), passTime: (ms) => clock.advance(ms) };
  },
  ({ demo, freshPage, signUp }) => {
    it('shows the idle deadline and ends the session visibly once it passes', async () => {
      // The page counts down with the browser's clock: bring the test clock up to real time first.
      clock.advance(Math.max(0, Date.now() - clock.now()));
      const { page } = await freshPage();
      await signUp(page, 'barbara@example.com');
      await expect(page.textContent('#idle-expiry')).resolves.toMatch(/^in (9|10) min/);
      await expect(page.textContent('#absolute-expiry')).resolves.toMatch(/^in (59|60) min|in 1 h/);
      clock.advance(10 * MINUTE + 1000);
      await page.reload();
      expect(page.url()).toBe(`${demo().origin}/login?reason=expired`);
      await expect(page.textContent('.notice')).resolves.toBe('Your session expired. Log in again.');
    });
  },
);

/**
 * The Express demo end to end in Debian's Chromium (playwright-core): the scenarios every demo
 * shares (demo-shared/test-support/scenarios.ts), and the idle deadline on the injected clock.
 */
import { createTestClock } from '@org/session-core/testing';
import { describeDemoInBrowser, idleExpiryScenario } from 'demo-shared/test-support/scenarios';
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
  idleExpiryScenario(clock),
);

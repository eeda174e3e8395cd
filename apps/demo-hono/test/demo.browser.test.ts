/**
 * The Hono demo on Node (SQLite) end to end in Debian's Chromium (playwright-core): the scenarios every demo
 * shares (demo-shared/test-support/scenarios.ts), and the idle deadline on the injected clock.
 */
import { createTestClock } from '@org/session-core/testing';
import { describeDemoInBrowser, idleExpiryScenario } from 'demo-shared/test-support/scenarios';
import { bootHonoDemo } from './support/demo.js';

const MINUTE = 60_000;
const clock = createTestClock(Date.now());

describeDemoInBrowser(
  'Hono 4 on Node.js',
  async (dataDir, { reauthAfterMs }) => {
    const demo = await bootHonoDemo(
      dataDir,
      { idleTimeoutMs: 10 * MINUTE, absoluteTimeoutMs: 60 * MINUTE, reauthAfterMs },
      clock,
    );
    return { origin: demo.origin, close: () => demo.close(), passTime: (ms) => clock.advance(ms) };
  },
  idleExpiryScenario(clock),
);

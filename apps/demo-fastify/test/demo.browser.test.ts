/** The Fastify demo in Debian's Chromium: the scenarios every demo shares (demo-shared/test-support/scenarios.ts). */
import { createTestClock } from '@org/session-core/testing';
import { describeDemoInBrowser } from 'demo-shared/test-support/scenarios';
import { bootFastifyDemo } from './support/demo.js';

const clock = createTestClock(Date.now());

describeDemoInBrowser('Fastify 5', async (dataDir, { reauthAfterMs }) => {
  const demo = await bootFastifyDemo(dataDir, { reauthAfterMs }, clock);
  return { origin: demo.origin, close: () => demo.close(), passTime: (ms) => clock.advance(ms) };
});

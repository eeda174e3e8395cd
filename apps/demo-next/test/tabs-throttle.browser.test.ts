/**
 * The shared two-tab scenarios (a page older than a rotation, logout from an older tab, double
 * logout, a stale login or sign-up form) against the Next demo under `next start`. The test reads
 * the demo's users and sessions through services of its own on the same SQLite files.
 */
import { readConfig } from 'demo-shared/config';
import { createDemoServices, loopbackOrigins } from 'demo-shared/services';
import { describeTabScenarios } from 'demo-shared/test-support/tabs';
import { freePort, startDemoProcess } from '../../demo-shared/test/store-scenarios.js';
import { nextLauncher } from './next-store-launcher.js';

describeTabScenarios('Next', async (dataDir) => {
  const port = await freePort();
  const running = await startDemoProcess(nextLauncher, port, { DATA_DIR: dataDir });
  // Opened after the demo started, so both read the secrets and keys it wrote.
  const services = await createDemoServices(readConfig({}, { port, dataDir }), {
    allowedOrigins: loopbackOrigins(port),
  });
  return {
    origin: running.origin,
    services,
    async close() {
      await running.stop();
      await services.close();
    },
  };
});

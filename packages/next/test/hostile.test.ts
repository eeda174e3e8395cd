import { runHostileHttpSuite } from '@org/session-core/testing/vitest';
import { sendRaw } from '../../../test-support/raw-http.js';
// The suite's manager is made by the suite; its store, clock and event hook are handed to the app.
import { runtimeOf } from '../../core/src/manager.js';
import { HOSTILE_KEY } from './fixture-app/lib/hostile.js';
import { startFixtureApp } from './support/next-server.js';

runHostileHttpSuite({
  name: 'next (next build, production server)',
  start: async ({ manager, csrf, jwtOptions, api }) => {
    (globalThis as Record<symbol, unknown>)[HOSTILE_KEY] = api;
    const runtime = runtimeOf(manager);
    return startFixtureApp({
      store: runtime.store,
      clock: runtime.clock,
      onEvent: runtime.emit as never,
      storeTimeoutMs: runtime.storeTimeoutMs,
      csrf,
      hybrid: jwtOptions,
    });
  },
  sendRaw,
  // Next turns every request into a Fetch Request before the app or the adapter sees it, and the
  // Request constructor refuses TRACE: Next answers 500 itself. The suite still checks that answer
  // echoes no cookie and carries no session. Behind a proxy that refuses TRACE this never reaches Next.
  frameworkMethodStatuses: { TRACE: [500] },
});

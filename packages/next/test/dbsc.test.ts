import { runDbscHttpSuite } from '@org/session-core/testing/vitest';
// The suite's manager is made by the suite; its store, clock and event hook are handed to the app.
import { runtimeOf } from '../../core/src/manager.js';
import { startFixtureApp } from './support/next-server.js';

// The fixture app (next build, Next's production server) with nextDbsc on app/dbsc/[step]/route.ts.
runDbscHttpSuite({
  name: 'next (next build, production server)',
  start: async ({ manager, options }) => {
    const runtime = runtimeOf(manager);
    return startFixtureApp({
      store: runtime.store,
      clock: runtime.clock,
      onEvent: runtime.emit as never,
      storeTimeoutMs: runtime.storeTimeoutMs,
      csrf: { key: new Uint8Array(32).fill(7), allowedOrigins: ['http://localhost'] },
      dbsc: options,
    });
  },
});

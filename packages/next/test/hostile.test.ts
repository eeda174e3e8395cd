import { runHostileHttpSuite } from '@org/session-core/testing/vitest';
import { sendRaw } from '../../../test-support/raw-http.js';
// The suite's manager is made by the suite; its store, clock and event hook are handed to the app.
import { runtimeOf } from '../../core/src/runtime.js';
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
});

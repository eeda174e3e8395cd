import { runAdapterHttpSuite } from '@org/session-core/testing/vitest';
import { sendRaw } from '../../../test-support/raw-http.js';
// The suite's manager is made by the suite; its store, clock and event hook are handed to the app.
import { runtimeOf } from '../../core/src/manager.js';
import { startFixtureApp } from './support/next-server.js';

runAdapterHttpSuite({
  name: 'next (next build, production server)',
  start: async ({ manager, csrf }) => {
    const runtime = runtimeOf(manager);
    return startFixtureApp({
      store: runtime.store,
      clock: runtime.clock,
      onEvent: runtime.emit as never,
      storeTimeoutMs: runtime.storeTimeoutMs,
      csrf,
    });
  },
  sendRaw,
});

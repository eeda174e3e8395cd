import { MemoryStore } from '@org/session-core';
import { runDpopHttpSuite } from '@org/session-core/testing/vitest';
import * as dpopClient from 'dpop';
import { startFixtureApp } from './support/next-server.js';

// The fixture app (next build, Next's production server) with nextDpop on app/dpop/[...path]/route.ts;
// the suite's verifier and handlers run in this process, which serves the app.
runDpopHttpSuite({
  name: 'next (next build, production server)',
  client: dpopClient as never,
  basePath: '/dpop',
  start: async (input) => {
    return startFixtureApp({
      // The app's own session manager is unused by these routes: the suite's handlers hold theirs.
      store: new MemoryStore(),
      clock: { now: () => Date.now() },
      csrf: { key: new Uint8Array(32).fill(7), allowedOrigins: ['http://localhost'] },
      dpop: input,
    });
  },
});

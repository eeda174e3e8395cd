import { runHybridHttpSuite } from '@org/session-core/testing/vitest';
import { runtimeOf } from '../../core/src/manager.js';
import { startFixtureApp } from './support/next-server.js';

runHybridHttpSuite({
  name: 'next (next build, production server)',
  start: async ({ manager, csrf, hybrid }) => {
    const runtime = runtimeOf(manager);
    const { jwt } = hybrid;
    return startFixtureApp({
      store: runtime.store,
      clock: runtime.clock,
      storeTimeoutMs: runtime.storeTimeoutMs,
      csrf,
      // The app's own hybrid sessions over the same keys and claims (it cannot share objects bound to this manager).
      hybrid: {
        keys: jwt.keys,
        issuer: jwt.issuer,
        audience: Reflect.get(jwt, 'audience') as string,
        ttlSeconds: jwt.ttlSeconds,
      },
    });
  },
});

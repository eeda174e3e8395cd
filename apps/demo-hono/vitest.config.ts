import { project } from '../../vitest.shared.ts';

export default project({
  test: {
    name: 'demo-hono',
    // Browser steps share 2 cores with the rest of the workspace's tests: allow slow runs, never sleep.
    testTimeout: 60_000,
  },
});

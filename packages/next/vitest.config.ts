import { project } from '../../vitest.shared.ts';

export default project({
  test: {
    name: 'next',
    globalSetup: ['./test/global-setup.ts'],
    // Next's production server and Chromium share 2 cores with the rest of the workspace's tests.
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});

import { project } from '../../vitest.shared.ts';

export default project({
  test: {
    name: 'demo-next',
    globalSetup: ['./test/global-setup.ts'],
    // `next build` once per run, then Chromium against `next start`, on 2 shared cores.
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});

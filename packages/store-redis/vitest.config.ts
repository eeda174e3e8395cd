import { project } from '../../vitest.shared.ts';

export default project({
  test: {
    name: 'store-redis',
    // Starts (or reuses) the three-master Redis Cluster on 127.0.0.1:7101-7103.
    globalSetup: ['./test/global-setup.ts'],
  },
});

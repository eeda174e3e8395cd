import { project } from '../vitest.shared.ts';

export default project({
  test: {
    name: 'soak',
    // The phases start servers, stop and restart stores: one file, one phase at a time.
    fileParallelism: false,
    testTimeout: 300_000,
  },
});

import { project } from '../../vitest.shared.ts';

export default project({
  test: {
    name: 'demo-fastify',
    // The browser suite shares one Chromium per file; files run one after another to stay within 2 cores.
    fileParallelism: false,
  },
});

import { project } from '../../vitest.shared.ts';

// Core's own tests again, inside a Web-only runtime (no Node globals): proof that core runs on
// edge workers as it does on Node.
export default project({
  test: {
    name: 'core (edge-runtime)',
    environment: 'edge-runtime',
    exclude: ['test/**/*.node.test.ts'],
  },
});

import { project } from '../vitest.shared.ts';

// The report generators only: benchmarks themselves are run with `pnpm bench`, never as tests.
export default project({
  test: {
    name: 'bench',
  },
});

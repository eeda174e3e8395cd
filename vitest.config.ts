import { defineConfig } from 'vitest/config';

// One vitest run covers every package, so CI gets one count of passed and failed tests.
// Workspace packages resolve to their TypeScript source through the `@org/source` export
// condition: `pnpm test` never needs a prior build.
export default defineConfig({
  test: {
    projects: [
      'packages/*/vitest.config.ts',
      'packages/core/vitest.edge.config.ts',
      'apps/*/vitest.config.ts',
      'bench/vitest.config.ts',
      'soak/vitest.config.ts',
    ],
  },
});

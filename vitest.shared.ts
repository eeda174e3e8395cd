import { defineProject, mergeConfig } from 'vitest/config';

/** Settings every package's vitest project shares. */
export const sharedProject = defineProject({
  resolve: { conditions: ['@org/source'] },
  ssr: { resolve: { conditions: ['@org/source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});

export function project(config: Parameters<typeof defineProject>[0]) {
  return mergeConfig(sharedProject, defineProject(config));
}

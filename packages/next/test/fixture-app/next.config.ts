import type { NextConfig } from 'next';

// The fixture builds with webpack (`next build --webpack`): it resolves the workspace packages
// from their TypeScript source through the `@org/source` condition, as vitest does, so the
// packages need no build first. (Turbopack does not map the source's `.js` specifiers to `.ts`
// outside the app's directory.)
const config: NextConfig = {
  poweredByHeader: false,
  // Each test run builds into its own folder under .next (test/global-setup.ts), so runs never share one.
  distDir: process.env.FIXTURE_DIST_DIR ?? '.next/build',
  // The package's `pnpm typecheck` checks the fixture; the build need not do it again.
  typescript: { ignoreBuildErrors: true },
  experimental: { externalDir: true },
  webpack(webpackConfig) {
    webpackConfig.resolve.conditionNames = ['@org/source', '...'];
    webpackConfig.resolve.extensionAlias = { '.js': ['.ts', '.tsx', '.js'] };
    return webpackConfig;
  },
};

export default config;

import type { NextConfig } from 'next';

// Built with webpack: the workspace packages resolve from their TypeScript source through the
// `@org/source` condition, so nothing needs building first.
const config: NextConfig = {
  poweredByHeader: false,
  // The tests build into their own folder so a running `pnpm demo:next` keeps its build.
  distDir: process.env.DEMO_DIST_DIR ?? '.next',
  typescript: { ignoreBuildErrors: true },
  experimental: { externalDir: true },
  // Native module: loaded by Node at run time, never bundled.
  serverExternalPackages: ['better-sqlite3', 'ioredis', 'pg'],
  async rewrites() {
    return [{ source: '/.well-known/jwks.json', destination: '/jwks' }];
  },
  webpack(webpackConfig) {
    webpackConfig.resolve.conditionNames = ['@org/source', '...'];
    webpackConfig.resolve.extensionAlias = { '.js': ['.ts', '.tsx', '.js'] };
    return webpackConfig;
  },
};

export default config;

// Built by bench/next.ts in a temp folder whose node_modules links to bench/node_modules. Webpack
// resolves the workspace packages from their TypeScript source (the `@org/source` condition), as
// the bench's other servers run them, so no package needs a build first.
/** @type {import('next').NextConfig} */
const config = {
  poweredByHeader: false,
  experimental: { externalDir: true },
  webpack(webpackConfig) {
    webpackConfig.resolve.conditionNames = ['@org/source', '...'];
    webpackConfig.resolve.extensionAlias = { '.js': ['.ts', '.tsx', '.js'] };
    return webpackConfig;
  },
};

export default config;

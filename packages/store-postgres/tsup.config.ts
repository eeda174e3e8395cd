import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  // The private SQL kit is bundled in, its types too: the published package never imports it.
  noExternal: ['@org/session-sql-kit'],
  dts: { compilerOptions: { paths: { '@org/session-sql-kit': ['../sql-kit/src/index.ts'] } } },
  clean: true,
  sourcemap: true,
  target: 'es2022',
  platform: 'node',
  // The migration loader finds sql/ through import.meta.url, in the CJS build too.
  shims: true,
});

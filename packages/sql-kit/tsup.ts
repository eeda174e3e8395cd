import { defineConfig } from 'tsup';

/**
 * The build of a store that uses this kit (run from the store's folder, a sibling of this one).
 * The kit is bundled in, JavaScript and declarations alike: the published package never imports
 * it, and its `.d.ts` declares what its public types use of it.
 */
export const sqlStoreBuild = defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  noExternal: ['@org/session-sql-kit'],
  // Declarations: read the kit from source, as a file of the store's own program, so that it is
  // inlined (through node_modules it would stay an import of a package no user has).
  dts: { compilerOptions: { paths: { '@org/session-sql-kit': ['../sql-kit/src/index.ts'] } } },
  clean: true,
  sourcemap: true,
  target: 'es2022',
  platform: 'node',
  // The migration loader finds sql/ through import.meta.url, in the CJS build too.
  shims: true,
});

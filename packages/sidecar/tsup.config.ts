import { defineConfig } from 'tsup';

export default defineConfig({
  // cli.ts keeps its hashbang line: `bin` points at dist/cli.js.
  entry: ['src/index.ts', 'src/cli.ts'],
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts' } },
  clean: true,
  sourcemap: true,
  target: 'es2022',
  platform: 'node',
});

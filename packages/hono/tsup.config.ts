import { defineConfig } from 'tsup';

// One build for every runtime: the adapter uses Web APIs only (Request, Headers, Response).
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  platform: 'neutral',
});

import { defineConfig } from 'tsup';

// Next runs the adapter on Node (route handlers, server actions, proxy.ts); the edge route needs core alone.
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  platform: 'neutral',
});

import { defineConfig } from 'tsup';

// Web-standard code only: the binding runs wherever @opentelemetry/api does.
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  platform: 'neutral',
});

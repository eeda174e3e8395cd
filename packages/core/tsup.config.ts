import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    jwt: 'src/entries/jwt.ts',
    csrf: 'src/entries/csrf.ts',
    refresh: 'src/entries/refresh.ts',
    throttle: 'src/entries/throttle.ts',
    dpop: 'src/entries/dpop.ts',
    dbsc: 'src/entries/dbsc.ts',
    adapter: 'src/entries/adapter.ts',
    'testing/index': 'src/testing/index.ts',
    'testing/vitest': 'src/testing/vitest.ts',
  },
  format: ['esm', 'cjs'],
  // Shared chunks for CommonJS too: entries share module state (the manager's private runtime, the
  // verified-token caches), so each module must exist once however many entries a program loads.
  splitting: true,
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  platform: 'neutral',
  external: ['vitest'],
});

import { defineConfig } from 'tsup';

// The handler uses Web APIs only (Request, Response, Web Crypto); ./node adds the node:http glue.
export default defineConfig({
  entry: ['src/index.ts', 'src/node.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  platform: 'neutral',
});

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import type { DemoLauncher } from '../../demo-shared/test/store-scenarios.js';

const appDir = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The demo under the real `next start` CLI, on this run's build (see global-setup.ts). */
export const nextLauncher: DemoLauncher = {
  framework: 'Next.js',
  cwd: appDir,
  args: (port) => [
    join(appDir, 'node_modules/next/dist/bin/next'),
    'start',
    '--port',
    String(port),
    '--hostname',
    '127.0.0.1',
  ],
  // NEXT_MANUAL_SIG_HANDLE, as `pnpm demo:next`: SIGTERM closes the stores and exits 0 (instrumentation.ts).
  env: () => ({
    DEMO_DIST_DIR: inject('demoDistDir'),
    NODE_ENV: 'production',
    NEXT_TELEMETRY_DISABLED: '1',
    NEXT_MANUAL_SIG_HANDLE: '1',
  }),
};

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inject } from 'vitest';
import { type FixtureSetup, SETUP_KEY } from '../fixture-app/lib/setup.js';
import { fixtureDir } from './fixture-build.js';

export interface RunningApp {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Serves the built fixture app (`next build` output) with Next's production server, the one
 * `next start` runs, inside this test process on 127.0.0.1 (ephemeral port). In-process so the
 * app's manager shares the test's store, clock and event hook (see fixture-app/lib/setup.ts).
 * One app per test file: vitest runs each file in its own process.
 */
export async function startFixtureApp(
  setup: FixtureSetup | ((origin: string) => FixtureSetup),
  dir = fixtureDir,
): Promise<RunningApp> {
  // Next's production server expects a production environment (React's production builds).
  Reflect.set(process.env, 'NODE_ENV', 'production');
  process.env.NEXT_TELEMETRY_DISABLED = '1';
  // This run's build (test/global-setup.ts); next.config.ts reads it.
  process.env.FIXTURE_DIST_DIR = inject('fixtureDistDir');
  const { default: next } = await import('next');
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  // A browser's origin for this server, for setups whose CSRF settings name it.
  (globalThis as Record<symbol, unknown>)[SETUP_KEY] =
    typeof setup === 'function' ? setup(`http://localhost:${port}`) : setup;
  const app = next({ dev: false, dir, hostname: '127.0.0.1', port, quiet: true });
  await app.prepare();
  const handle = app.getRequestHandler();
  server.on('request', (req, res) => void handle(req, res));
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
    },
  };
}

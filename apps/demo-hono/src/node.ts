import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Clock } from '@org/session-core';
import type { DemoConfig } from 'demo-shared/config';
import { createDemoServices, type DemoServices, loopbackOrigins } from 'demo-shared/services';
import { createHonoDemo } from './app.js';

export interface RunningHonoDemo {
  server: Server;
  port: number;
  /** `http://localhost:<port>` */
  origin: string;
  services: DemoServices;
  close(): Promise<void>;
}

/**
 * Starts the Hono demo on Node (`@hono/node-server`) with demo-shared's services: sessions and
 * users in SQLite under `config.dataDir`. Listens first (so port 0 resolves to a real port), then
 * builds the services with the origins the browser will use.
 *
 * @example
 * ```ts
 * const demo = await startHonoDemo(readConfig(process.env, { port: 3002 }));
 * ```
 */
export async function startHonoDemo(config: DemoConfig, options: { clock?: Clock } = {}): Promise<RunningHonoDemo> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const services = await createDemoServices(config, { allowedOrigins: loopbackOrigins(port), clock: options.clock });
  const app = createHonoDemo(services, { getConnInfo });
  server.on('request', getRequestListener(app.fetch));
  return {
    server,
    port,
    origin: `http://localhost:${port}`,
    services,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await services.close();
    },
  };
}

import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RunningServer {
  server: Server;
  port: number;
  /** The origin browsers use: `http://localhost:<port>`. */
  origin: string;
  /** The same server under its IP literal, a different site for the browser. */
  ipOrigin: string;
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 on an ephemeral port. Keep-alive sockets are closed with the server so a
 * test file never waits for idle connections to time out.
 */
export async function listenOnLoopback(listener: RequestListener | Server): Promise<RunningServer> {
  const server = typeof listener === 'function' ? createServer(listener) : listener;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    origin: `http://localhost:${port}`,
    ipOrigin: `http://127.0.0.1:${port}`,
    close: () => closeServer(server),
  };
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeAllConnections();
  });
}

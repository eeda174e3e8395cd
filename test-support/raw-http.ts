// Node-only helper shared by the adapters' tests: raw bytes on a socket, for requests fetch cannot send.
import { connect } from 'node:net';

/** Same shape as `RawResponse` in @org/session-core/testing. */
export interface RawResponse {
  status: number;
  head: string;
  body: string;
}

/** Writes raw bytes to the server and reads until it closes the connection (bounded by a timeout). */
export function sendRaw(url: string, request: Uint8Array): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    socket.setTimeout(5000, () => socket.destroy(new Error('raw request timed out')));
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = split === -1 ? text : text.slice(0, split);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, head, body: split === -1 ? '' : text.slice(split + 4) });
    });
  });
}

/**
 * `@org/session-auth-api/node`: the session API on `node:http`, for plain Node servers and
 * Express (`app.use('/auth', toNodeHandler(api))`; Express strips the mount path from `req.url`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MAX_BODY_BYTES, type SessionApi } from './api.js';

/**
 * A `(req, res)` handler that feeds the API a Web `Request` and writes its `Response`. The body is
 * read up to {@link MAX_BODY_BYTES} plus one byte (the API refuses anything longer); a stream that
 * fails ends the response with a 400.
 *
 * @example
 * ```ts
 * createServer(toNodeHandler(api)).listen(4000, '127.0.0.1')
 * ```
 */
export function toNodeHandler(api: SessionApi): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    let response: Response;
    try {
      const method = req.method ?? 'GET';
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (value === undefined) continue;
        for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
      }
      const body = method === 'GET' || method === 'HEAD' ? undefined : await readBody(req);
      // The host only builds a URL for routing: the API never trusts it for anything else.
      const url = new URL(req.url ?? '/', 'http://session-api.invalid');
      response = await api.fetch(new Request(url, { method, headers, body }));
    } catch {
      response = new Response(JSON.stringify({ error: { code: 'INPUT_INVALID', message: 'Bad request' } }), {
        status: 400,
        headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
      });
    }
    const text = req.method === 'HEAD' ? '' : await response.text();
    response.headers.forEach((value, name) => {
      res.setHeader(name, value);
    });
    res.setHeader('content-length', Buffer.byteLength(text));
    res.statusCode = response.status;
    res.end(text);
  };
}

async function readBody(req: IncomingMessage): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // One byte past the limit is enough for the API to refuse; stop reading there.
    if (size > MAX_BODY_BYTES + 1) break;
    chunks.push(chunk);
  }
  // A copy into a plain ArrayBuffer: what fetch's BodyInit types accept.
  return new Uint8Array(Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES + 1));
}

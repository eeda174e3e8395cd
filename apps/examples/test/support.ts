/** What the example tests share: a minimal browser client. */
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';

/** A port free on localhost at the time of asking. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * One request on its own connection (no keep-alive pool): the tests restart servers on the same
 * port, and a pooled connection to the old process would fail the next request.
 */
function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
): Promise<{ status: number; setCookies: string[]; contentType: string; retryAfter: string | null; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          setCookies: res.headers['set-cookie'] ?? [],
          contentType: res.headers['content-type'] ?? '',
          retryAfter: res.headers['retry-after'] ?? null,
          text,
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}
/** A minimal browser: a cookie jar (name -> value) and the page's CSRF token when the app has one. */
export class Client {
  readonly cookies = new Map<string, string>();
  readonly setCookies: string[] = [];
  csrfToken: string | null = null;
  constructor(readonly origin: string) {}

  copy(): Client {
    const other = new Client(this.origin);
    for (const [name, value] of this.cookies) other.cookies.set(name, value);
    other.csrfToken = this.csrfToken;
    return other;
  }

  async request(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: unknown; retryAfter: string | null }> {
    const headers: Record<string, string> = { cookie: [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; ') };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET') headers.origin = this.origin;
    if (method !== 'GET' && this.csrfToken) headers['x-csrf-token'] = this.csrfToken;
    const response = await send(
      this.origin + path,
      method,
      headers,
      body === undefined ? undefined : JSON.stringify(body),
    );
    for (const line of response.setCookies) {
      this.setCookies.push(line);
      const [pair = '', ...attributes] = line.split(';');
      const name = pair.slice(0, pair.indexOf('='));
      const value = pair.slice(pair.indexOf('=') + 1);
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const isJson = response.contentType.includes('application/json');
    const json = isJson ? JSON.parse(response.text) : response.text;
    return { status: response.status, json, retryAfter: response.retryAfter };
  }

  /** Fetches a CSRF token where the app offers one (the "after" apps); the "before" apps answer 404. */
  async refreshCsrf(): Promise<void> {
    const response = await this.request('GET', '/csrf');
    this.csrfToken = response.status === 200 ? (response.json as { csrfToken: string }).csrfToken : null;
  }
}

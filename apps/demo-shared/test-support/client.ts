import { lintResponse } from './header-lint.js';

export interface ClientResponse {
  status: number;
  headers: Headers;
  body: string;
  location: string | null;
}

/** Every session token any test client was given, for the "no token in bodies" check. */
export const issuedTokens = new Set<string>();

/**
 * A minimal browser stand-in over real HTTP: keeps cookies (host-only, by name), sends the
 * `Origin` a same-origin form post carries, remembers the last CSRF token a page rendered, and
 * runs the header check on every response. Redirects are not followed, so tests see them.
 */
export class DemoClient {
  readonly cookies = new Map<string, string>();
  csrfToken: string | null = null;
  userAgent: string;

  constructor(
    readonly origin: string,
    options: { userAgent?: string } = {},
  ) {
    this.userAgent = options.userAgent ?? 'demo-test-client/1.0 (Linux)';
  }

  get sessionToken(): string | undefined {
    return this.cookies.get('__Host-sid');
  }

  async get(path: string, headers: Record<string, string> = {}): Promise<ClientResponse> {
    return this.request('GET', path, undefined, headers);
  }

  /** Posts a form, adding the last CSRF token seen unless the fields carry `_csrf` already. */
  async post(
    path: string,
    fields: Record<string, string> = {},
    headers: Record<string, string> = {},
  ): Promise<ClientResponse> {
    const body = new URLSearchParams(fields);
    if (!body.has('_csrf') && this.csrfToken && !('x-omit-csrf' in headers)) body.set('_csrf', this.csrfToken);
    const { 'x-omit-csrf': _omit, ...rest } = headers;
    return this.request('POST', path, body.toString(), {
      'content-type': 'application/x-www-form-urlencoded',
      origin: this.origin,
      ...rest,
    });
  }

  async request(
    method: string,
    path: string,
    body: string | undefined,
    headers: Record<string, string> = {},
  ): Promise<ClientResponse> {
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const response = await fetch(new URL(path, this.origin), {
      method,
      body,
      redirect: 'manual',
      headers: { 'user-agent': this.userAgent, ...(cookie ? { cookie } : {}), ...headers },
    });
    const text = await response.text();
    this.absorbCookies(response.headers.getSetCookie());
    lintResponse({ status: response.status, headers: response.headers, body: text }, issuedTokens);
    const csrf = /name="_csrf" value="([0-9a-f.]+)"/.exec(text);
    if (csrf) this.csrfToken = csrf[1] as string;
    return {
      status: response.status,
      headers: response.headers,
      body: text,
      location: response.headers.get('location'),
    };
  }

  private absorbCookies(setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair = '', ...attributes] = line.split('; ');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (attributes.some((a) => a === 'Max-Age=0')) {
        this.cookies.delete(name);
        continue;
      }
      this.cookies.set(name, value);
      if (name === '__Host-sid') issuedTokens.add(value);
    }
  }
}

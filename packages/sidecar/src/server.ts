import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ResolvedSidecarConfig } from './config.js';
import { type IdentityHeaderOptions, identityHeaders, type SidecarIdentity } from './identity.js';

/** What the HTTP layer hands an engine: the credentials of the original request, nothing else. */
export interface CredentialInput {
  /** The raw `Cookie` header(s). */
  cookie: string | string[] | undefined;
  /** The raw `Authorization` header. */
  authorization: string | undefined;
  userAgent: string | null;
  ip: string | null;
  /** `Sec-Fetch-Site` of the original request, for the token endpoint's cross-site check. */
  fetchSite: string | null;
}

/** A refusal: the status and code come from core's one error table, never chosen here. */
export interface Denial {
  status: number;
  code: string;
  message: string;
}

export type Decision =
  | { allow: true; identity: SidecarIdentity; cookies: readonly string[] }
  | { allow: false; denial: Denial; cookies: readonly string[] };

export type TokenAnswer =
  | { ok: true; body: Record<string, unknown>; cookies: readonly string[] }
  | { ok: false; denial: Denial; cookies: readonly string[] };

/** One mode's decisions. The HTTP layer only translates. */
export interface SidecarEngine {
  readonly mode: string;
  decide(input: CredentialInput): Promise<Decision>;
  /** The token endpoint; absent where the mode issues no JWTs. */
  issue?(input: CredentialInput): Promise<TokenAnswer>;
  /** The public JWKS to serve, or null (no local keys). */
  jwks(): unknown | null;
  /** Whether the backing service (store, JWKS) answers now. */
  ready(): Promise<boolean>;
  /** Stateless mode with a revocation channel: its state, reported by the health endpoint. */
  revocationStatus?: () => string;
  close(): Promise<void>;
}

export interface HandlerOptions {
  paths: ResolvedSidecarConfig['paths'];
  clientIpHeader: string;
  identity: IdentityHeaderOptions;
}

const NO_STORE: Array<[string, string]> = [['cache-control', 'no-store']];

/**
 * The request handler: routes, reads the credentials, writes the engine's answer. Forward auth
 * answers any method on the auth path and below it (Envoy's ext_authz appends the original path;
 * nginx and Traefik send their own headers), 200 with identity headers or the denial's status.
 * An engine that throws is a 503 deny: nothing is allowed without a decision.
 */
export function createHandler(engine: SidecarEngine, options: HandlerOptions) {
  const { paths } = options;
  const authPrefix = `${paths.auth}/`;
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    try {
      if (path === paths.auth || path.startsWith(authPrefix)) {
        const decision = await engine.decide(credentials(req, options.clientIpHeader));
        if (decision.allow) {
          const headers = identityHeaders(decision.identity, options.identity);
          send(res, 200, [...headers, ...NO_STORE, ...cookieHeaders(decision.cookies)], null);
        } else {
          deny(res, decision.denial, decision.cookies);
        }
        return;
      }
      const method = req.method ?? 'GET';
      const read = method === 'GET' || method === 'HEAD';
      if (path === paths.health) {
        if (!read) return methodNotAllowed(res, 'GET, HEAD');
        const revocation = engine.revocationStatus?.();
        const body = revocation === undefined ? { status: 'ok' } : { status: 'ok', revocation };
        return send(res, 200, [...NO_STORE, ...json()], body, method === 'HEAD');
      }
      if (path === paths.ready) {
        if (!read) return methodNotAllowed(res, 'GET, HEAD');
        const ready = await engine.ready().catch(() => false);
        return send(res, ready ? 200 : 503, [...NO_STORE, ...json()], { ready }, method === 'HEAD');
      }
      if (path === paths.jwks) {
        const jwks = engine.jwks();
        if (jwks === null) return notFound(res);
        if (!read) return methodNotAllowed(res, 'GET, HEAD');
        // Public keys only; verifiers may cache them for a while (they refetch on an unknown kid).
        return send(res, 200, [['cache-control', 'public, max-age=300'], ...json()], jwks, method === 'HEAD');
      }
      if (path === paths.token && engine.issue) {
        if (method !== 'POST') return methodNotAllowed(res, 'POST');
        const answer = await engine.issue(credentials(req, options.clientIpHeader));
        if (!answer.ok) return deny(res, answer.denial, answer.cookies);
        return send(res, 200, [...NO_STORE, ...json(), ...cookieHeaders(answer.cookies)], answer.body);
      }
      notFound(res);
    } catch {
      // Fail closed, and say nothing about why: the engine's error may name a host.
      if (!res.headersSent) {
        deny(res, { status: 503, code: 'SIDECAR_UNAVAILABLE', message: 'The session check could not be made' }, []);
      } else {
        res.destroy();
      }
    }
  };
}

function credentials(req: IncomingMessage, ipHeader: string): CredentialInput {
  const headers = req.headers;
  const ip = headers[ipHeader];
  const site = headers['sec-fetch-site'];
  return {
    cookie: headers.cookie,
    authorization: headers.authorization,
    userAgent: headers['user-agent'] ?? null,
    ip: typeof ip === 'string' ? ip : (req.socket.remoteAddress ?? null),
    fetchSite: typeof site === 'string' ? site : null,
  };
}

function json(): Array<[string, string]> {
  return [['content-type', 'application/json; charset=utf-8']];
}

function cookieHeaders(cookies: readonly string[]): Array<[string, string]> {
  return cookies.map((cookie) => ['set-cookie', cookie]);
}

function send(
  res: ServerResponse,
  status: number,
  headers: Array<[string, string]>,
  body: unknown,
  headOnly = false,
): void {
  const text = body === null ? '' : JSON.stringify(body);
  const cookies: string[] = [];
  for (const [name, value] of headers) {
    if (name === 'set-cookie') cookies.push(value);
    else res.setHeader(name, value);
  }
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  res.setHeader('content-length', Buffer.byteLength(text));
  res.statusCode = status;
  res.end(headOnly ? undefined : text);
}

function deny(res: ServerResponse, denial: Denial, cookies: readonly string[]): void {
  const headers: Array<[string, string]> = [...NO_STORE, ...json(), ...cookieHeaders(cookies)];
  if (denial.status === 401) headers.push(['www-authenticate', 'Session']);
  send(res, denial.status, headers, { error: { code: denial.code, message: denial.message } });
}

function notFound(res: ServerResponse): void {
  send(res, 404, [...NO_STORE, ...json()], { error: { code: 'NOT_FOUND', message: 'Not found' } });
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  send(res, 405, [['allow', allow], ...NO_STORE, ...json()], {
    error: { code: 'METHOD_NOT_ALLOWED', message: 'Method not allowed' },
  });
}

/** A running sidecar: its HTTP server plus listen and close. */
export interface Sidecar {
  readonly server: Server;
  readonly mode: string;
  /**
   * Starts listening (default: the configured host and port; port 0 picks a free one) and
   * resolves with the address.
   */
  listen(port?: number, host?: string): Promise<{ host: string; port: number; url: string }>;
  /** Whether the backing service answers (what the readiness endpoint says). */
  ready(): Promise<boolean>;
  /** Stops accepting, ends idle keep-alive connections, and closes the store or JWKS client. */
  close(): Promise<void>;
}

/** Wraps an engine in a node:http server. */
export function serveEngine(
  engine: SidecarEngine,
  config: ResolvedSidecarConfig,
  identity: IdentityHeaderOptions,
): Sidecar {
  const handler = createHandler(engine, { paths: config.paths, clientIpHeader: config.clientIpHeader, identity });
  const server = createServer({ keepAlive: true }, (req, res) => {
    void handler(req, res);
  });
  // A proxy keeps connections to its auth backend open (nginx `keepalive`); outlive its idle timer.
  server.keepAliveTimeout = 65_000;
  // Forward-auth requests are headers only: a client that takes longer is not a proxy.
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  let closed: Promise<void> | null = null;
  return {
    server,
    mode: engine.mode,
    listen(port = config.listen.port, host = config.listen.host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          resolve({ host: address.address, port: address.port, url: `http://${shown}:${address.port}` });
        });
      });
    },
    ready: () => engine.ready().catch(() => false),
    close() {
      closed ??= (async () => {
        const stopped = new Promise<void>((resolve) => {
          if (!server.listening) return resolve();
          server.close(() => resolve());
        });
        server.closeIdleConnections();
        await stopped;
        await engine.close();
      })();
      return closed;
    },
  };
}

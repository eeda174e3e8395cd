import type { CookieMode } from './cookie.js';
import { defaultErrorMessage, errorStatus, isSessionError, SessionError, type SessionErrorCode } from './errors.js';

/**
 * Framework-neutral HTTP glue: adapters translate their request into these inputs and apply
 * these outputs, and decide nothing themselves.
 */

/** The JSON body of every error response: a stable code and a generic message, nothing else. */
export interface ErrorBody {
  error: { code: SessionErrorCode; message: string };
}

export interface ErrorResponse {
  status: number;
  headers: Array<[string, string]>;
  body: ErrorBody;
}

/**
 * Turns anything thrown into a status and a JSON body (I4). Unknown errors become a 500
 * `INTERNAL_ERROR`. The body carries the code and that code's generic message only, never the
 * thrower's own message (a store's message may name a host or a connection string), a stack, a
 * token or a secret.
 *
 * @example
 * ```ts
 * const { status, headers, body } = errorResponse(new SessionError('SESSION_EXPIRED'))
 * // 401, [..., ['www-authenticate', 'Session']], { error: { code: 'SESSION_EXPIRED', message: 'The session has expired' } }
 * ```
 */
export function errorResponse(error: unknown): ErrorResponse {
  const code: SessionErrorCode = isSessionError(error) ? error.code : 'INTERNAL_ERROR';
  const status = errorStatus[code];
  const headers: Array<[string, string]> = [
    ['content-type', 'application/json; charset=utf-8'],
    ['cache-control', 'no-store'],
  ];
  if (status === 401) headers.push(['www-authenticate', 'Session']);
  const retryAfter = isSessionError(error) ? error.retryAfterSeconds : undefined;
  if (retryAfter !== undefined) headers.push(['retry-after', String(retryAfter)]);
  return { status, headers, body: { error: { code, message: defaultErrorMessage(code) } } };
}

/**
 * Headers to add to a response that carries `cookies`: one Set-Cookie each plus
 * `Cache-Control: no-store`, so no shared cache ever stores a response that sets a session (B8).
 *
 * @example
 * ```ts
 * for (const [name, value] of cookieHeaders(result.cookies)) response.headers.append(name, value)
 * ```
 */
export function cookieHeaders(cookies: readonly string[]): Array<[string, string]> {
  if (cookies.length === 0) return [];
  const headers: Array<[string, string]> = cookies.map((c) => ['set-cookie', c]);
  headers.push(['cache-control', 'no-store']);
  return headers;
}

/**
 * The token of an `Authorization: Bearer <token>` header, or null.
 *
 * @example
 * ```ts
 * const result = await sessions.validateToken(readBearerToken(request.headers.get('authorization')))
 * ```
 */
export function readBearerToken(authorization: string | null | undefined): string | null {
  if (typeof authorization !== 'string' || authorization.length > 8192) return null;
  // Authentication schemes are case-insensitive (RFC 9110 section 11.1).
  const match = /^[Bb][Ee][Aa][Rr][Ee][Rr] ([A-Za-z0-9._~+/-]+=*)$/.exec(authorization.trim());
  return match ? (match[1] as string) : null;
}

/**
 * Hosts that browsers treat as secure contexts even over plain http.
 *
 * @example
 * ```ts
 * isLoopbackHost('localhost:3000') // true
 * isLoopbackHost('app.example.com') // false
 * ```
 */
export function isLoopbackHost(host: string | null | undefined): boolean {
  if (!host) return false;
  // The usual forms first, without a copy: `localhost` or `127.0.0.1`, with or without a port
  // (one native pattern costs half of the prefix checks it replaced).
  if (host === 'localhost' || host === '127.0.0.1' || USUAL_LOOPBACK_HOST.test(host)) return true;
  const name = stripPort(host.toLowerCase());
  return (
    name === 'localhost' || name.endsWith('.localhost') || name === '127.0.0.1' || name === '[::1]' || name === '::1'
  );
}

const USUAL_LOOPBACK_HOST = /^(?:localhost|127\.0\.0\.1):\d*$/;

function stripPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.lastIndexOf(':');
  // More than one colon without brackets is a bare IPv6 address, which carries no port.
  if (colon === -1 || host.indexOf(':') !== colon) return host;
  return host.slice(0, colon);
}

/**
 * Whether a peer (socket) address is a loopback address: 127.0.0.0/8, `::1`, or an IPv4 loopback
 * address mapped into IPv6 (`::ffff:127.0.0.1`). Use the address of the connection itself, never
 * one taken from `X-Forwarded-For` or another header a client can write.
 *
 * @example
 * ```ts
 * isLoopbackAddress(req.socket.remoteAddress) // true for a client on this machine
 * isLoopbackAddress('203.0.113.7') // false
 * ```
 */
export function isLoopbackAddress(address: string | null | undefined): boolean {
  if (typeof address !== 'string' || address.length > 45) return false;
  // The addresses a loopback socket reports, without a parse.
  if (address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1') return true;
  const lower = address.toLowerCase();
  if (lower === '::1' || lower === '0:0:0:0:0:0:0:1') return true;
  const v4 = lower.startsWith('::ffff:')
    ? lower.slice(7)
    : lower.startsWith('0:0:0:0:0:ffff:')
      ? lower.slice(15)
      : lower;
  const match = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(v4);
  return match?.slice(1).every((part) => Number(part) <= 255) === true;
}

/** What {@link assertSecureTransport} looks at; adapters fill it from the connection. */
export interface TransportInput {
  /** `http` or `https` (a trailing ":" is fine), as a trusted proxy's `X-Forwarded-Proto` says. */
  protocol: string;
  /** The `Host`, as the framework's proxy settings see it. */
  host: string | null | undefined;
  /** The address of the connected peer (the socket), not a forwarded one; absent when unknown. */
  peerAddress?: string | null | undefined;
}

export interface TransportOptions {
  /**
   * Lets a loopback `Host` alone allow plain http in production mode, for runtimes that cannot
   * tell the peer's address (some local dev servers). Anyone can send `Host: localhost`, so never
   * set it where the server is reachable from another machine. Default false.
   */
  trustLoopbackHost?: boolean;
}

/**
 * Production never serves sessions over plain http, except to a browser on this very machine:
 * the connection must come from a loopback address (`peerAddress`) and the `Host` must be a
 * loopback host (browsers treat only those as secure contexts, and a local reverse proxy that
 * serves the public over http must not pass for one). A `Host` header alone never suffices, unless
 * `trustLoopbackHost` says so. `protocol` must already reflect a trusted proxy's
 * `X-Forwarded-Proto`. Throws `INSECURE_TRANSPORT` otherwise; development mode allows anything,
 * by explicit choice.
 *
 * @example
 * ```ts
 * assertSecureTransport({ protocol: req.protocol, host: req.host, peerAddress: req.socket.remoteAddress }, sessions.cookie.mode)
 * ```
 */
export function assertSecureTransport(request: TransportInput, mode: CookieMode, options: TransportOptions = {}): void {
  if (mode === 'development') return;
  const given = request.protocol;
  if (given === 'https' || (given !== 'http' && given.toLowerCase().replace(/:$/, '') === 'https')) return;
  const local = options.trustLoopbackHost === true || isLoopbackAddress(request.peerAddress);
  if (local && isLoopbackHost(request.host)) return;
  throw new SessionError(
    'INSECURE_TRANSPORT',
    'Sessions are not served over plain http in production mode; use https, a trusted proxy, or mode "development"',
  );
}

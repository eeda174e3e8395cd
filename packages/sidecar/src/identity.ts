/**
 * The identity headers of an allowed forward-auth answer, and how values become header values.
 * Only the sidecar writes these: it never reads an `X-Auth-*` header from a request, and the proxy
 * configuration overwrites the client's copies (see the README).
 */

/** Who an allowed request belongs to, whatever the credential was. */
export interface SidecarIdentity {
  userId: string;
  sessionId: string;
  /** When the user last proved their identity, in seconds since the epoch; null when unknown. */
  authTime: number | null;
  /** JWT custom claims (stateless) or session data fields (store); only configured names are sent. */
  claims: Readonly<Record<string, unknown>>;
}

export const USER_ID_HEADER = 'x-auth-user-id';
export const SESSION_ID_HEADER = 'x-auth-session-id';
export const AUTH_TIME_HEADER = 'x-auth-time';
export const CLAIM_HEADER_PREFIX = 'x-auth-claim-';

// Visible ASCII without a double quote at either end and no surrounding space: sent as is. A value
// outside it is sent as JSON (a string in double quotes, non-ASCII as \u escapes), so a header
// never carries a control character and a downstream can always tell which form it got.
const PLAIN = /^[\x21\x23-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

/**
 * A claim or id value as a header value: plain printable strings as they are, numbers and
 * booleans as text, anything else as ASCII-only JSON. Undefined means "send no header".
 *
 * @example
 * ```ts
 * headerValue('admin') // 'admin'
 * headerValue(['a', 'b']) // '["a","b"]'
 * headerValue('café') // '"caf\\u00e9"'
 * ```
 */
export function headerValue(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && PLAIN.test(value)) return value;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  if (typeof value === 'boolean') return String(value);
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    return undefined;
  }
  if (json === undefined) return undefined;
  return json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export interface IdentityHeaderOptions {
  /** Claim names to send, in configuration order. */
  claims: readonly string[];
  /** Maps the session id to what `X-Auth-Session-Id` carries; null sends no such header. */
  sessionIdValue: ((sessionId: string) => string) | null;
}

/**
 * The response headers for an allowed request, as `[name, value]` pairs in lower case.
 *
 * @example
 * ```ts
 * identityHeaders({ userId: 'u1', sessionId, authTime: 1700000000, claims: { role: 'admin' } }, options)
 * // [['x-auth-user-id', 'u1'], ['x-auth-session-id', '...'], ['x-auth-time', '1700000000'], ['x-auth-claim-role', 'admin']]
 * ```
 */
export function identityHeaders(identity: SidecarIdentity, options: IdentityHeaderOptions): Array<[string, string]> {
  const headers: Array<[string, string]> = [];
  const user = headerValue(identity.userId);
  if (user !== undefined) headers.push([USER_ID_HEADER, user]);
  if (options.sessionIdValue) headers.push([SESSION_ID_HEADER, options.sessionIdValue(identity.sessionId)]);
  if (identity.authTime !== null && Number.isSafeInteger(identity.authTime)) {
    headers.push([AUTH_TIME_HEADER, String(identity.authTime)]);
  }
  for (const name of options.claims) {
    // Own properties only: a claim named like an Object.prototype member is never read from it.
    if (!Object.hasOwn(identity.claims, name)) continue;
    const value = headerValue(identity.claims[name]);
    if (value !== undefined) headers.push([`${CLAIM_HEADER_PREFIX}${name.toLowerCase()}`, value]);
  }
  return headers;
}

/**
 * `@org/session-core/adapter`: what a framework adapter (or an auth service) is built from. The
 * request context runs the whole request-level flow once, framework-neutral: adapters translate
 * their request into its input and write what it returns, and decide nothing. Next to it, the HTTP
 * glue (transport check, bearer tokens, error bodies) and the strict cookie parser and serializer;
 * `keyedIdHash` and `base64urlDecode` serve services that name sessions the way events do (a
 * sidecar, a log pipeline) with a key read from a file. `Deadlines` bounds a store's pending
 * commands with one coarse timer, as the manager bounds its store calls.
 */

export {
  type CookieAttributes,
  type CookieHeaderInput,
  getCookieValues,
  MAX_COOKIE_NAME_VALUE_BYTES,
  parseCookieHeader,
  resolveCookiePolicy,
  serializeCookie,
  serializeDeletionCookie,
  serializeSessionCookie,
} from '../cookie.js';
export { Deadlines, type PendingCall } from '../deadlines.js';
export { base64urlDecode } from '../encoding.js';
export { defaultErrorMessage } from '../errors.js';
export { keyedIdHash } from '../hash.js';
export {
  assertSecureTransport,
  isLoopbackAddress,
  isLoopbackHost,
  readBearerToken,
  type TransportInput,
  type TransportOptions,
} from '../http.js';
export {
  createRequestContexts,
  type RequestContext,
  type RequestContextInput,
  type RequestContextOptions,
  type RequestContexts,
  type RequestLoginInput,
  type RequireSessionOptions,
  type ResponseHeaderUpdate,
  type SetCookieHeaderValue,
} from '../request-context.js';
export type { SessionStrategy } from '../strategy.js';
export type { ValidateOptions } from '../validation.js';

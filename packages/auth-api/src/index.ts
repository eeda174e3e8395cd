/**
 * `@org/session-auth-api`: the central auth service's session API over HTTP, as a Web
 * `Request -> Response` handler. `./node` mounts it on `node:http` and Express. See
 * docs/microservices.md, section "Session API".
 */
export { createSessionApi, MAX_BODY_BYTES, type SessionApi, type SessionApiOptions } from './api.js';
export {
  type ApiCaller,
  DEFAULT_RATE_LIMIT,
  generateApiKey,
  hashApiKey,
  MIN_API_KEY_LENGTH,
  type RateLimit,
} from './callers.js';

export {
  type BindingDecision,
  type BindingPolicy,
  type BindingVerdict,
  flagUserAgentChange,
  rejectUserAgentChange,
} from './binding.js';
export { type Clock, systemClock } from './clock.js';
export {
  type CookieAttributes,
  type CookieHeaderInput,
  type CookieMode,
  type CookieNameWithoutHostPrefix,
  type CookieOptions,
  type CookiePolicy,
  EPOCH_EXPIRES,
  getCookieValues,
  type HostOnlyCookieOptions,
  isCookieName,
  isCookieValue,
  MAX_COOKIE_ATTRIBUTE_BYTES,
  MAX_COOKIE_CANDIDATES,
  MAX_COOKIE_HEADER_LENGTH,
  MAX_COOKIE_NAME_VALUE_BYTES,
  parseCookieHeader,
  resolveCookiePolicy,
  type SameSite,
  type ScopedCookieOptions,
  serializeCookie,
  serializeDeletionCookie,
  serializeSessionCookie,
} from './cookie.js';
export {
  CSRF_FIELD_NAME,
  CSRF_HEADER_NAME,
  type CsrfCheckOptions,
  type CsrfOptions,
  type CsrfProtection,
  type CsrfRejectReason,
  type CsrfRequest,
  type CsrfToken,
  type CsrfTokenInput,
  type CsrfVerdict,
  createCsrfProtection,
  type HeaderSource,
  MIN_CSRF_KEY_BYTES,
  SAFE_METHODS,
} from './csrf.js';
export { base64urlDecode, base64urlEncode, fromHex, isBase64url, toHex, utf8 } from './encoding.js';
export {
  defaultErrorMessage,
  errorCodes,
  errorStatus,
  isSessionError,
  SessionError,
  type SessionErrorCode,
  type SessionErrorOptions,
  toSessionError,
} from './errors.js';
export {
  createEmitter,
  type SessionEvent,
  type SessionEventListener,
  type SessionEventMap,
  type SessionEventType,
} from './events.js';
export {
  cookieMaxAge,
  type ExpiryState,
  type ExpiryStatus,
  expiryStatus,
  extendIdle,
  FRESHNESS_SKEW_MS,
  initialExpiry,
  isFreshAt,
  needsTouch,
  slideIdle,
} from './expiry.js';
export {
  constantTimeEqual,
  constantTimeEqualString,
  hashSecret,
  hmacSha256,
  keyedIdHash,
  sha256,
} from './hash.js';
export {
  assertSecureTransport,
  cookieHeaders,
  type ErrorBody,
  type ErrorResponse,
  errorResponse,
  isLoopbackAddress,
  isLoopbackHost,
  readBearerToken,
  type TransportInput,
  type TransportOptions,
} from './http.js';
export {
  createHybridSessions,
  HybridSessions,
  type HybridSessionsOptions,
  type HybridValidationResult,
} from './hybrid.js';
export * from './jwt/index.js';
export {
  type CreateSessionInput,
  createSessionManager,
  DEFAULT_MAX_SESSIONS_PER_USER,
  DEFAULT_STORE_TIMEOUT_MS,
  type IssuedSession,
  type RotateOptions,
  SessionManager,
  type SessionManagerOptions,
  toSession,
  type UpdateResult,
} from './manager.js';
export { MemoryStore, type MemoryStoreOptions } from './memory-store.js';
export {
  DEFAULT_PRESET,
  MAX_COOKIE_LIFETIME_SECONDS,
  MAX_DEFAULT_TOUCH_INTERVAL_MS,
  type PolicyPresetName,
  policyPresets,
  resolvePolicy,
  type SessionPolicy,
  type SessionPolicyOptions,
} from './policy.js';
export { type RandomSource, randomBytes, randomString, webRandom } from './random.js';
export {
  createRefreshTokens,
  DEFAULT_REFRESH_GRACE_MS,
  MAX_REFRESH_GRACE_MS,
  parseRefreshToken,
  REFRESH_FAMILY_ID_LENGTH,
  REFRESH_REUSE_LOOKBACK,
  REFRESH_SECRET_LENGTH,
  REFRESH_TOKEN_LENGTH,
  type RefreshTokenPair,
  RefreshTokens,
  type RefreshTokensOptions,
} from './refresh.js';
export type { Register, RegisteredData } from './register.js';
export {
  createRequestContexts,
  RequestContext,
  type RequestContextInput,
  type RequestContextOptions,
  type RequestContexts,
  type RequestLoginInput,
  type RequireSessionOptions,
  type ResponseHeaderUpdate,
  type SetCookieHeaderValue,
} from './request-context.js';
export {
  EXPIRED_RETENTION_MS,
  isRefreshFamilyStore,
  isRevokedByEpoch,
  type RefreshFamilyStore,
  type SessionStore,
  type UserEpoch,
} from './store.js';
export type { SessionStrategy } from './strategy.js';
export {
  type GeneratedSessionToken,
  generateSessionToken,
  isSessionId,
  parseSessionToken,
  SESSION_ID_BYTES,
  SESSION_ID_LENGTH,
  SESSION_SECRET_BYTES,
  SESSION_SECRET_LENGTH,
  SESSION_TOKEN_LENGTH,
  type SessionTokenParts,
} from './token.js';
export {
  type RefreshFamilyRecord,
  type RequestSignals,
  recordExpiresAt,
  type Session,
  type SessionData,
  type SessionMetadata,
  type SessionRecord,
} from './types.js';
export type {
  JwtSession,
  JwtValidation,
  NoSession,
  StoreValidation,
  ValidateOptions,
  ValidationResult,
  ValidationStatus,
  ValidSession,
} from './validation.js';

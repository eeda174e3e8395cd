/**
 * `@org/session-core`: the session manager, the memory store and the store contract, errors,
 * the session types and the two response helpers. The rest lives in its own entry point:
 * `./jwt` (keys, session JWTs, verifiers, hybrid sessions), `./csrf`, `./refresh`, `./adapter`
 * (the request context and HTTP glue for adapter authors), `./testing` and `./testing/vitest`.
 */

// Sessions
export {
  type CreateSessionInput,
  createSessionManager,
  type IssuedSession,
  type RotateOptions,
  type SessionManager,
  type SessionManagerOptions,
} from './manager.js';
export type { RequestSignals, Session, SessionData, SessionMetadata } from './types.js';
export type {
  JwtSession,
  JwtValidation,
  NoSession,
  StoreValidation,
  ValidationResult,
  ValidationStatus,
  ValidSession,
} from './validation.js';
export type { Register, RegisteredData } from './register.js';

// Options of the manager
export { type PolicyPresetName, policyPresets, type SessionPolicy, type SessionPolicyOptions } from './policy.js';
export type {
  CookieMode,
  CookieNameWithoutHostPrefix,
  CookieOptions,
  CookiePolicy,
  HostOnlyCookieOptions,
  SameSite,
  ScopedCookieOptions,
} from './cookie.js';
export {
  type BindingDecision,
  type BindingPolicy,
  type BindingVerdict,
  flagUserAgentChange,
  rejectUserAgentChange,
} from './binding.js';
export type { SessionEvent, SessionEventListener, SessionEventMap, SessionEventType } from './events.js';
export type { Clock } from './clock.js';
export type { RandomSource } from './random.js';

// Stores
export { MemoryStore, type MemoryStoreOptions } from './memory-store.js';
export {
  EXPIRED_RETENTION_MS,
  isRefreshFamilyStore,
  isRevokedByEpoch,
  type RefreshFamilyStore,
  type SessionStore,
  type UserEpoch,
} from './store.js';
export { type RefreshFamilyRecord, recordExpiresAt, type SessionRecord } from './types.js';

// Errors and responses
export {
  errorStatus,
  isSessionError,
  SessionError,
  type SessionErrorCode,
  type SessionErrorOptions,
} from './errors.js';
export { cookieHeaders, type ErrorBody, type ErrorResponse, errorResponse } from './http.js';

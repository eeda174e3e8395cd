/**
 * `@org/session-core`: the session manager, the memory store and the store contract, errors,
 * the session types and the two response helpers. The rest lives in its own entry point:
 * `./jwt` (keys, session JWTs, verifiers, hybrid sessions), `./csrf`, `./refresh`, `./adapter`
 * (the request context and HTTP glue for adapter authors), `./testing` and `./testing/vitest`.
 * The API report, api/core.api.md, lists every name of every entry point with its shape.
 */

export {
  type BindingDecision,
  type BindingPolicy,
  type BindingVerdict,
  flagUserAgentChange,
  rejectUserAgentChange,
} from './binding.js';
export type { Clock } from './clock.js';
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
  errorStatus,
  isSessionError,
  SessionError,
  type SessionErrorCode,
  type SessionErrorOptions,
} from './errors.js';
export type { SessionEvent, SessionEventListener, SessionEventMap, SessionEventType } from './events.js';
export { cookieHeaders, type ErrorBody, type ErrorResponse, errorResponse } from './http.js';
export type { InstrumentedOperation, InstrumentedOutcome, SessionInstrumentation } from './instrumentation.js';
export {
  type CreateSessionInput,
  createSessionManager,
  type IssuedSession,
  type RotateOptions,
  type SessionManager,
  type SessionManagerOptions,
} from './manager.js';
export { MemoryStore, type MemoryStoreOptions } from './memory-store.js';
export { type PolicyPresetName, policyPresets, type SessionPolicy, type SessionPolicyOptions } from './policy.js';
export type { RandomSource } from './random.js';
export type { Register, RegisteredData } from './register.js';
export {
  decodeRevocationNotice,
  encodeRevocationNotice,
  MAX_NOTICE_LENGTH,
  type RevocationChannel,
  type RevocationEvent,
  type RevocationEventListener,
  type RevocationNotice,
  type RevocationSink,
  type RevocationSubscription,
} from './revocation.js';
export {
  EXPIRED_RETENTION_MS,
  type ExpiredSweep,
  isRefreshFamilyStore,
  isRevokedByEpoch,
  type RefreshFamilyStore,
  type SessionStore,
  type UserEpoch,
} from './store.js';
export { type Sweeper, type SweeperOptions, startSweeper } from './sweeper.js';
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
  ValidationResult,
  ValidationStatus,
  ValidSession,
} from './validation.js';

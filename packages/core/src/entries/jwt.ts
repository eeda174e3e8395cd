/**
 * `@org/session-core/jwt`: session JWTs. Signing keys bound to one algorithm, key sets with
 * rotation and a public JWKS, a remote JWKS for downstream services, a strict verifier with a
 * verified-token cache, session JWTs issued only for live sessions, and hybrid browser sessions (a
 * short-lived session-JWT cookie next to the session cookie). See docs/jwt.md.
 */

export {
  createHybridSessions,
  type HybridSessions,
  type HybridSessionsOptions,
  type HybridValidationResult,
} from '../hybrid.js';
export { createJwtKeySet, type JwtKeySet, type JwtKeySetOptions, type JwtKeySource } from '../jwt/key-set.js';
export {
  exportSigningJwk,
  type GenerateSigningKeyOptions,
  generateSigningKey,
  importJwtKey,
  type JwtAlgorithm,
  type JwtKey,
  type JwtKeyInput,
  type JwtKeyMaterial,
  type PublicJwk,
  type PublicJwks,
} from '../jwt/keys.js';
export { createRemoteJwks, type RemoteJwks, type RemoteJwksOptions } from '../jwt/remote.js';
export {
  type AuthenticatedSession,
  createSessionJwt,
  type IssuedSessionJwt,
  type SessionJwt,
  type SessionJwtOptions,
} from '../jwt/session-jwt.js';
export {
  createJwtVerifier,
  type JwtVerifier,
  type JwtVerifierOptions,
  type SessionJwtClaims,
  type VerifiedSessionJwt,
  type VerifyOptions,
} from '../jwt/verify.js';
export {
  createRevocationList,
  DEFAULT_REVOCATION_MAX_ENTRIES,
  DEFAULT_REVOCATION_RETAIN_SECONDS,
  type RevocableClaims,
  type RevocationList,
  type RevocationListOptions,
} from '../revocation-list.js';
export {
  type AuthorityAnswer,
  type AuthorityAuthenticateOptions,
  type AuthorityCredential,
  type AuthorityRevokeInput,
  createSessionAuthority,
  DEFAULT_EXCHANGE_WINDOW_SECONDS,
  MAX_EXCHANGE_WINDOW_SECONDS,
  type SessionAuthority,
  type SessionAuthorityOptions,
} from '../session-api.js';

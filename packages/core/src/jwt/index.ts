/**
 * Session JWTs: keys bound to one algorithm, key sets with rotation and a public JWKS, a remote
 * JWKS for downstream services, a strict verifier with a verified-token cache, and issuing for
 * live sessions. See docs/jwt.md.
 */
export { type CheckedJwsHeader, type CompactJwsRules, inspectCompactJws, MAX_JWT_LENGTH } from './compact.js';
export { JwtKeySet, type JwtKeySetOptions, type JwtKeySource } from './key-set.js';
export {
  DEFAULT_JWT_ALGORITHM,
  exportSigningJwk,
  type GenerateSigningKeyOptions,
  generateSigningKey,
  importJwtKey,
  isWeakHmacSecret,
  JWT_ALGORITHMS,
  type JwtAlgorithm,
  type JwtKey,
  type JwtKeyInput,
  type JwtKeyMaterial,
  KID_PATTERN,
  MIN_HMAC_KEY_BYTES,
  type PublicJwk,
  type PublicJwks,
} from './keys.js';
export { RemoteJwks, type RemoteJwksOptions } from './remote.js';
export {
  type AuthenticatedSession,
  createSessionJwt,
  type IssuedSessionJwt,
  MAX_JWT_TTL_SECONDS,
  SessionJwt,
  type SessionJwtOptions,
} from './session-jwt.js';
export {
  createJwtVerifier,
  DEFAULT_CLOCK_TOLERANCE_SECONDS,
  DEFAULT_JWT_CACHE_SIZE,
  DEFAULT_JWT_TTL_SECONDS,
  JwtVerifier,
  type JwtVerifierOptions,
  MAX_CLOCK_TOLERANCE_SECONDS,
  REGISTERED_CLAIMS,
  SESSION_JWT_TYP,
  type SessionJwtClaims,
  type VerifiedJws,
  type VerifiedSessionJwt,
  type VerifyOptions,
  verifyCompactJws,
} from './verify.js';

/**
 * `@org/session-core/refresh`: rotating refresh tokens with reuse detection, for API and mobile
 * clients (browsers refresh from their session cookie). Needs a store that keeps refresh families.
 */
export {
  createRefreshTokens,
  type RefreshDpopOptions,
  type RefreshRevokeOptions,
  type RefreshTokenPair,
  type RefreshTokens,
  type RefreshTokensOptions,
} from '../refresh.js';

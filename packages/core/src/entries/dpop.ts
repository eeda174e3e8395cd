/**
 * `@org/session-core/dpop`: DPoP (RFC 9449) for API and mobile clients. A verifier for proofs
 * (algorithm allow-list, embedded public key, method, URL, age, access-token hash, one use per
 * proof id in the shared store, optional server nonces), the binding checks for session tokens,
 * refresh tokens and session JWTs (`cnf.jkt`), and the RFC's error answers. See
 * docs/device-bound-sessions.md.
 */
export {
  accessTokenHash,
  assertDpopBinding,
  assertSessionDpopBinding,
  authenticateDpopRequest,
  createDpopVerifier,
  DEFAULT_DPOP_ALGORITHMS,
  type DpopAlgorithm,
  type DpopAuthentication,
  type DpopErrorResponse,
  type DpopRequest,
  type DpopRequestInput,
  type DpopServerNonceOptions,
  DpopVerifier,
  type DpopVerifierOptions,
  dpopErrorResponse,
  jwkThumbprint,
  MAX_DPOP_PROOF_LENGTH,
  normaliseHtu,
  type PresentedCredential,
  readAuthorization,
  type VerifiedDpopProof,
} from '../dpop.js';
export { isMarkOnceStore, type MarkOnceStore } from '../store.js';

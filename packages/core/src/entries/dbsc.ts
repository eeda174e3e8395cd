/**
 * `@org/session-core/dbsc`: Device Bound Session Credentials (W3C WebAppSec DBSC) for browsers.
 * The registration header, the registration and refresh endpoints (proofs verified against the
 * key stored with the session), and the check of the short-lived bound cookie that routes
 * requiring binding use. See docs/device-bound-sessions.md.
 */
export {
  createDbsc,
  Dbsc,
  type DbscAlgorithm,
  type DbscAnswer,
  type DbscOptions,
  type DbscRequest,
  type DbscSessionInstructions,
  type DbscState,
  DEFAULT_DBSC_ALGORITHMS,
  MAX_DBSC_PROOF_LENGTH,
  readProofHeader,
} from '../dbsc.js';
export { isDbscBinding } from '../dbsc-binding.js';
export type { DbscBinding } from '../types.js';

import { SessionError } from './errors.js';
import { constantTimeEqualString } from './hash.js';

/**
 * The binding check on its own, without the proof verifier (and so without jose): refresh tokens
 * use it, and an app that only checks bindings need not load more.
 */

/**
 * Checks that a credential bound to `boundJkt` (a session's `metadata.dpopJkt`, a JWT's `cnf.jkt`)
 * is presented with a proof from that key. An unbound credential passes with or without a proof.
 * Throws `DPOP_KEY_MISMATCH` with reason `proof_missing` (a bound token used as a bearer token) or
 * `key_mismatch` (a proof from another key: a stolen token).
 *
 * @example
 * ```ts
 * assertDpopBinding(session.metadata.dpopJkt, proof)
 * ```
 */
export function assertDpopBinding(boundJkt: string | null | undefined, proof: { jkt: string } | null): void {
  if (typeof boundJkt !== 'string' || boundJkt === '') return;
  if (!proof) throw new SessionError('DPOP_KEY_MISMATCH', undefined, { reason: 'proof_missing' });
  if (!constantTimeEqualString(boundJkt, proof.jkt)) {
    throw new SessionError('DPOP_KEY_MISMATCH', undefined, { reason: 'key_mismatch' });
  }
}

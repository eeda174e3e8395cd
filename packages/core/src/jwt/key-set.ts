import { SessionError } from '../errors.js';
import type { JwtAlgorithm, JwtKey, PublicJwks } from './keys.js';

export interface JwtKeySetOptions {
  /** The key that signs new tokens. A verify-only set (a downstream service) has none. */
  active?: JwtKey;
  /** Older (or not yet active) keys that still verify. */
  verifyOnly?: readonly JwtKey[];
}

/** Where a verifier finds keys by `kid`: a local {@link JwtKeySet} or a remote JWKS. */
export interface JwtKeySource {
  /** Algorithms of the keys this source can hold: the pre-crypto allow-list. */
  readonly algorithms: ReadonlySet<JwtAlgorithm>;
  /** The key now known under `kid`, without any I/O. */
  peek(kid: string): JwtKey | undefined;
  /** The key for `kid`; throws `JWT_KID_UNKNOWN` (or `JWKS_UNAVAILABLE` for a remote set). */
  resolve(kid: string): JwtKey | Promise<JwtKey>;
}

/**
 * One active signing key plus verify-only keys, each with its own `kid`, so keys rotate with no
 * user logged out (F11). Symmetric (HS256) and asymmetric keys never share a set (F1).
 *
 * Rotation without a logout:
 * 1. `add(next)`: `next` is published in the JWKS but does not sign yet; wait one JWKS cache
 *    lifetime so every verifier has it;
 * 2. `activate(next.kid)`: `next` signs, the old key only verifies;
 * 3. after the JWT TTL plus clock tolerance, `retire(old.kid)`: tokens it signed are gone by then.
 * `rotate(next)` does steps 1 and 2 at once, for verifiers that refetch on an unknown `kid`.
 *
 * @example
 * ```ts
 * const keys = createJwtKeySet({ active: await generateSigningKey() }) // ES256
 * keys.rotate(await generateSigningKey())
 * app.get('/.well-known/jwks.json', (_req, res) => res.json(keys.exportJwks()))
 * ```
 */
export class JwtKeySet implements JwtKeySource {
  private readonly byKid = new Map<string, JwtKey>();
  private activeKid: string | null = null;
  private algorithmSet: ReadonlySet<JwtAlgorithm> = new Set();

  /** @internal Use {@link createJwtKeySet}. */
  constructor(options: JwtKeySetOptions) {
    const keys = [...(options?.active ? [options.active] : []), ...(options?.verifyOnly ?? [])];
    if (keys.length === 0) throw new SessionError('CONFIG_INVALID', 'A key set needs at least one key');
    for (const key of keys) this.add(key);
    if (options.active) this.activate(options.active.kid);
  }

  /** The signing key; throws `CONFIG_INVALID` for a verify-only set. */
  get active(): JwtKey {
    const key = this.activeKid === null ? undefined : this.byKid.get(this.activeKid);
    if (!key) throw new SessionError('CONFIG_INVALID', 'This key set has no active signing key');
    return key;
  }

  get algorithms(): ReadonlySet<JwtAlgorithm> {
    return this.algorithmSet;
  }

  /** Every key, the active one first. */
  list(): JwtKey[] {
    const keys = [...this.byKid.values()];
    return keys.sort((a, b) => Number(b.kid === this.activeKid) - Number(a.kid === this.activeKid));
  }

  peek(kid: string): JwtKey | undefined {
    return this.byKid.get(kid);
  }

  resolve(kid: string): JwtKey {
    const key = this.byKid.get(kid);
    if (!key) throw new SessionError('JWT_KID_UNKNOWN', 'Unknown key id', { reason: 'kid_unknown' });
    return key;
  }

  /** Adds a verify-only key (published in the JWKS, not signing). */
  add(key: JwtKey): void {
    if (!key || typeof key.kid !== 'string' || !key.verificationKey) {
      throw new SessionError('CONFIG_INVALID', 'Keys come from generateSigningKey or importJwtKey');
    }
    if (this.byKid.has(key.kid)) throw new SessionError('CONFIG_INVALID', 'Duplicate kid in the key set');
    const symmetric = key.alg === 'HS256';
    for (const other of this.byKid.values()) {
      if ((other.alg === 'HS256') !== symmetric) {
        throw new SessionError('CONFIG_INVALID', 'HS256 and asymmetric keys never share a key set');
      }
    }
    this.byKid.set(key.kid, key);
    this.refreshAlgorithms();
  }

  /** Makes a key already in the set the signing key; the previous one keeps verifying. */
  activate(kid: string): void {
    const key = this.byKid.get(kid);
    if (!key) throw new SessionError('CONFIG_INVALID', 'No key with that kid in the set');
    if (!key.signingKey) throw new SessionError('CONFIG_INVALID', 'That key cannot sign (public key only)');
    this.activeKid = kid;
  }

  /** Adds `next` and makes it the signing key at once. */
  rotate(next: JwtKey): void {
    this.add(next);
    this.activate(next.kid);
  }

  /** Removes a verify-only key: tokens it signed stop verifying, cached ones included. */
  retire(kid: string): boolean {
    if (kid === this.activeKid) throw new SessionError('CONFIG_INVALID', 'The active key cannot be retired');
    const removed = this.byKid.delete(kid);
    if (removed) this.refreshAlgorithms();
    return removed;
  }

  /**
   * The public JWKS: public EdDSA/ES256 keys only, never a private or symmetric key. An HS256
   * set publishes an empty list.
   */
  exportJwks(): PublicJwks {
    return { keys: this.list().flatMap((key) => (key.publicJwk ? [{ ...key.publicJwk }] : [])) };
  }

  private refreshAlgorithms(): void {
    this.algorithmSet = new Set([...this.byKid.values()].map((key) => key.alg));
  }
}

/**
 * Creates a {@link JwtKeySet}: one active signing key plus verify-only keys; see its documentation.
 *
 * @example
 * ```ts
 * const keys = createJwtKeySet({ active: await generateSigningKey(), verifyOnly: [previousKey] })
 * ```
 */
export function createJwtKeySet(options: JwtKeySetOptions): JwtKeySet {
  return new JwtKeySet(options);
}

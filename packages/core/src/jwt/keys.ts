import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { base64urlDecode } from '../encoding.js';
import { SessionError } from '../errors.js';
import { randomBytes, randomString } from '../random.js';

/**
 * The algorithms a session JWT may use: ES256 (the default) or EdDSA (Ed25519) when other services
 * verify with a public JWKS, HS256 when one service both issues and verifies (F1).
 */
export type JwtAlgorithm = 'EdDSA' | 'ES256' | 'HS256';

export const JWT_ALGORITHMS: readonly JwtAlgorithm[] = Object.freeze(['EdDSA', 'ES256', 'HS256']);

/** A `kid` selects from the configured keys and nothing else, so it is kept to a dull alphabet (F4). */
export const KID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** HS256 keys must carry at least 256 bits (F3, RFC 7518 section 3.2). */
export const MIN_HMAC_KEY_BYTES = 32;

/**
 * What {@link generateSigningKey} makes when no algorithm is named: ES256, which every mainstream
 * JWT verifier accepts (jsonwebtoken 9, for one, cannot verify EdDSA). See docs/jwt.md.
 */
export const DEFAULT_JWT_ALGORITHM = 'ES256' satisfies JwtAlgorithm;

/** A public key as published in a JWKS: never a private or symmetric member. */
export interface PublicJwk {
  kty: 'OKP' | 'EC';
  crv: 'Ed25519' | 'P-256';
  x: string;
  y?: string;
  kid: string;
  alg: 'EdDSA' | 'ES256';
  use: 'sig';
}

/** What `exportJwks()` returns and a JWKS endpoint serves. */
export interface PublicJwks {
  keys: PublicJwk[];
}

/**
 * One imported key, bound to exactly one algorithm. Imported once: signing and verifying reuse
 * the CryptoKey objects.
 */
export interface JwtKey {
  readonly kid: string;
  readonly alg: JwtAlgorithm;
  /** Signs; null for a public key imported for verification only. For HS256 the secret itself. */
  readonly signingKey: CryptoKey | null;
  readonly verificationKey: CryptoKey;
  /** The public half for a JWKS; null for HS256, whose key must never be published. */
  readonly publicJwk: PublicJwk | null;
}

/**
 * Key material accepted by {@link importJwtKey}:
 * - HS256: 32+ random bytes (`Uint8Array`), an HMAC SHA-256 `CryptoKey` of 256+ bits, or an `oct` JWK;
 * - EdDSA / ES256: a JWK (private with `d` to sign, public to verify), a `CryptoKeyPair`, or a public `CryptoKey`.
 *
 * Strings are never accepted: a string is a password, not a key (`KEY_WEAK`). A JWK's `use` and
 * `key_ops`, and a `CryptoKey`'s `usages`, must allow what the key is imported for.
 */
export type JwtKeyMaterial = Uint8Array | CryptoKey | CryptoKeyPair | JWK;

export interface JwtKeyInput {
  /** The algorithm the key is used with: `HS256`, `EdDSA` or `ES256`; required. */
  alg: JwtAlgorithm;
  /** The key itself (see {@link JwtKeyMaterial} for what each algorithm accepts); required. */
  key: JwtKeyMaterial;
  /**
   * Key id. Defaults to the JWK's own `kid`, else the RFC 7638 thumbprint for EdDSA/ES256.
   * Required for HS256 keys given as bytes or a CryptoKey.
   */
  kid?: string;
}

export interface GenerateSigningKeyOptions {
  /** Defaults to the RFC 7638 thumbprint (EdDSA/ES256) or 16 random bytes (HS256). */
  kid?: string;
  /**
   * Allow {@link exportSigningJwk} to export the private key or secret, so it can be stored and
   * loaded on other instances. Default false: the key lives and dies with this process.
   */
  extractable?: boolean;
}

const curves = { EdDSA: { kty: 'OKP', crv: 'Ed25519' }, ES256: { kty: 'EC', crv: 'P-256' } } as const;

// JWK members that carry private or symmetric key material; none may ever reach a JWKS.
const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'] as const;

/**
 * Generates a new signing key for `alg` (default ES256), imported
 * and ready to use. Choose EdDSA only when every verifier of your tokens supports it.
 *
 * @example
 * ```ts
 * const key = await generateSigningKey() // ES256
 * const keys = createJwtKeySet({ active: key })
 * ```
 */
export async function generateSigningKey(
  alg: JwtAlgorithm = DEFAULT_JWT_ALGORITHM,
  options: GenerateSigningKeyOptions = {},
): Promise<JwtKey> {
  assertAlgorithm(alg);
  const extractable = options.extractable === true;
  if (alg === 'HS256') {
    const secret = randomBytes(MIN_HMAC_KEY_BYTES);
    const key = await importHmacKey(secret, extractable, ['sign', 'verify']);
    secret.fill(0);
    return freezeKey({
      kid: checkKid(options.kid ?? randomString(16)),
      alg,
      signingKey: key,
      verificationKey: key,
      publicJwk: null,
    });
  }
  const pair = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519', extractable } : { extractable });
  return keyFromPair(alg, pair, options.kid);
}

/**
 * Imports key material for one algorithm, checking that it fits: curve and key type match `alg`;
 * HS256 secrets are at least 32 random-looking bytes in every form (`KEY_WEAK` otherwise; a
 * non-extractable `CryptoKey` can only be judged by its length); a JWK's own `alg`, `use` and
 * `key_ops`, and a `CryptoKey`'s `usages`, allow verifying (and signing, for private and secret
 * keys that are to sign). Throws `CONFIG_INVALID` for anything that does not fit.
 *
 * @example
 * ```ts
 * const hs = await importJwtKey({ alg: 'HS256', kid: '2026-01', key: secretBytes })
 * const ed = await importJwtKey({ alg: 'EdDSA', key: JSON.parse(process.env.JWT_PRIVATE_JWK) })
 * ```
 */
export async function importJwtKey(input: JwtKeyInput): Promise<JwtKey> {
  if (!input || typeof input !== 'object') throw new SessionError('CONFIG_INVALID', 'importJwtKey needs { alg, key }');
  const { alg, key } = input;
  assertAlgorithm(alg);
  if (typeof key === 'string') {
    throw new SessionError('KEY_WEAK', 'JWT keys must be key material, not strings or passwords', {
      reason: 'string_key',
    });
  }
  if (alg === 'HS256') return importHmac(key, input.kid);
  return importAsymmetric(alg, key, input.kid);
}

/**
 * Exports the private JWK (EdDSA/ES256) or `oct` JWK (HS256) of a key generated or imported as
 * extractable, for storage in a secret manager. Never serve its result.
 *
 * @example
 * ```ts
 * const key = await generateSigningKey('ES256', { extractable: true })
 * await secrets.put('jwt-signing-key', JSON.stringify(await exportSigningJwk(key)))
 * ```
 */
export async function exportSigningJwk(key: JwtKey): Promise<JWK> {
  if (!key.signingKey?.extractable) {
    throw new SessionError('CONFIG_INVALID', 'The key is not extractable; generate it with { extractable: true }');
  }
  const jwk = await exportJWK(key.signingKey);
  return { ...jwk, kid: key.kid, alg: key.alg, use: 'sig' };
}

/**
 * Whether bytes look like a password or text rather than a random key: shorter than 32 bytes,
 * printable ASCII throughout (a passphrase, or hex/base64 text that should have been decoded), or
 * fewer than 16 distinct byte values. 32 random bytes are all printable with probability ~1e-14.
 *
 * @example
 * ```ts
 * isWeakHmacSecret(new TextEncoder().encode('correct horse battery staple, really')) // true
 * ```
 */
export function isWeakHmacSecret(bytes: Uint8Array): boolean {
  if (bytes.length < MIN_HMAC_KEY_BYTES) return true;
  let printable = true;
  const seen = new Set<number>();
  for (const byte of bytes) {
    if (byte < 0x20 || byte > 0x7e) printable = false;
    seen.add(byte);
  }
  return printable || seen.size < 16;
}

function assertAlgorithm(alg: unknown): asserts alg is JwtAlgorithm {
  if (!JWT_ALGORITHMS.includes(alg as JwtAlgorithm)) {
    throw new SessionError('CONFIG_INVALID', 'JWT algorithm must be one of EdDSA, ES256, HS256');
  }
}

function checkKid(kid: unknown): string {
  if (typeof kid !== 'string' || !KID_PATTERN.test(kid)) {
    throw new SessionError('CONFIG_INVALID', 'kid must match ^[A-Za-z0-9_-]{1,64}$');
  }
  return kid;
}

function freezeKey(key: JwtKey): JwtKey {
  if (key.publicJwk) Object.freeze(key.publicJwk);
  return Object.freeze(key);
}

function isCryptoKey(value: unknown): value is CryptoKey {
  return typeof CryptoKey !== 'undefined' && value instanceof CryptoKey;
}

function isKeyPair(value: unknown): value is CryptoKeyPair {
  return (
    typeof value === 'object' &&
    value !== null &&
    isCryptoKey((value as CryptoKeyPair).privateKey) &&
    isCryptoKey((value as CryptoKeyPair).publicKey)
  );
}

function isJwk(value: unknown): value is JWK {
  return (
    typeof value === 'object' &&
    value !== null &&
    !(value instanceof Uint8Array) &&
    typeof (value as JWK).kty === 'string'
  );
}

function weak(reason: string): SessionError {
  return new SessionError(
    'KEY_WEAK',
    'HS256 keys must be at least 32 random bytes (decode hex or base64 text first; passwords are refused)',
    { reason },
  );
}

async function importHmacKey(secret: Uint8Array, extractable: boolean, usages: KeyUsage[]): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    'raw',
    secret as Uint8Array<ArrayBuffer>,
    { name: 'HMAC', hash: 'SHA-256' },
    extractable,
    usages,
  );
}

/** Refuses HMAC key bytes that look like a password or are too short; the caller's copy is left as is. */
function assertStrongSecret(secret: Uint8Array): void {
  if (isWeakHmacSecret(secret)) throw weak(secret.length < MIN_HMAC_KEY_BYTES ? 'short_key' : 'text_key');
}

async function importHmac(material: JwtKeyMaterial, kidOption: string | undefined): Promise<JwtKey> {
  if (isCryptoKey(material)) return importHmacCryptoKey(material, kidOption);
  let secret: Uint8Array;
  let kid = kidOption;
  let canSign = true;
  if (material instanceof Uint8Array) {
    secret = material;
  } else if (isJwk(material)) {
    if (material.kty !== 'oct' || typeof material.k !== 'string') {
      throw new SessionError('CONFIG_INVALID', 'An HS256 JWK must have kty "oct" and a "k" member');
    }
    checkJwkUse(material, 'HS256');
    const ops = jwkOperations(material);
    if (ops && !ops.has('verify')) throw purpose('The JWK\'s key_ops do not include "verify"');
    canSign = ops === null || ops.has('sign');
    const decoded = base64urlDecode(material.k);
    if (!decoded) throw new SessionError('CONFIG_INVALID', 'The JWK "k" member is not base64url');
    secret = decoded;
    kid = kid ?? material.kid;
  } else {
    throw new SessionError('CONFIG_INVALID', 'An HS256 key must be bytes, an HMAC CryptoKey or an oct JWK');
  }
  assertStrongSecret(secret);
  const key = await importHmacKey(secret, false, canSign ? ['sign', 'verify'] : ['verify']);
  return freezeKey({
    kid: checkKid(kid),
    alg: 'HS256',
    signingKey: canSign ? key : null,
    verificationKey: key,
    publicJwk: null,
  });
}

async function importHmacCryptoKey(material: CryptoKey, kid: string | undefined): Promise<JwtKey> {
  const algorithm = material.algorithm as HmacKeyAlgorithm;
  if (algorithm.name !== 'HMAC' || algorithm.hash?.name !== 'SHA-256') {
    throw new SessionError('CONFIG_INVALID', 'An HS256 CryptoKey must be an HMAC key with SHA-256');
  }
  if (!(algorithm.length >= MIN_HMAC_KEY_BYTES * 8)) throw weak('short_key');
  if (!material.usages.includes('verify')) {
    throw new SessionError('CONFIG_INVALID', 'An HS256 CryptoKey must allow "verify"');
  }
  // The same bar as for bytes and JWKs, wherever the key lets us look at its bytes.
  if (material.extractable) {
    const secret = new Uint8Array(await crypto.subtle.exportKey('raw', material));
    try {
      assertStrongSecret(secret);
    } finally {
      secret.fill(0);
    }
  }
  return freezeKey({
    kid: checkKid(kid),
    alg: 'HS256',
    signingKey: material.usages.includes('sign') ? material : null,
    verificationKey: material,
    publicJwk: null,
  });
}

function checkJwkUse(jwk: JWK, alg: JwtAlgorithm): void {
  if (jwk.alg !== undefined && jwk.alg !== alg) {
    throw new SessionError('CONFIG_INVALID', `The JWK is bound to another algorithm than ${alg}`);
  }
  if (jwk.use !== undefined && jwk.use !== 'sig') {
    throw purpose('The JWK is not meant for signatures (use is not "sig")');
  }
}

function purpose(message: string): SessionError {
  return new SessionError('CONFIG_INVALID', message, { reason: 'key_purpose' });
}

/**
 * The operations a JWK's `key_ops` allow (RFC 7517 section 4.3), or null when it has none. A key
 * that signs JWS may allow `sign` and `verify` and nothing else: the member must be an array of
 * distinct strings from those two, or the key is refused whatever the operation asked.
 */
function jwkOperations(jwk: { key_ops?: unknown }): ReadonlySet<string> | null {
  const ops = jwk.key_ops;
  if (ops === undefined) return null;
  if (!Array.isArray(ops) || new Set(ops).size !== ops.length || ops.some((op) => op !== 'sign' && op !== 'verify')) {
    throw purpose('The JWK\'s key_ops must list "sign" and/or "verify" only, each once');
  }
  return new Set(ops as string[]);
}

/**
 * Whether a public JWK may verify signatures: `use`, if present, is `sig`, and `key_ops`, if
 * present, is exactly `["verify"]` (a public key cannot sign).
 *
 * @example
 * ```ts
 * jwkAllowsVerification({ kty: 'EC', crv: 'P-256', x, y, key_ops: ['encrypt'] }) // false
 * ```
 */
export function jwkAllowsVerification(jwk: { use?: unknown; key_ops?: unknown }): boolean {
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  try {
    const ops = jwkOperations(jwk);
    return ops === null || (ops.has('verify') && !ops.has('sign'));
  } catch {
    return false;
  }
}

function checkUsage(key: CryptoKey, usage: 'sign' | 'verify'): void {
  if (!key.usages.includes(usage)) throw purpose(`The CryptoKey does not allow "${usage}"`);
}

function checkCurve(alg: 'EdDSA' | 'ES256', key: CryptoKey): void {
  const algorithm = key.algorithm as EcKeyAlgorithm;
  const fits =
    alg === 'EdDSA' ? algorithm.name === 'Ed25519' : algorithm.name === 'ECDSA' && algorithm.namedCurve === 'P-256';
  if (!fits) throw new SessionError('CONFIG_INVALID', `The CryptoKey does not fit ${alg}`);
}

async function importAsymmetric(
  alg: 'EdDSA' | 'ES256',
  material: JwtKeyMaterial,
  kid: string | undefined,
): Promise<JwtKey> {
  if (isKeyPair(material)) return keyFromPair(alg, material, kid);
  if (isCryptoKey(material)) {
    checkCurve(alg, material);
    if (material.type !== 'public') {
      throw new SessionError(
        'CONFIG_INVALID',
        'Pass a private key as a CryptoKeyPair or a private JWK, so its public half can be published',
      );
    }
    checkUsage(material, 'verify');
    const publicJwk = await toPublicJwk(alg, await exportJWK(material), kid);
    return freezeKey({ kid: publicJwk.kid, alg, signingKey: null, verificationKey: material, publicJwk });
  }
  if (!isJwk(material)) {
    throw new SessionError('CONFIG_INVALID', `An ${alg} key must be a JWK, a CryptoKeyPair or a public CryptoKey`);
  }
  const expected = curves[alg];
  if (material.kty !== expected.kty || material.crv !== expected.crv) {
    throw new SessionError('CONFIG_INVALID', `An ${alg} JWK must have kty "${expected.kty}" and crv "${expected.crv}"`);
  }
  checkJwkUse(material, alg);
  const ops = jwkOperations(material);
  const isPrivate = typeof material.d === 'string';
  // A private JWK is imported to sign (its public half verifies); a public one only verifies.
  if (ops && isPrivate && !ops.has('sign')) throw purpose('The private JWK\'s key_ops do not include "sign"');
  if (ops && !isPrivate && (!ops.has('verify') || ops.has('sign'))) {
    throw purpose('A public JWK\'s key_ops must be ["verify"]');
  }
  const publicJwk = await toPublicJwk(alg, material, kid ?? material.kid);
  const verificationKey = await importPublic(alg, publicJwk);
  let signingKey: CryptoKey | null = null;
  if (isPrivate) {
    const { kid: _kid, use: _use, key_ops: _ops, alg: _alg, ...rest } = material;
    const imported = await importJWK(rest, alg, { extractable: material.ext === true });
    if (!isCryptoKey(imported)) throw new SessionError('CONFIG_INVALID', 'Could not import the private JWK');
    signingKey = imported;
  }
  return freezeKey({ kid: publicJwk.kid, alg, signingKey, verificationKey, publicJwk });
}

async function importPublic(alg: 'EdDSA' | 'ES256', jwk: PublicJwk): Promise<CryptoKey> {
  const { kid: _kid, use: _use, ...bare } = jwk;
  try {
    const key = await importJWK(bare, alg);
    if (isCryptoKey(key)) return key;
  } catch (error) {
    throw new SessionError('CONFIG_INVALID', `Could not import the ${alg} public key`, { cause: error });
  }
  throw new SessionError('CONFIG_INVALID', `Could not import the ${alg} public key`);
}

async function keyFromPair(alg: 'EdDSA' | 'ES256', pair: CryptoKeyPair, kid: string | undefined): Promise<JwtKey> {
  checkCurve(alg, pair.privateKey);
  checkCurve(alg, pair.publicKey);
  if (pair.privateKey.type !== 'private' || pair.publicKey.type !== 'public') {
    throw new SessionError('CONFIG_INVALID', 'The key pair is not a private and a public key');
  }
  checkUsage(pair.privateKey, 'sign');
  checkUsage(pair.publicKey, 'verify');
  const publicJwk = await toPublicJwk(alg, await exportJWK(pair.publicKey), kid);
  return freezeKey({
    kid: publicJwk.kid,
    alg,
    signingKey: pair.privateKey,
    verificationKey: pair.publicKey,
    publicJwk,
  });
}

/** Keeps only the public members a JWKS may carry, and names the key. */
async function toPublicJwk(alg: 'EdDSA' | 'ES256', jwk: JWK, kid: string | undefined): Promise<PublicJwk> {
  const expected = curves[alg];
  if (typeof jwk.x !== 'string' || (alg === 'ES256' && typeof jwk.y !== 'string')) {
    throw new SessionError('CONFIG_INVALID', `The ${alg} key lacks its public coordinates`);
  }
  const bare =
    alg === 'ES256'
      ? { kty: expected.kty, crv: expected.crv, x: jwk.x, y: jwk.y as string }
      : { kty: expected.kty, crv: expected.crv, x: jwk.x };
  const name = kid ?? (await calculateJwkThumbprint(bare, 'sha256'));
  return { ...bare, kid: checkKid(name), alg, use: 'sig' };
}

/** True when a JWK object carries any private or symmetric member. */
export function hasPrivateMembers(jwk: Record<string, unknown>): boolean {
  return privateMembers.some((member) => Object.hasOwn(jwk, member));
}

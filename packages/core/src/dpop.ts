import { calculateJwkThumbprint, compactVerify, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import { type Clock, systemClock } from './clock.js';
import { Deadlines } from './deadlines.js';
import { assertDpopBinding } from './dpop-binding.js';
import { base64urlEncode, toHex, utf8 } from './encoding.js';
import { SessionError, toSessionError } from './errors.js';

export { assertDpopBinding };

import { constantTimeEqualString, hmacSha256, sha256 } from './hash.js';
import { runtimeOf, type SessionManager } from './manager.js';
import { isMarkOnceStore, type MarkOnceStore } from './store.js';
import type { Session, SessionData } from './types.js';

/**
 * Signature algorithms a DPoP proof may use (`Ed25519` is the fully specified name of EdDSA on
 * that curve, which some clients send). `none` and the HMAC family can never be allowed.
 */
export type DpopAlgorithm = 'ES256' | 'EdDSA' | 'Ed25519' | 'RS256' | 'PS256';
/** Accepted unless `algorithms` says otherwise: the small, fast curve signatures. */
export const DEFAULT_DPOP_ALGORITHMS: readonly DpopAlgorithm[] = Object.freeze(['ES256', 'EdDSA', 'Ed25519']);
const SUPPORTED_ALGORITHMS: readonly string[] = ['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'];
/** A proof longer than this is refused before it is parsed (an RSA-4096 proof is about 1.5 KiB). */
export const MAX_DPOP_PROOF_LENGTH = 8192;
const MAX_JTI_LENGTH = 256;
/** Members of a JWK that only a private (or symmetric) key has. */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

export interface DpopServerNonceOptions {
  /** >= 32 random bytes, the same on every instance: nonces are stateless HMACs of a time step. */
  secret: Uint8Array;
  /** How long a nonce is accepted, in seconds (default 300). A new one is handed out every half of it. */
  lifetimeSeconds?: number;
}

export interface DpopVerifierOptions {
  /**
   * Where used proof ids are remembered, so a proof is accepted once across every instance: a
   * store with `markOnce` (every store we ship: memory, Redis, PostgreSQL, SQLite, D1).
   */
  replay: MarkOnceStore | object;
  /** Accepted `alg` values (default ES256 and EdDSA; RS256 and PS256 may be added). */
  algorithms?: readonly DpopAlgorithm[];
  /** How old a proof's `iat` may be, in seconds (default 60). */
  maxAgeSeconds?: number;
  /** How far in the future a proof's `iat` may be, for client clock skew, in seconds (default 5). */
  clockToleranceSeconds?: number;
  /** Require server-issued nonces (`DPoP-Nonce`, RFC 9449 section 8). Off unless given. */
  nonce?: DpopServerNonceOptions;
  /** Prefix of replay-cache keys, to share one store between apps (default `dpop:`). */
  keyPrefix?: string;
  /** Source of the current time, for `iat` checks and nonces. Default: the system clock. */
  clock?: Clock;
  /**
   * Bound in ms on the replay store's answer (default 1000): a store that has not answered by then
   * fails the proof closed with 503 `STORE_UNAVAILABLE`, rather than holding the request.
   */
  replayTimeoutMs?: number;
}

/** The request a proof must match. */
export interface DpopRequest {
  method: string;
  /** The absolute URL the client called (scheme and host as the client saw them). */
  url: string | URL;
  /** The access token presented with the proof; its hash must be the proof's `ath`. */
  accessToken?: string | null;
}

/** What a verified proof establishes: the client holds the private key with thumbprint `jkt`. */
export interface VerifiedDpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's public key, base64url: what tokens are bound to. */
  jkt: string;
  alg: DpopAlgorithm;
  jwk: JWK;
  jti: string;
  /** Seconds since the epoch. */
  iat: number;
  htm: string;
  htu: string;
}

/**
 * Verifies DPoP proofs (RFC 9449): `typ`, algorithm allow-list, the signature against the
 * embedded public key, `htm`, `htu`, `iat` window, `ath`, one use per `jti` in a shared store, and
 * optionally a server nonce. Every refusal is a {@link SessionError}: `DPOP_PROOF_INVALID` (with a
 * `reason`), `DPOP_PROOF_REPLAYED` or `DPOP_NONCE_REQUIRED`.
 *
 * @example
 * ```ts
 * const dpop = createDpopVerifier({ replay: store })
 * const proof = await dpop.verify(request.headers.get('dpop'), { method: 'POST', url: 'https://api.example.com/token' })
 * await manager.create({ userId, metadata: { dpopJkt: proof.jkt } })   // bound at issue
 * ```
 */
export class DpopVerifier {
  readonly algorithms: readonly DpopAlgorithm[];
  readonly maxAgeSeconds: number;
  readonly clockToleranceSeconds: number;
  readonly requiresNonce: boolean;
  readonly #replay: MarkOnceStore;
  readonly #prefix: string;
  readonly #clock: Clock;
  readonly #nonceSecret: Uint8Array | null;
  readonly #nonceStepSeconds: number;
  readonly #replayDeadlines: Deadlines;

  /** @internal Use {@link createDpopVerifier}. */
  constructor(options: DpopVerifierOptions) {
    if (!options || !isMarkOnceStore(options.replay)) {
      throw new SessionError('CONFIG_INVALID', 'DPoP needs a replay store with markOnce(key, ttlMs, now)');
    }
    this.#replay = options.replay;
    const algorithms = options.algorithms ?? DEFAULT_DPOP_ALGORITHMS;
    if (algorithms.length === 0 || algorithms.some((alg) => !SUPPORTED_ALGORITHMS.includes(alg))) {
      throw new SessionError('CONFIG_INVALID', `DPoP algorithms must be among ${SUPPORTED_ALGORITHMS.join(', ')}`);
    }
    this.algorithms = Object.freeze([...algorithms]);
    this.maxAgeSeconds = wholeSeconds(options.maxAgeSeconds ?? 60, 1, 3600, 'maxAgeSeconds');
    this.clockToleranceSeconds = wholeSeconds(options.clockToleranceSeconds ?? 5, 0, 300, 'clockToleranceSeconds');
    this.#prefix = options.keyPrefix ?? 'dpop:';
    this.#clock = options.clock ?? systemClock;
    const replayTimeoutMs = options.replayTimeoutMs ?? 1000;
    if (typeof replayTimeoutMs !== 'number' || !Number.isFinite(replayTimeoutMs) || replayTimeoutMs <= 0) {
      throw new SessionError('CONFIG_INVALID', 'replayTimeoutMs must be a positive number');
    }
    this.#replayDeadlines = new Deadlines(replayTimeoutMs, replayTimedOut);
    if (options.nonce) {
      if (!(options.nonce.secret instanceof Uint8Array) || options.nonce.secret.length < 32) {
        throw new SessionError('KEY_WEAK', 'The DPoP nonce secret must be at least 32 random bytes');
      }
      this.#nonceSecret = options.nonce.secret.slice();
      const lifetime = wholeSeconds(options.nonce.lifetimeSeconds ?? 300, 10, 86_400, 'nonce.lifetimeSeconds');
      this.#nonceStepSeconds = Math.ceil(lifetime / 2);
    } else {
      this.#nonceSecret = null;
      this.#nonceStepSeconds = 0;
    }
    this.requiresNonce = this.#nonceSecret !== null;
  }

  /**
   * The nonce to send in a `DPoP-Nonce` header now, or null when nonces are off. The same value on
   * every instance for one time step; the previous step's stays accepted, so none expires in flight.
   */
  currentNonce(): string | null {
    if (!this.#nonceSecret) return null;
    return this.#nonceFor(Math.floor(this.#clock.now() / 1000 / this.#nonceStepSeconds));
  }

  /** Verifies one proof for `request`; see the class documentation for what is checked. */
  async verify(proof: string | null | undefined, request: DpopRequest): Promise<VerifiedDpopProof> {
    if (typeof proof !== 'string' || proof.length === 0) throw invalidProof('missing');
    if (proof.length > MAX_DPOP_PROOF_LENGTH) throw invalidProof('too_long');
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(proof);
    } catch {
      throw invalidProof('malformed');
    }
    if (proof.split('.').length !== 3) throw invalidProof('malformed');
    if (header.typ !== 'dpop+jwt') throw invalidProof('typ');
    if (typeof header.alg !== 'string' || !(this.algorithms as readonly string[]).includes(header.alg)) {
      throw invalidProof('alg');
    }
    if (header.crit !== undefined) throw invalidProof('crit');
    const jwk = header.jwk as JWK | undefined;
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw invalidProof('jwk_missing');
    if (PRIVATE_JWK_MEMBERS.some((member) => Object.hasOwn(jwk, member))) throw invalidProof('jwk_private');

    let payload: Record<string, unknown>;
    try {
      const key = await importJWK(jwk, header.alg);
      if (!(key instanceof CryptoKey) || key.type !== 'public') throw invalidProof('jwk_invalid');
      const verified = await compactVerify(proof, key, { algorithms: [header.alg] });
      payload = JSON.parse(new TextDecoder().decode(verified.payload)) as Record<string, unknown>;
    } catch (error) {
      if (error instanceof SessionError) throw error;
      const code = (error as { code?: unknown }).code;
      throw invalidProof(code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' ? 'signature' : 'jwk_invalid');
    }
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw invalidProof('claims');

    const { jti, htm, htu, iat, ath, nonce } = payload;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) throw invalidProof('jti');
    if (typeof htm !== 'string' || htm !== request.method.toUpperCase()) throw invalidProof('htm');
    const expectedHtu = normaliseHtu(request.url);
    if (expectedHtu === null) throw new SessionError('CONFIG_INVALID', 'The request URL is not absolute');
    if (typeof htu !== 'string' || normaliseHtu(htu) !== expectedHtu) throw invalidProof('htu');
    if (typeof iat !== 'number' || !Number.isFinite(iat)) throw invalidProof('iat');
    const nowSeconds = this.#clock.now() / 1000;
    if (iat > nowSeconds + this.clockToleranceSeconds) throw invalidProof('iat_future');
    if (iat < nowSeconds - this.maxAgeSeconds) throw invalidProof('iat_stale');

    if (request.accessToken !== undefined && request.accessToken !== null) {
      if (typeof ath !== 'string') throw invalidProof('ath_missing');
      if (!constantTimeEqualString(ath, accessTokenHash(request.accessToken))) throw invalidProof('ath_mismatch');
    }

    if (this.#nonceSecret) {
      if (typeof nonce !== 'string') throw new SessionError('DPOP_NONCE_REQUIRED', undefined, { reason: 'missing' });
      if (!this.#nonceAccepted(nonce)) throw new SessionError('DPOP_NONCE_REQUIRED', undefined, { reason: 'stale' });
    }

    const jkt = await calculateJwkThumbprint(jwk, 'sha256');
    // Keyed by key and jti, hashed so the stored key has a fixed size whatever the client sent.
    const replayKey = `${this.#prefix}${toHex(sha256(`${jkt}|${jti}`)).slice(0, 40)}`;
    const ttlMs = (this.maxAgeSeconds + this.clockToleranceSeconds + 1) * 1000;
    let first: boolean;
    try {
      first = await this.#replayDeadlines.settle(this.#replay.markOnce(replayKey, ttlMs, this.#clock.now()));
    } catch (error) {
      if (error instanceof SessionError) throw error;
      throw new SessionError('STORE_UNAVAILABLE', undefined, { cause: error, reason: 'dpop_replay_cache' });
    }
    if (!first) throw new SessionError('DPOP_PROOF_REPLAYED');

    return Object.freeze({
      jkt,
      alg: header.alg as DpopAlgorithm,
      jwk: publicMembers(jwk),
      jti,
      iat,
      htm,
      htu: expectedHtu,
    });
  }

  #nonceFor(step: number): string {
    const mac = hmacSha256(this.#nonceSecret as Uint8Array, `dpop-nonce|${step}`).subarray(0, 16);
    return `${step.toString(36)}.${base64urlEncode(mac)}`;
  }

  #nonceAccepted(nonce: string): boolean {
    if (nonce.length > 64) return false;
    const step = Math.floor(this.#clock.now() / 1000 / this.#nonceStepSeconds);
    return (
      constantTimeEqualString(nonce, this.#nonceFor(step)) || constantTimeEqualString(nonce, this.#nonceFor(step - 1))
    );
  }
}

/**
 * Creates a {@link DpopVerifier}; see its documentation.
 *
 * @example
 * ```ts
 * const dpop = createDpopVerifier({ replay: store, algorithms: ['ES256', 'EdDSA', 'PS256'] })
 * ```
 */
export function createDpopVerifier(options: DpopVerifierOptions): DpopVerifier {
  return new DpopVerifier(options);
}

/**
 * `htu` as compared (RFC 9449 section 4.3): scheme and host lower-cased, default port dropped,
 * query and fragment removed. Null for anything that is not an absolute http(s) URL.
 *
 * @example
 * ```ts
 * normaliseHtu('HTTPS://Api.Example.com:443/token?x=1') // 'https://api.example.com/token'
 * ```
 */
export function normaliseHtu(url: string | URL): string | null {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : new URL(url.href);
  } catch {
    return null;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return null;
  if (parsed.username !== '' || parsed.password !== '') return null;
  // URL already lower-cases scheme and host and drops default ports.
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

/**
 * The `ath` of an access token: base64url of its SHA-256 (RFC 9449 section 4.2).
 *
 * @example
 * ```ts
 * accessTokenHash('Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU') // 'fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo'
 * ```
 */
export function accessTokenHash(accessToken: string): string {
  return base64urlEncode(sha256(utf8(accessToken)));
}

/**
 * The RFC 7638 SHA-256 thumbprint of a public JWK, as `cnf.jkt` carries it.
 *
 * @example
 * ```ts
 * const jkt = await jwkThumbprint(publicJwk)
 * ```
 */
export async function jwkThumbprint(jwk: JWK): Promise<string> {
  return calculateJwkThumbprint(jwk, 'sha256');
}

/**
 * {@link assertDpopBinding} for a session looked up from a token an API client presented: a
 * refusal is reported as a `session.dpop_mismatch` event of the manager.
 *
 * @example
 * ```ts
 * const result = await manager.validateToken(auth.token)
 * if (result.session) assertSessionDpopBinding(manager, result.session, auth.proof, { ip })
 * ```
 */
export function assertSessionDpopBinding<D extends SessionData>(
  manager: SessionManager<D>,
  session: Pick<Session<D>, 'id' | 'userId' | 'metadata'>,
  proof: VerifiedDpopProof | null,
  signals: { ip?: string | null } = {},
): void {
  try {
    assertDpopBinding(session.metadata?.dpopJkt, proof);
  } catch (error) {
    const rt = runtimeOf(manager);
    rt.emit({
      type: 'session.dpop_mismatch',
      at: rt.clock.now(),
      sidHash: rt.sidHash(session.id),
      userId: session.userId,
      reason: proof ? 'key_mismatch' : 'proof_missing',
      ip: signals.ip ?? null,
    });
    throw error;
  }
}

/** An `Authorization` header split into scheme and token. */
export interface PresentedCredential {
  scheme: 'DPoP' | 'Bearer';
  token: string;
}

/**
 * The token of an `Authorization: DPoP <token>` or `Authorization: Bearer <token>` header, with
 * its scheme (compared case-insensitively), or null.
 *
 * @example
 * ```ts
 * readAuthorization('DPoP abc.def') // { scheme: 'DPoP', token: 'abc.def' }
 * ```
 */
export function readAuthorization(authorization: string | null | undefined): PresentedCredential | null {
  if (typeof authorization !== 'string' || authorization.length > 8192) return null;
  const match = /^(dpop|bearer) ([A-Za-z0-9._~+/-]+=*)$/i.exec(authorization.trim());
  if (!match) return null;
  return { scheme: (match[1] as string).toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer', token: match[2] as string };
}

/** What {@link authenticateDpopRequest} needs from a request, framework-neutral. */
export interface DpopRequestInput {
  /** The HTTP method as received; compared with the proof's `htm`. */
  method: string;
  /** The absolute URL as the client called it. */
  url: string | URL;
  /** The `Authorization` header (`DPoP <token>` or `Bearer <token>`); absent means no credential. */
  authorization: string | null | undefined;
  /** Every `DPoP` header value (more than one is refused). */
  dpop: string | readonly string[] | null | undefined;
}

/** A request's credential after its proof, if any, was verified. */
export interface DpopAuthentication {
  /** `DPoP` with a verified proof; `Bearer` (no proof: only unbound tokens may pass); null when none. */
  scheme: 'DPoP' | 'Bearer' | null;
  token: string | null;
  proof: VerifiedDpopProof | null;
}

/**
 * Reads the request's `Authorization` and `DPoP` headers and verifies the proof. `Authorization:
 * DPoP` needs exactly one proof whose `ath` matches the token; a proof sent with no token (a token
 * request) is verified too. Bearer tokens pass through with `proof: null`: whether the token they
 * carry is bound is for {@link assertDpopBinding} to say, once the token is looked up.
 *
 * @example
 * ```ts
 * const auth = await authenticateDpopRequest(dpop, { method, url, authorization, dpop: headers.dpop })
 * ```
 */
export async function authenticateDpopRequest(
  verifier: DpopVerifier,
  input: DpopRequestInput,
): Promise<DpopAuthentication> {
  const proofs =
    input.dpop === null || input.dpop === undefined ? [] : typeof input.dpop === 'string' ? [input.dpop] : input.dpop;
  // Fetch-style headers join repeated values with ", ": a proof never holds a comma.
  if (proofs.length > 1 || (proofs.length === 1 && (proofs[0] as string).includes(','))) {
    throw invalidProof('multiple');
  }
  const credential = readAuthorization(input.authorization);
  if (input.authorization && !credential)
    throw new SessionError('TOKEN_MALFORMED', undefined, { reason: 'authorization' });
  if (credential?.scheme === 'Bearer' && proofs.length === 0) {
    return { scheme: 'Bearer', token: credential.token, proof: null };
  }
  if (proofs.length === 0) {
    if (credential?.scheme === 'DPoP') throw invalidProof('missing');
    return { scheme: null, token: null, proof: null };
  }
  const proof = await verifier.verify(proofs[0], {
    method: input.method,
    url: input.url,
    accessToken: credential?.token ?? null,
  });
  // A Bearer header with a proof is taken as DPoP: the key was proven, so binding can be checked.
  return { scheme: credential ? 'DPoP' : null, token: credential?.token ?? null, proof };
}

/** An error answer for a DPoP request: status, headers and a JSON body. */
export interface DpopErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: { error: string; error_description: string };
}

/**
 * The answer to a refused DPoP request, per RFC 9449: at a protected resource 401 with
 * `WWW-Authenticate: DPoP error="...", algs="..."`; at the token endpoint (`tokenEndpoint: true`)
 * 400 with the OAuth error in the body. A fresh `DPoP-Nonce` goes with every answer when nonces
 * are on. Non-DPoP errors keep the status of the error table; anything not a `SessionError` is a 500.
 *
 * @example
 * ```ts
 * const { status, headers, body } = dpopErrorResponse(error, dpop)
 * ```
 */
export function dpopErrorResponse(
  thrown: unknown,
  verifier: DpopVerifier,
  options: {
    /**
     * Answer as the token endpoint (RFC 9449 section 5): status 400 and `invalid_grant` instead of
     * 401 with `WWW-Authenticate`. Default false (a protected resource).
     */
    tokenEndpoint?: boolean;
  } = {},
): DpopErrorResponse {
  const error = toSessionError(thrown, 'INTERNAL_ERROR');
  const oauthError =
    error.code === 'DPOP_NONCE_REQUIRED'
      ? 'use_dpop_nonce'
      : error.code === 'DPOP_PROOF_INVALID' || error.code === 'DPOP_PROOF_REPLAYED'
        ? 'invalid_dpop_proof'
        : options.tokenEndpoint
          ? 'invalid_grant'
          : 'invalid_token';
  const description =
    error.code === 'DPOP_NONCE_REQUIRED' ? 'Resource server requires nonce in DPoP proof' : defaultDescription(error);
  const headers: Record<string, string> = {};
  const nonce = verifier.currentNonce();
  if (nonce !== null) headers['dpop-nonce'] = nonce;
  const isDpopError = error.code.startsWith('DPOP_');
  let status = error.status;
  if (options.tokenEndpoint) {
    if (isDpopError) status = 400;
  } else if (isDpopError || status === 401) {
    status = 401;
    headers['www-authenticate'] =
      `DPoP error="${oauthError}", error_description="${description}", algs="${verifier.algorithms.join(' ')}"`;
  }
  if (status === 400 || status === 401) headers['cache-control'] = 'no-store';
  return { status, headers, body: { error: oauthError, error_description: description } };
}

function defaultDescription(error: SessionError): string {
  // Messages from the error table only: a constructor's detail never reaches the client.
  return new SessionError(error.code).message;
}

function invalidProof(reason: string): SessionError {
  return new SessionError('DPOP_PROOF_INVALID', undefined, { reason });
}

function wholeSeconds(value: number, min: number, max: number, name: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SessionError('CONFIG_INVALID', `${name} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

function publicMembers(jwk: JWK): JWK {
  const source = jwk as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const name of ['kty', 'crv', 'x', 'y', 'n', 'e']) if (typeof source[name] === 'string') out[name] = source[name];
  return Object.freeze(out) as JWK;
}

function replayTimedOut(): SessionError {
  return new SessionError('STORE_UNAVAILABLE', 'The DPoP replay store did not answer in time', {
    reason: 'dpop_replay_cache',
  });
}

import { calculateJwkThumbprint, compactVerify, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import { getCookieValues, serializeCookie } from './cookie.js';
import { isDbscBinding } from './dbsc-binding.js';
import { base64urlDecode, base64urlEncode } from './encoding.js';
import { SessionError, type SessionErrorCode } from './errors.js';
import type { SessionEventMap } from './events.js';
import { constantTimeEqual, hmacSha256 } from './hash.js';
import { runtimeOf, type SessionManager } from './manager.js';
import { randomBytes } from './random.js';
import { isMarkOnceStore, type MarkOnceStore } from './store.js';
import type { DbscBinding, Session, SessionData, SessionRecord } from './types.js';

/**
 * Device Bound Session Credentials (W3C WebAppSec DBSC, the editor's draft of 2026-02-17): the
 * browser keeps a private key the server never sees; the server keeps its public key with the
 * session and issues a short-lived "bound" cookie that only a proof of possession renews. A copied
 * session cookie is worth that short lifetime at most on routes that require binding.
 *
 * Headers: `Secure-Session-Registration` (server, at login), `Secure-Session-Response` (browser,
 * the proof JWT), `Sec-Secure-Session-Id` (browser, on refresh), `Secure-Session-Challenge` (server,
 * with 403 when a refresh comes without a proof). Proofs are JWTs with `typ: dbsc+jwt`, ES256 or
 * RS256, `jti` set to the challenge; a registration proof carries the public key in `jwk`.
 */

/** Algorithms the spec allows for a DBSC key (`none` is never accepted here). */
export type DbscAlgorithm = 'ES256' | 'RS256';

/** What the server tells the browser about the bound session, as JSON (the spec's "session instructions"). */
export interface DbscSessionInstructions {
  session_identifier: string;
  refresh_url: string;
  continue?: boolean;
  scope: {
    origin?: string;
    include_site: boolean;
    scope_specification: Array<{ type: 'include' | 'exclude'; domain: string; path: string }>;
  };
  credentials: Array<{ type: 'cookie'; name: string; attributes: string }>;
}

export interface DbscOptions {
  /**
   * At least 32 random bytes: signs challenges and bound cookies. Every instance serving the app
   * needs the same key. Not the JWT key or the CSRF key.
   */
  secret: Uint8Array;
  /** Where the browser posts its registration proof. Default `/dbsc/register`. */
  registrationPath?: string;
  /** Where the browser refreshes the bound cookie. Default `/dbsc/refresh`. */
  refreshPath?: string;
  /** Lifetime of the bound cookie in ms: what a copied cookie is worth at most. Default 10 minutes. */
  boundCookieTtlMs?: number;
  /** How long a challenge may be answered, in ms. Default 5 minutes. */
  challengeTtlMs?: number;
  /** Name of the bound cookie. Default `__Host-sid-bound` (`sid-bound` in the manager's development mode). */
  cookieName?: string;
  /** Allowed key algorithms, in the order offered to the browser. Default ES256, then RS256. */
  algorithms?: readonly DbscAlgorithm[];
  /**
   * Where used challenges are remembered, so a proof is accepted once. Default: the manager's
   * store when it implements `markOnce` (every store we ship does: memory, Redis, PostgreSQL,
   * SQLite, D1); otherwise pass one that every instance shares.
   */
  replayStore?: MarkOnceStore;
}

/** Request parts a DBSC endpoint reads. Header values as received (`null` when absent). */
export interface DbscRequest {
  /** `Secure-Session-Response`. */
  proof: string | null | undefined;
  /** `Sec-Secure-Session-Id` (refresh only). */
  sessionIdHeader?: string | null | undefined;
  ip?: string | null;
}

/** What a DBSC endpoint answers: status, headers, cookies to set and the JSON body (if any). */
export interface DbscAnswer {
  status: 200 | 403;
  headers: Record<string, string>;
  cookies: string[];
  body: DbscSessionInstructions | null;
}

/** Whether a request carries a fresh bound cookie for its session. */
export type DbscState =
  /** The session is bound and the bound cookie is valid and unexpired. */
  | 'fresh'
  /** The session is bound but the bound cookie is missing, expired, forged or of another binding. */
  | 'stale'
  /** The session has no DBSC binding (the browser does not support DBSC, or has not registered yet). */
  | 'unbound';

/** A proof may not be longer: an RS256 proof with its key is well under 2 KB. */
export const MAX_DBSC_PROOF_LENGTH = 8192;
export const DEFAULT_DBSC_ALGORITHMS: readonly DbscAlgorithm[] = Object.freeze(['ES256', 'RS256']);
const DBSC_TYP = 'dbsc+jwt';
const REPLAY_PREFIX = 'dbsc:';
const KEY_CACHE_SIZE = 1000;

type Purpose = 'reg' | 'ref';
type RejectReason = SessionEventMap['session.dbsc_rejected']['reason'];

/**
 * The server side of DBSC for one session manager: the registration header for a login
 * response, the registration and refresh endpoints, and the check of the bound cookie.
 *
 * @example
 * ```ts
 * const dbsc = createDbsc(manager, { secret: dbscKey })
 * res.setHeader('Secure-Session-Registration', await dbsc.registrationHeader(issued.session)) // at login
 * const answer = await dbsc.register(session, { proof: req.get('secure-session-response') }) // POST /dbsc/register
 * if ((await dbsc.state(session, req.headers.cookie)) !== 'fresh') refuse() // sensitive route
 * ```
 */
export class Dbsc<D extends SessionData = SessionData> {
  readonly registrationPath: string;
  readonly refreshPath: string;
  readonly cookieName: string;
  readonly boundCookieTtlMs: number;
  readonly challengeTtlMs: number;
  readonly algorithms: readonly DbscAlgorithm[];
  readonly #manager: SessionManager<D>;
  readonly #secret: Uint8Array;
  readonly #replay: MarkOnceStore;
  readonly #secure: boolean;
  readonly #keys = new Map<string, CryptoKey | Uint8Array>();

  constructor(manager: SessionManager<D>, options: DbscOptions) {
    const rt = runtimeOf(manager);
    if (!(options.secret instanceof Uint8Array) || options.secret.length < 32) {
      throw new SessionError('KEY_WEAK', 'The DBSC secret must be at least 32 random bytes');
    }
    const replay = options.replayStore ?? rt.store;
    if (!isMarkOnceStore(replay)) {
      throw new SessionError('CONFIG_INVALID', 'DBSC needs a store with markOnce, or a replayStore');
    }
    const algorithms = options.algorithms ?? DEFAULT_DBSC_ALGORITHMS;
    if (algorithms.length === 0 || algorithms.some((alg) => alg !== 'ES256' && alg !== 'RS256')) {
      throw new SessionError('CONFIG_INVALID', 'DBSC algorithms must be ES256 and/or RS256');
    }
    const path = (value: string | undefined, fallback: string, label: string) => {
      const chosen = value ?? fallback;
      if (!/^\/[A-Za-z0-9/_.~-]*$/.test(chosen)) throw new SessionError('CONFIG_INVALID', `${label} must be a path`);
      return chosen;
    };
    const positive = (value: number | undefined, fallback: number, label: string) => {
      const chosen = value ?? fallback;
      if (!Number.isInteger(chosen) || chosen < 1000)
        throw new SessionError('CONFIG_INVALID', `${label} must be at least 1000 ms`);
      return chosen;
    };
    this.#manager = manager;
    this.#secret = options.secret.slice();
    this.#replay = replay;
    this.#secure = rt.cookie.secure;
    this.registrationPath = path(options.registrationPath, '/dbsc/register', 'registrationPath');
    this.refreshPath = path(options.refreshPath, '/dbsc/refresh', 'refreshPath');
    this.boundCookieTtlMs = positive(options.boundCookieTtlMs, 10 * 60_000, 'boundCookieTtlMs');
    this.challengeTtlMs = positive(options.challengeTtlMs, 5 * 60_000, 'challengeTtlMs');
    this.cookieName = options.cookieName ?? (this.#secure ? '__Host-sid-bound' : 'sid-bound');
    if (this.cookieName.startsWith('__Host-') && !this.#secure) {
      throw new SessionError('CONFIG_INVALID', 'A __Host- bound cookie needs the Secure attribute');
    }
    this.algorithms = Object.freeze([...algorithms]);
  }

  /**
   * The `Secure-Session-Registration` header value for a response to `session`'s login: the
   * algorithms, the registration path and a challenge valid for this session only.
   */
  registrationHeader(session: Pick<Session<D>, 'id'>): string {
    const challenge = this.#challenge('reg', session.id);
    return `(${this.algorithms.join(' ')});path="${this.registrationPath}";challenge="${challenge}"`;
  }

  /**
   * The registration endpoint. `session` is the one the request's session cookie proved. Verifies
   * the proof (type, algorithm, embedded public key, signature, challenge for this session, once),
   * stores the key with the session (its metadata, so every store keeps it) and answers the
   * session instructions with the first bound cookie. A refused proof throws `DBSC_*` and emits
   * `session.dbsc_rejected`.
   */
  async register(session: Pick<Session<D>, 'id' | 'userId'>, request: DbscRequest): Promise<DbscAnswer> {
    const rt = runtimeOf(this.#manager);
    const now = rt.clock.now();
    const fail = (code: SessionErrorCode, reason: RejectReason): never =>
      this.#reject(session, 'registration', code, reason, request.ip);
    const record = await rt.lookupLive(session.id, now);
    if (!record) throw new SessionError('SESSION_NOT_FOUND');
    // One key per session: a second registration could swap the device's key for a thief's.
    if (isDbscBinding(record.metadata.dbsc)) fail('DBSC_PROOF_INVALID', 'already_bound');

    const token = readProofHeader(request.proof);
    if (!token) return fail('DBSC_PROOF_INVALID', 'proof_invalid');
    const header = safeHeader(token);
    if (!header || header.typ !== DBSC_TYP || !this.#allowed(header.alg) || !isPublicJwk(header.jwk, header.alg)) {
      return fail('DBSC_PROOF_INVALID', 'proof_invalid');
    }
    const alg = header.alg as DbscAlgorithm;
    const jwk = publicMembers(header.jwk as JWK);
    const payload = await verifyWith(token, await importJWK(jwk, alg).catch(() => null), alg);
    if (!payload) return fail('DBSC_PROOF_INVALID', 'proof_invalid');
    if (!(await this.#acceptChallenge(payload.jti, 'reg', session.id, now)))
      fail('DBSC_CHALLENGE_INVALID', 'challenge_invalid');

    const binding: DbscBinding = {
      id: base64urlEncode(randomBytes(18, rt.random)),
      alg,
      jwk: jwk as Record<string, string>,
      jkt: await calculateJwkThumbprint(jwk, 'sha256'),
      boundAt: now,
    };
    await this.#storeBinding(record, binding, now);
    rt.emit({ type: 'session.dbsc_registered', at: now, sidHash: rt.sidHash(session.id), userId: session.userId, alg });
    return {
      status: 200,
      headers: { 'Cache-Control': 'no-store' },
      cookies: [this.#boundCookie(binding, now)],
      body: this.instructions(binding),
    };
  }

  /**
   * The refresh endpoint. Without a proof: 403 with a fresh `Secure-Session-Challenge` (the
   * browser signs it and retries). With one: verifies it against the stored key and the challenge
   * (issued for this binding, unexpired, once) and answers a new bound cookie. A wrong key,
   * replayed or expired challenge, or a session that is not bound throws `DBSC_*` and emits
   * `session.dbsc_rejected` (the answer is a 401, on which the browser ends its bound session).
   */
  async refresh(session: Pick<Session<D>, 'id' | 'userId' | 'metadata'>, request: DbscRequest): Promise<DbscAnswer> {
    const rt = runtimeOf(this.#manager);
    const now = rt.clock.now();
    const fail = (code: SessionErrorCode, reason: RejectReason): never =>
      this.#reject(session, 'refresh', code, reason, request.ip);
    const binding = session.metadata?.dbsc;
    if (!isDbscBinding(binding)) return fail('DBSC_BINDING_REQUIRED', 'not_bound');
    const named = readSfString(request.sessionIdHeader);
    if (named !== null && named !== binding.id) fail('DBSC_PROOF_INVALID', 'id_mismatch');

    if (request.proof === null || request.proof === undefined || request.proof === '') {
      const challenge = this.#challenge('ref', binding.id);
      return {
        status: 403,
        headers: { 'Secure-Session-Challenge': `"${challenge}";id="${binding.id}"`, 'Cache-Control': 'no-store' },
        cookies: [],
        body: null,
      };
    }
    const token = readProofHeader(request.proof);
    if (!token) return fail('DBSC_PROOF_INVALID', 'proof_invalid');
    const header = safeHeader(token);
    if (!header || header.typ !== DBSC_TYP || header.alg !== binding.alg)
      return fail('DBSC_PROOF_INVALID', 'proof_invalid');
    const payload = await verifyWith(token, await this.#storedKey(binding), binding.alg);
    if (!payload) return fail('DBSC_PROOF_INVALID', 'key_mismatch');
    if (!(await this.#acceptChallenge(payload.jti, 'ref', binding.id, now)))
      fail('DBSC_CHALLENGE_INVALID', 'challenge_invalid');
    return {
      status: 200,
      headers: { 'Cache-Control': 'no-store' },
      cookies: [this.#boundCookie(binding, now)],
      body: this.instructions(binding),
    };
  }

  /**
   * Whether the request's cookies hold a fresh bound cookie for `session`. Synchronous and
   * store-free: the cookie is an HMAC over the binding id and its expiry.
   */
  state(session: Pick<Session<D>, 'metadata'>, cookieHeader: string | readonly string[] | null | undefined): DbscState {
    const binding = session.metadata?.dbsc;
    if (!isDbscBinding(binding)) return 'unbound';
    const now = runtimeOf(this.#manager).clock.now();
    for (const value of getCookieValues(cookieHeader, this.cookieName)) {
      if (this.#boundCookieValid(value, binding.id, now)) return 'fresh';
    }
    return 'stale';
  }

  /**
   * Throws `DBSC_BINDING_REQUIRED` unless the request may use a route that requires binding:
   * `'if-bound'` (the default) refuses a bound session without a fresh bound cookie and lets
   * browsers without DBSC through; `'always'` refuses unbound sessions too.
   */
  assertBound(
    session: Pick<Session<D>, 'metadata'>,
    cookieHeader: string | readonly string[] | null | undefined,
    require: 'if-bound' | 'always' = 'if-bound',
  ): void {
    const state = this.state(session, cookieHeader);
    if (state === 'fresh' || (state === 'unbound' && require === 'if-bound')) return;
    throw new SessionError('DBSC_BINDING_REQUIRED', undefined, {
      reason: state === 'stale' ? 'bound_cookie_stale' : 'not_bound',
    });
  }

  /** The session instructions for `binding`: its id, the refresh URL, origin scope and the bound cookie. */
  instructions(binding: Pick<DbscBinding, 'id'>): DbscSessionInstructions {
    return {
      session_identifier: binding.id,
      refresh_url: this.refreshPath,
      scope: { include_site: false, scope_specification: [] },
      credentials: [{ type: 'cookie', name: this.cookieName, attributes: this.#cookieAttributes() }],
    };
  }

  /** A `Set-Cookie` that deletes the bound cookie (at logout). */
  deletionCookie(): string {
    return serializeCookie(this.cookieName, '', {
      ...this.#attributeObject(),
      maxAge: 0,
      expires: 'Thu, 01 Jan 1970 00:00:00 GMT',
    });
  }

  /** The stored public key, imported once per binding (imports cost more than the signature check). */
  async #storedKey(binding: DbscBinding): Promise<CryptoKey | Uint8Array | null> {
    const cached = this.#keys.get(binding.jkt);
    if (cached) return cached;
    const imported = await importJWK(binding.jwk as JWK, binding.alg).catch(() => null);
    if (!imported) return null;
    // Bounded: an old entry is dropped first; a miss only costs a new import.
    if (this.#keys.size >= KEY_CACHE_SIZE) this.#keys.delete(this.#keys.keys().next().value as string);
    this.#keys.set(binding.jkt, imported);
    return imported;
  }

  #allowed(alg: unknown): alg is DbscAlgorithm {
    return typeof alg === 'string' && (this.algorithms as readonly string[]).includes(alg);
  }

  #reject(
    session: Pick<Session<D>, 'id' | 'userId'>,
    step: 'registration' | 'refresh',
    code: SessionErrorCode,
    reason: RejectReason,
    ip: string | null | undefined,
  ): never {
    const rt = runtimeOf(this.#manager);
    rt.emit({
      type: 'session.dbsc_rejected',
      at: rt.clock.now(),
      sidHash: rt.sidHash(session.id),
      userId: session.userId,
      step,
      reason,
      ip: ip ?? null,
    });
    throw new SessionError(code, undefined, { reason });
  }

  /** `<purpose>.<issued ms, base 36>.<16 random bytes>.<mac>`: stateless until answered, then marked once. */
  #challenge(purpose: Purpose, subject: string): string {
    const rt = runtimeOf(this.#manager);
    const issued = rt.clock.now().toString(36);
    const nonce = base64urlEncode(randomBytes(16, rt.random));
    return `${purpose}.${issued}.${nonce}.${this.#mac(`challenge|${purpose}|${subject}|${issued}|${nonce}`)}`;
  }

  async #acceptChallenge(jti: unknown, purpose: Purpose, subject: string, now: number): Promise<boolean> {
    if (typeof jti !== 'string' || jti.length > 200) return false;
    const parts = jti.split('.');
    if (parts.length !== 4 || parts[0] !== purpose) return false;
    const [, issued = '', nonce = '', mac = ''] = parts;
    if (!this.#macMatches(`challenge|${purpose}|${subject}|${issued}|${nonce}`, mac)) return false;
    const issuedAt = Number.parseInt(issued, 36);
    // A small allowance for instances whose clocks disagree; never a challenge from the future beyond it.
    if (!Number.isFinite(issuedAt) || issuedAt > now + 5000 || now - issuedAt > this.challengeTtlMs) return false;
    const rt = runtimeOf(this.#manager);
    return rt.call(() => this.#replay.markOnce(`${REPLAY_PREFIX}${nonce}`, this.challengeTtlMs + 5000, now));
  }

  async #storeBinding(record: SessionRecord<D>, binding: DbscBinding, now: number): Promise<void> {
    const rt = runtimeOf(this.#manager);
    // Compare-and-set, re-read on a lost race (another request of the browser touched the record).
    let current: SessionRecord<D> | null = record;
    for (let attempt = 0; attempt < 4 && current; attempt++) {
      if (isDbscBinding(current.metadata.dbsc))
        throw new SessionError('DBSC_PROOF_INVALID', undefined, { reason: 'already_bound' });
      const next: SessionRecord<D> = {
        ...current,
        metadata: { ...current.metadata, dbsc: binding },
        version: current.version + 1,
      };
      const base: SessionRecord<D> = current;
      if (await rt.callStore(() => rt.store.update(next, base.version, now))) return;
      current = await rt.lookupLive(record.id, now);
    }
    throw new SessionError(current ? 'STORE_CONFLICT' : 'SESSION_NOT_FOUND');
  }

  #boundCookie(binding: Pick<DbscBinding, 'id'>, now: number): string {
    const expires = (now + this.boundCookieTtlMs).toString(36);
    const value = `${expires}.${this.#mac(`bound|${binding.id}|${expires}`)}`;
    return serializeCookie(this.cookieName, value, {
      ...this.#attributeObject(),
      maxAge: Math.floor(this.boundCookieTtlMs / 1000),
    });
  }

  #boundCookieValid(value: string, bindingId: string, now: number): boolean {
    const dot = value.indexOf('.');
    if (dot < 1 || value.length > 100) return false;
    const expires = value.slice(0, dot);
    if (!this.#macMatches(`bound|${bindingId}|${expires}`, value.slice(dot + 1))) return false;
    const expiresAt = Number.parseInt(expires, 36);
    return Number.isFinite(expiresAt) && now < expiresAt;
  }

  #attributeObject() {
    return { path: '/', secure: this.#secure, httpOnly: true, sameSite: 'lax' as const };
  }

  #cookieAttributes(): string {
    return `Path=/;${this.#secure ? ' Secure;' : ''} HttpOnly; SameSite=Lax`;
  }

  #mac(data: string): string {
    return base64urlEncode(hmacSha256(this.#secret, data));
  }

  #macMatches(data: string, mac: string): boolean {
    const given = base64urlDecode(mac);
    return given !== null && constantTimeEqual(given, hmacSha256(this.#secret, data));
  }
}

/**
 * Creates the DBSC server side for `manager`.
 *
 * @example
 * ```ts
 * const dbsc = createDbsc(manager, { secret: crypto.getRandomValues(new Uint8Array(32)) })
 * ```
 */
export function createDbsc<D extends SessionData>(manager: SessionManager<D>, options: DbscOptions): Dbsc<D> {
  return new Dbsc(manager, options);
}

/**
 * The proof JWT from a `Secure-Session-Response` value: a structured-field string (quoted), or
 * the bare compact JWT that earlier drafts and some browsers send. Null when it is neither.
 *
 * @example
 * ```ts
 * readProofHeader('"eyJ...a.b.c"') // 'eyJ...a.b.c'
 * ```
 */
export function readProofHeader(value: string | null | undefined): string | null {
  if (typeof value !== 'string' || value.length > MAX_DBSC_PROOF_LENGTH) return null;
  const token = readSfString(value) ?? value.trim();
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token) ? token : null;
}

/** The string of an sf-string header (`"abc";param=1` gives `abc`), ignoring parameters; null otherwise. */
function readSfString(value: string | null | undefined): string | null {
  if (typeof value !== 'string') return null;
  const match = /^\s*"((?:[^"\\]|\\["\\])*)"(?:\s*;.*)?\s*$/.exec(value);
  return match ? (match[1] as string).replace(/\\(["\\])/g, '$1') : null;
}

function safeHeader(token: string): Record<string, unknown> | null {
  try {
    const header = decodeProtectedHeader(token) as Record<string, unknown>;
    // Nothing that changes how the signature is checked is accepted.
    if ('crit' in header || 'jku' in header || 'x5u' in header || 'x5c' in header || 'b64' in header) return null;
    return header;
  } catch {
    return null;
  }
}

function isPublicJwk(jwk: unknown, alg: unknown): boolean {
  if (typeof jwk !== 'object' || jwk === null || 'd' in jwk) return false;
  const key = jwk as Record<string, unknown>;
  if (alg === 'ES256')
    return key.kty === 'EC' && key.crv === 'P-256' && typeof key.x === 'string' && typeof key.y === 'string';
  if (alg === 'RS256')
    return key.kty === 'RSA' && typeof key.n === 'string' && typeof key.e === 'string' && key.n.length >= 342;
  return false;
}

/** Only the members that define the public key: what is stored and thumbprinted. */
function publicMembers(jwk: JWK): JWK {
  return jwk.kty === 'EC'
    ? { kty: 'EC', crv: jwk.crv as string, x: jwk.x as string, y: jwk.y as string }
    : { kty: 'RSA', n: jwk.n as string, e: jwk.e as string };
}

async function verifyWith(
  token: string,
  key: CryptoKey | Uint8Array | null,
  alg: DbscAlgorithm,
): Promise<Record<string, unknown> | null> {
  if (!key) return null;
  try {
    const { payload } = await compactVerify(token, key, { algorithms: [alg] });
    const claims = JSON.parse(new TextDecoder().decode(payload)) as unknown;
    return typeof claims === 'object' && claims !== null && !Array.isArray(claims)
      ? (claims as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

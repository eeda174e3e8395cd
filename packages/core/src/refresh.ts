import type { VerifiedDpopProof } from './dpop.js';
import { assertDpopBinding } from './dpop-binding.js';
import { base64urlEncode, isBase64url } from './encoding.js';
import { SessionError } from './errors.js';
import { expiryStatus, idleDeadline } from './expiry.js';
import { constantTimeEqualString, hashSecret, hmacSha256 } from './hash.js';
import { instrumentRefresh } from './instrumentation.js';
import { type IssuedSessionJwt, issueSessionJwtAt, type SessionJwt, sessionJwtWindow } from './jwt/session-jwt.js';
import { runtimeOf, toSession } from './manager.js';
import { randomString } from './random.js';
import type { SessionRuntime } from './runtime.js';
import { isRefreshFamilyStore, type RefreshFamilyStore } from './store.js';
import type { RefreshFamilyRecord, Session, SessionData, SessionRecord } from './types.js';

/** 16 random bytes: 22 base64url characters. */
export const REFRESH_FAMILY_ID_LENGTH = 22;
/** 32 bytes: 43 base64url characters. */
export const REFRESH_SECRET_LENGTH = 43;
export const REFRESH_TOKEN_LENGTH = REFRESH_FAMILY_ID_LENGTH + 1 + REFRESH_SECRET_LENGTH;
/** Default grace window for a duplicate of the token just rotated (G2). */
export const DEFAULT_REFRESH_GRACE_MS = 10_000;
export const MAX_REFRESH_GRACE_MS = 60_000;
/**
 * How many rotations back a replayed token is still recognised as one of the family's (and so
 * revokes it). Older tokens are merely invalid. Costs at most this many HMACs on a mismatch.
 */
export const REFRESH_REUSE_LOOKBACK = 64;
/** Compare-and-set attempts before giving up with `STORE_CONFLICT`. */
const MAX_ATTEMPTS = 4;

export interface RefreshTokensOptions<D extends SessionData, C extends object> {
  /** Issues the access JWTs; its manager owns the sessions the families belong to. */
  jwt: SessionJwt<D, C>;
  /**
   * Server key (>= 32 random bytes, the same on every instance) from which each successor secret
   * is derived, so a duplicate inside the grace window gets the same successor without the store
   * holding any secret.
   */
  secret: Uint8Array;
  /** Grace window for duplicates of the just-rotated token, in ms (default 10 000, 0-60 000). */
  graceMs?: number;
}

/**
 * A DPoP proof already verified for this request (RFC 9449), when the client sent one: a bound
 * session's refresh token is refused without a proof from its key.
 */
export interface RefreshDpopOptions {
  /** The request's verified DPoP proof; default none (only unbound refresh tokens are accepted then). */
  dpop?: VerifiedDpopProof | null;
}

/** Options of {@link RefreshTokens.revoke}. */
export interface RefreshRevokeOptions extends RefreshDpopOptions {
  /** End only the refresh family and keep its session (a browser may still use it). Default false. */
  keepSession?: boolean;
}

/** An access JWT plus refresh token, as an API returns them (`token_type: Bearer`, or `DPoP` when key-bound). */
export interface RefreshTokenPair<D extends SessionData = SessionData, C extends object = Record<string, never>> {
  session: Session<D>;
  accessToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
  /** Opaque `<familyId>.<secret>`; the client stores it and presents it once. Never log it. */
  refreshToken: string;
  /** When the refresh family ends at the latest (ms since the epoch). */
  refreshExpiresAt: number;
  /** `DPoP` when the session is bound to a DPoP key (the JWT then carries `cnf.jkt`). */
  tokenType: 'Bearer' | 'DPoP';
  jwt: IssuedSessionJwt<C>;
}

interface RefreshTokenParts {
  familyId: string;
  secret: string;
}

/**
 * Rotating refresh tokens with reuse detection, for API and mobile clients (browsers refresh from
 * their session cookie and never hold one). Each token belongs to a family tied to one session;
 * the store keeps only SHA-256 hashes. Every use rotates the token. Presenting an already-rotated
 * token after the grace window (or one rotated further back) revokes the family and the session
 * and emits `refresh.reuse_detected`. Inside the window a duplicate gets the same successor: no
 * fork, and the window does not slide. Rotation is a compare-and-set on the family's generation,
 * so concurrent refreshes of one token never yield two live chains.
 *
 * The manager's store must keep the families too (a {@link RefreshFamilyStore}, as every store we
 * ship is): a store without them is refused with `CONFIG_INVALID` here, at construction, rather
 * than at the first API login.
 *
 * @example
 * ```ts
 * const refresh = createRefreshTokens({ jwt: jwts, secret: refreshKeyBytes })
 * const { session } = await manager.create({ userId })
 * const pair = await refresh.issue(session)              // on API login
 * const next = await refresh.refresh(pair.refreshToken)  // on POST /token
 * ```
 */
export class RefreshTokens<D extends SessionData = SessionData, C extends object = Record<string, never>> {
  readonly jwt: SessionJwt<D, C>;
  readonly graceMs: number;
  private readonly secret: Uint8Array;
  readonly #rt: SessionRuntime<D>;
  /** The manager's store, as the refresh-family store it must also be. */
  readonly #families: RefreshFamilyStore;

  /** @internal Use {@link createRefreshTokens}. */
  constructor(options: RefreshTokensOptions<D, C>) {
    if (!options?.jwt) throw new SessionError('CONFIG_INVALID', 'A SessionJwt is required to issue access tokens');
    this.jwt = options.jwt;
    this.#rt = runtimeOf(options.jwt.manager);
    const store = this.#rt.store;
    if (!isRefreshFamilyStore(store)) {
      throw new SessionError(
        'CONFIG_INVALID',
        "Refresh tokens need a store that keeps refresh families (RefreshFamilyStore); the manager's store does not",
      );
    }
    this.#families = store;
    if (!(options.secret instanceof Uint8Array)) {
      throw new SessionError('KEY_WEAK', 'The refresh secret must be at least 32 random bytes', {
        reason: 'not_bytes',
      });
    }
    if (options.secret.length < 32) {
      throw new SessionError('KEY_WEAK', 'The refresh secret must be at least 32 random bytes', {
        reason: 'short_key',
      });
    }
    this.secret = options.secret.slice();
    const grace = options.graceMs ?? DEFAULT_REFRESH_GRACE_MS;
    if (!Number.isInteger(grace) || grace < 0 || grace > MAX_REFRESH_GRACE_MS) {
      throw new SessionError('CONFIG_INVALID', 'graceMs must be a whole number from 0 to 60000');
    }
    this.graceMs = grace;
    instrumentRefresh(this, options.jwt.manager);
  }

  /**
   * Starts a refresh family for `session` (an API login) and returns the first pair. The family
   * ends with the session: at its absolute deadline, or after one idle timeout without a refresh.
   */
  async issue(session: Session<D>, options: RefreshDpopOptions = {}): Promise<RefreshTokenPair<D, C>> {
    const now = this.#rt.clock.now();
    if (!session || expiryStatus(session, now) !== 'valid') throw new SessionError('SESSION_EXPIRED');
    // Binding happens when the session is created (metadata.dpopJkt from the login's proof); a
    // proof for an unbound session would silently leave its tokens bearer tokens, so it is refused.
    if (options.dpop && !session.metadata?.dpopJkt) {
      throw new SessionError(
        'CONFIG_INVALID',
        'Bind the session at creation: metadata.dpopJkt from the verified proof',
      );
    }
    assertDpopBinding(session.metadata?.dpopJkt, options.dpop ?? null);
    // Checked before the family is written: in the session's last seconds no access JWT is issued.
    if (!sessionJwtWindow(this.jwt, session, now)) {
      throw new SessionError('SESSION_EXPIRED', 'The session ends within the clock tolerance: no JWT is issued', {
        reason: 'ends_within_tolerance',
      });
    }
    const familyId = randomString(16, this.#rt.random);
    const secret = randomString(32, this.#rt.random);
    const family: RefreshFamilyRecord = {
      id: familyId,
      sessionId: session.id,
      userId: session.userId,
      generation: 1,
      currentHash: hashSecret(secret),
      previousHash: null,
      rotatedAt: null,
      createdAt: now,
      lastUsedAt: now,
      idleExpiresAt: this.idleDeadline(now, session.absoluteExpiresAt),
      absoluteExpiresAt: session.absoluteExpiresAt,
      revokedAt: null,
    };
    await this.#rt.call(() => this.#families.createRefreshFamily(family, now));
    return this.pair(session, family, `${familyId}.${secret}`, now);
  }

  /**
   * Exchanges a refresh token for a new pair. Throws `TOKEN_MALFORMED` (no store call) for
   * anything not shaped like a refresh token, `REFRESH_INVALID` for unknown, expired, revoked or
   * mismatching tokens and ended sessions, `REFRESH_REUSED` when a rotated token is replayed
   * (the family and the session are then revoked), `STORE_UNAVAILABLE` on an outage.
   */
  async refresh(
    refreshToken: string | null | undefined,
    options: RefreshDpopOptions = {},
  ): Promise<RefreshTokenPair<D, C>> {
    const parts = parseRefreshToken(refreshToken);
    if (!parts) throw new SessionError('TOKEN_MALFORMED', undefined, { reason: 'refresh_token_shape' });
    const presentedHash = hashSecret(parts.secret);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const now = this.#rt.clock.now();
      const family = await this.#rt.call(() => this.#families.getRefreshFamily(parts.familyId, now));
      if (!family) throw invalid('unknown_family');
      if (family.revokedAt !== null) {
        if (this.belongsTo(parts.secret, presentedHash, family))
          await this.revokeSession(family, 'refresh_family_revoked');
        throw invalid('family_revoked');
      }

      if (constantTimeEqualString(presentedHash, family.currentHash)) {
        const record = await this.liveSession(family, now);
        if (!record) throw invalid('session_ended');
        this.checkDpop(record, family, options.dpop ?? null, now);
        const successor = this.successor(family.id, parts.secret);
        const rotated: RefreshFamilyRecord = {
          ...family,
          generation: family.generation + 1,
          currentHash: hashSecret(successor),
          previousHash: family.currentHash,
          rotatedAt: now,
          lastUsedAt: now,
          idleExpiresAt: this.idleDeadline(now, family.absoluteExpiresAt),
        };
        const won = await this.#rt.call(() => this.#families.updateRefreshFamily(rotated, family.generation, now));
        if (!won) continue; // Another request rotated first; look again (it may be our duplicate).
        const session = await this.touch(record, now);
        this.#rt.emit({
          type: 'refresh.rotated',
          at: now,
          sidHash: this.#rt.sidHash(family.sessionId),
          userId: family.userId,
        });
        return this.pair(session, rotated, `${family.id}.${successor}`, now);
      }

      const isPrevious = family.previousHash !== null && constantTimeEqualString(presentedHash, family.previousHash);
      if (isPrevious && now - (family.rotatedAt ?? Number.NEGATIVE_INFINITY) <= this.graceMs) {
        // A duplicate of the token just rotated (two tabs, a retried request): the same successor.
        const successor = this.successor(family.id, parts.secret);
        if (!constantTimeEqualString(hashSecret(successor), family.currentHash)) throw invalid('successor_mismatch');
        const record = await this.liveSession(family, now);
        if (!record) throw invalid('session_ended');
        this.checkDpop(record, family, options.dpop ?? null, now);
        return this.pair(toSession(record), family, `${family.id}.${successor}`, now);
      }
      if (!isPrevious && !this.isAncestor(parts.secret, family)) throw invalid('secret_mismatch');

      // Reuse: a token rotated away before the grace window, or further back in the chain.
      const revoked: RefreshFamilyRecord = { ...family, generation: family.generation + 1, revokedAt: now };
      const won = await this.#rt.call(() => this.#families.updateRefreshFamily(revoked, family.generation, now));
      if (!won) continue;
      this.#rt.emit({
        type: 'refresh.reuse_detected',
        at: now,
        sidHash: this.#rt.sidHash(family.sessionId),
        userId: family.userId,
        reason: isPrevious ? 'after_grace' : 'older_generation',
      });
      await this.revokeSession(family, 'refresh_reuse');
      throw new SessionError('REFRESH_REUSED');
    }
    throw new SessionError('STORE_CONFLICT', 'The refresh family kept changing; try again');
  }

  /**
   * Ends a refresh family (API logout), and its session too unless `keepSession`. Returns false
   * when the token does not match the family's current or previous token (nothing is revoked).
   *
   * A DPoP-bound family is revoked only with a proof from its key (RFC 9449 binds the refresh
   * token to the key for every use; RFC 7009 lets the server refuse a revocation by a client the
   * token was not issued to): without one, or with another key, it throws `DPOP_KEY_MISMATCH`,
   * emits `refresh.dpop_mismatch` and changes nothing, so a thief holding only the token cannot
   * log the owner out. A family whose session has ended needs no proof: it can no longer be used.
   */
  async revoke(refreshToken: string, options: RefreshRevokeOptions = {}): Promise<boolean> {
    const parts = parseRefreshToken(refreshToken);
    if (!parts) throw new SessionError('TOKEN_MALFORMED', undefined, { reason: 'refresh_token_shape' });
    const presentedHash = hashSecret(parts.secret);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const now = this.#rt.clock.now();
      const family = await this.#rt.call(() => this.#families.getRefreshFamily(parts.familyId, now));
      if (!family || !this.belongsTo(parts.secret, presentedHash, family)) return false;
      // Checked before anything is written, revoked family or not: revoking it would end the session.
      const record = await this.#rt.lookupLive(family.sessionId, now, family.userId);
      if (record) this.checkDpop(record, family, options.dpop ?? null, now);
      if (family.revokedAt === null) {
        const revoked = { ...family, generation: family.generation + 1, revokedAt: now };
        if (!(await this.#rt.call(() => this.#families.updateRefreshFamily(revoked, family.generation, now)))) {
          continue;
        }
      }
      if (!options.keepSession) await this.revokeSession(family, 'refresh_logout');
      return true;
    }
    throw new SessionError('STORE_CONFLICT', 'The refresh family kept changing; try again');
  }

  /** A bound session's refresh token needs a proof from its key: refused and reported otherwise. */
  private checkDpop(
    record: SessionRecord<D>,
    family: RefreshFamilyRecord,
    proof: VerifiedDpopProof | null,
    now: number,
  ): void {
    try {
      assertDpopBinding(record.metadata.dpopJkt, proof);
    } catch (error) {
      this.#rt.emit({
        type: 'refresh.dpop_mismatch',
        at: now,
        sidHash: this.#rt.sidHash(family.sessionId),
        userId: family.userId,
        reason: proof ? 'key_mismatch' : 'proof_missing',
      });
      throw error;
    }
  }

  /** Successor of a secret: HMAC-SHA256(server secret, "rt1|familyId|secret"), base64url. */
  private successor(familyId: string, secret: string): string {
    return base64urlEncode(hmacSha256(this.secret, `rt1|${familyId}|${secret}`));
  }

  /** Whether `secret` is an older token of this family: its chain reaches the current token. */
  private isAncestor(secret: string, family: RefreshFamilyRecord): boolean {
    let candidate = secret;
    const steps = Math.min(REFRESH_REUSE_LOOKBACK, family.generation);
    let found = false;
    for (let i = 0; i < steps; i++) {
      candidate = this.successor(family.id, candidate);
      const hash = hashSecret(candidate);
      // No early exit on a match keeps the cost independent of where the token sits in the chain.
      if (constantTimeEqualString(hash, family.currentHash)) found = true;
      else if (family.previousHash !== null && constantTimeEqualString(hash, family.previousHash)) found = true;
    }
    return found;
  }

  private belongsTo(secret: string, presentedHash: string, family: RefreshFamilyRecord): boolean {
    return (
      constantTimeEqualString(presentedHash, family.currentHash) ||
      (family.previousHash !== null && constantTimeEqualString(presentedHash, family.previousHash)) ||
      this.isAncestor(secret, family)
    );
  }

  /** The family's idle deadline after activity at `now`: the session's idle rule. */
  private idleDeadline(now: number, absoluteExpiresAt: number): number | null {
    return idleDeadline(now, absoluteExpiresAt, this.#rt.policy);
  }

  /**
   * The family's session if it is live and will be for longer than the clock tolerance: a session
   * in its last seconds gets no access JWT, so it counts as ended here, before anything is written.
   */
  private async liveSession(family: RefreshFamilyRecord, now: number): Promise<SessionRecord<D> | null> {
    const record = await this.#rt.lookupLive(family.sessionId, now, family.userId);
    return record && sessionJwtWindow(this.jwt, record, now) ? record : null;
  }

  /** A refresh is activity on the session: slide its idle deadline like a validated read would. */
  private async touch(record: SessionRecord<D>, now: number): Promise<Session<D>> {
    const touch = this.#rt.touch(record, now);
    return toSession(touch === null ? record : (await touch).record);
  }

  private async revokeSession(family: RefreshFamilyRecord, reason: string): Promise<void> {
    await this.jwt.manager.revoke(family.sessionId, { reason });
  }

  /** The pair for a rotation or an issue at `now`, the moment its JWT window was checked. */
  private async pair(session: Session<D>, family: RefreshFamilyRecord, refreshToken: string, now: number) {
    const jwt = await issueSessionJwtAt(this.jwt, session, now);
    return {
      session,
      accessToken: jwt.token,
      expiresIn: jwt.expiresIn,
      refreshToken,
      refreshExpiresAt: family.absoluteExpiresAt,
      tokenType: typeof session.metadata?.dpopJkt === 'string' ? ('DPoP' as const) : ('Bearer' as const),
      jwt,
    };
  }
}

/**
 * Creates {@link RefreshTokens}; see its documentation.
 *
 * @example
 * ```ts
 * const refresh = createRefreshTokens({ jwt: jwts, secret: refreshKeyBytes, graceMs: 10_000 })
 * ```
 */
export function createRefreshTokens<D extends SessionData = SessionData, C extends object = Record<string, never>>(
  options: RefreshTokensOptions<D, C>,
): RefreshTokens<D, C> {
  return new RefreshTokens<D, C>(options);
}

/**
 * Strictly parses `<familyId>.<secret>`: exactly 22 + 1 + 43 base64url characters with canonical
 * trailing bits. Returns null for anything else, before any store call.
 *
 * @example
 * ```ts
 * parseRefreshToken('not a token') // null
 * ```
 */
export function parseRefreshToken(token: unknown): RefreshTokenParts | null {
  if (typeof token !== 'string' || token.length !== REFRESH_TOKEN_LENGTH) return null;
  if (token.charCodeAt(REFRESH_FAMILY_ID_LENGTH) !== 46 /* . */) return null;
  const familyId = token.slice(0, REFRESH_FAMILY_ID_LENGTH);
  const secret = token.slice(REFRESH_FAMILY_ID_LENGTH + 1);
  if (!isBase64url(familyId) || !isBase64url(secret)) return null;
  // 16 bytes leave 4 spare bits in the last character, 32 bytes leave 2: both must be zero.
  if ((sextet(familyId) & 15) !== 0 || (sextet(secret) & 3) !== 0) return null;
  return { familyId, secret };
}

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function sextet(text: string): number {
  return alphabet.indexOf(text.charAt(text.length - 1));
}

function invalid(reason: string): SessionError {
  return new SessionError('REFRESH_INVALID', undefined, { reason });
}

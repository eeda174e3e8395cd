import { type BindingPolicy, type BindingVerdict, flagUserAgentChange } from './binding.js';
import { type Clock, systemClock } from './clock.js';
import {
  type CookieHeaderInput,
  type CookieMode,
  type CookieOptions,
  type CookiePolicy,
  isCookieHeaderCut,
  MAX_COOKIE_CANDIDATES,
  readCookieValues,
  resolveCookiePolicy,
  serializeDeletionCookie,
  serializeSessionCookie,
} from './cookie.js';
import { isDbscBinding } from './dbsc-binding.js';
import { base64urlEncode } from './encoding.js';
import { SessionError, type SessionErrorCode } from './errors.js';
import { createEmitter, type SessionEventListener } from './events.js';
import { cookieMaxAge, expiryStatus, extendIdle, initialExpiry, isFreshAt, slideIdle } from './expiry.js';
import { secretMatchesHash } from './hash.js';
import {
  instrumentManager,
  instrumentStore,
  type SessionInstrumentation,
  withInstrumentationListener,
} from './instrumentation.js';
import { type PolicyPresetName, resolvePolicy, type SessionPolicy, type SessionPolicyOptions } from './policy.js';
import { type RandomSource, randomBytes, webRandom } from './random.js';
import {
  publishNotice,
  type RevocationChannel,
  type RevocationEventListener,
  type RevocationNotice,
} from './revocation.js';
import { asStoreError, createRuntime, type SessionRuntime } from './runtime.js';
import { assertStorable } from './storable.js';
import { EXPIRED_RETENTION_MS, type SessionStore, type UserEpoch } from './store.js';
import { generateSessionToken, isSessionId, isSessionToken, SESSION_ID_LENGTH } from './token.js';
import type { RequestSignals, Session, SessionData, SessionMetadata, SessionRecord } from './types.js';
import type { NoSession, ValidationResult } from './validation.js';
import { createSessionWriter, type RecordChange, type SessionWriter } from './writes.js';

/** Default bound on one store operation (I2): fail fast, no retries on the request path. */
export const DEFAULT_STORE_TIMEOUT_MS = 1000;

/**
 * Default cap on one user's concurrent sessions (E6). It bounds what a single account can make the
 * store hold, and so the cost of listing or revoking its sessions; `null` lifts it.
 */
export const DEFAULT_MAX_SESSIONS_PER_USER = 100;

/** Instances may disagree on the time by this much; user epochs outlive their sessions by it. */
const EPOCH_CLOCK_MARGIN_MS = 5 * 60_000;

/** How many evictions at the session limit run at once (a user far over the cap, once). */
const EVICTION_BATCH = 50;
/** Rotation attempts when a concurrent write keeps moving the session's version (each re-reads it). */
const ROTATE_ATTEMPTS = 5;

export interface SessionManagerOptions<D extends SessionData = SessionData> {
  /** Where sessions live. `MemoryStore` for one process; Redis, PostgreSQL or SQLite otherwise. */
  store: SessionStore<D>;
  /** A preset (`aal1`, `aal2` the default, `aal3`) or overrides. */
  policy?: PolicyPresetName | SessionPolicyOptions;
  /** Cookie name and attributes; secure defaults (`__Host-sid`, HttpOnly, Secure, SameSite=Lax). */
  cookie?: CookieOptions;
  /** `production` (default) or the explicit `development` mode for plain-http hosts. */
  mode?: CookieMode;
  /** Source of the current time (ms since the epoch), for tests. Default: the system clock. */
  clock?: Clock;
  /** Source of random bytes for tokens and keys. Default: Web Crypto `getRandomValues`. */
  random?: RandomSource;
  /** Audit hooks, sync or async. A listener that throws or rejects is ignored. */
  onEvent?: SessionEventListener | readonly SessionEventListener[];
  /**
   * Key for the hashed session ids in events (>= 16 bytes). Defaults to a random key per process,
   * so hashes only correlate within one process; pass a fixed key to correlate across instances.
   */
  logKey?: Uint8Array;
  /** Compares stored and current client signals; default flags a changed user agent. */
  binding?: BindingPolicy;
  /**
   * Limit of concurrent sessions per user (default 100);
   * `null` for no limit.
   */
  maxSessionsPerUser?: number | null;
  /** At the limit: `evict-oldest` (default) deletes the oldest session, `refuse` throws. */
  onSessionLimit?: 'evict-oldest' | 'refuse';
  /** Bound on each store call in ms (default 1000); a slower store counts as unavailable. */
  storeTimeoutMs?: number;
  /**
   * Push revocations to subscribed JWT verifiers: `revoke`, `revokeAll`, `revokeEveryone`,
   * evictions and refresh-token reuse publish a notice on `channel` (see docs/microservices.md).
   * A notice that cannot be sent never fails the revocation; `onEvent` hears
   * `revocation.publish_failed`.
   */
  revocation?: { channel: RevocationChannel; onEvent?: RevocationEventListener };
  /**
   * Spans and metrics for validations, logins, rotations, revocations and every store call, e.g.
   * `openTelemetryInstrumentation()` from `@org/session-opentelemetry`. Without it nothing is wrapped.
   */
  instrumentation?: SessionInstrumentation;
}

export interface CreateSessionInput<D extends SessionData = SessionData> {
  /** The authenticated user the session belongs to; required. */
  userId: string;
  /** Application data stored with the session (JSON-serialisable). Default `{}`. */
  data?: D;
  /**
   * What to record about the client (user agent, IP, label); strings are clipped. Default: none.
   * A CSRF binding is always generated here, never taken from the input.
   */
  metadata?: SessionMetadata;
  /** "Remember me": persistent cookie with Max-Age = remaining absolute lifetime. */
  persistent?: boolean;
  /**
   * The id of the session the client currently holds, if any. It is revoked before the new one is
   * created, so a planted or previous session never survives a login (fixation).
   */
  replaces?: string | null;
}

/** A newly issued session. `token` goes to the client only in `cookies` (or an API response). */
export interface IssuedSession<D extends SessionData = SessionData> {
  session: Session<D>;
  token: string;
  /** Set-Cookie values for the response. */
  cookies: string[];
}

export interface RotateOptions<D extends SessionData = SessionData> {
  /** The user just proved their identity again: resets `authenticatedAt` and both timeouts. */
  reauthenticated?: boolean;
  /** Replace the session data (privilege change). */
  data?: D;
  /**
   * Replace the recorded client metadata. Default: the old session's. A DPoP, DBSC or CSRF
   * binding of the old session is kept whatever this says.
   */
  metadata?: SessionMetadata;
}

/** Which cookies the result of one token check may carry. */
interface CookieWrites {
  /** The renewed cookie of a touched persistent session (a cookie, not a bearer token). */
  readonly renew: boolean;
  /** The deletion of a dead cookie: only when it is surely the one cookie of that name. */
  readonly clear: boolean;
}

/**
 * The session manager: every operation on sessions goes through it.
 *
 * @example
 * ```ts
 * import { MemoryStore, createSessionManager } from '@org/session-core'
 *
 * const sessions = createSessionManager({ store: new MemoryStore() })
 * const { cookies } = await sessions.create({ userId: 'u1', data: { role: 'user' } })
 * // later, on each request:
 * const result = await sessions.validateCookie(request.headers.get('cookie'))
 * for (const c of result.cookies) response.headers.append('set-cookie', c)
 * ```
 */
export class SessionManager<D extends SessionData = SessionData> {
  /** The resolved expiry policy (read-only data). */
  readonly policy: SessionPolicy;
  /** The resolved cookie policy (read-only data): name, attributes and mode. */
  readonly cookie: CookiePolicy;
  /** Store, clock, events and store deadlines, shared privately with the modules built on this manager. */
  readonly #rt: SessionRuntime<D>;
  /** Writes in one round trip on the record already read; concurrent merges combined (writes.ts). */
  readonly #writer: SessionWriter<D>;
  /**
   * The record behind each session object this manager handed out, so that a write after a
   * validation builds on the version already read. Weak: it lives as long as the app holds the session.
   */
  readonly #records = new WeakMap<object, SessionRecord<D>>();
  /** False with a store that reads synchronously (see {@link #view}). */
  readonly #remembersRecords: boolean;
  private readonly binding: BindingPolicy;
  private readonly maxSessionsPerUser: number | null;
  private readonly onSessionLimit: 'evict-oldest' | 'refuse';
  readonly #revocation: SessionManagerOptions['revocation'];
  #deletionCookie: string | undefined;

  /** @internal Use {@link createSessionManager}. */
  constructor(options: SessionManagerOptions<D>) {
    if (!options || typeof options.store !== 'object' || options.store === null) {
      throw new SessionError('CONFIG_INVALID', 'A session store is required');
    }
    this.policy = resolvePolicy(options.policy);
    this.cookie = resolveCookiePolicy(options.cookie, options.mode);
    const random = options.random ?? webRandom;
    if (options.logKey !== undefined && (!(options.logKey instanceof Uint8Array) || options.logKey.length < 16)) {
      throw new SessionError('CONFIG_INVALID', 'logKey must be at least 16 random bytes');
    }
    this.binding = options.binding ?? flagUserAgentChange;
    const max = options.maxSessionsPerUser === undefined ? DEFAULT_MAX_SESSIONS_PER_USER : options.maxSessionsPerUser;
    if (max !== null && (!Number.isInteger(max) || max < 1)) {
      throw new SessionError('CONFIG_INVALID', 'maxSessionsPerUser must be a positive integer or null');
    }
    this.maxSessionsPerUser = max;
    this.onSessionLimit = options.onSessionLimit ?? 'evict-oldest';
    if (options.revocation !== undefined && typeof options.revocation?.channel?.publish !== 'function') {
      throw new SessionError('CONFIG_INVALID', 'revocation.channel must be a RevocationChannel');
    }
    this.#revocation = options.revocation;
    const instrumentation = options.instrumentation;
    if (instrumentation !== undefined && typeof instrumentation?.run !== 'function') {
      throw new SessionError('CONFIG_INVALID', 'instrumentation must be a SessionInstrumentation (a run method)');
    }
    const timeout = options.storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
    if (!Number.isFinite(timeout) || timeout <= 0) {
      throw new SessionError('CONFIG_INVALID', 'storeTimeoutMs must be a positive number');
    }
    const settles = (options.store as { settlesWithinMs?: unknown }).settlesWithinMs;
    if (settles !== undefined && (typeof settles !== 'number' || !Number.isFinite(settles) || settles <= 0)) {
      throw new SessionError('CONFIG_INVALID', 'store.settlesWithinMs must be a positive number');
    }
    const listeners = instrumentation ? withInstrumentationListener(options.onEvent, instrumentation) : options.onEvent;
    this.#rt = createRuntime<D>({
      store: instrumentation ? instrumentStore(options.store, instrumentation) : options.store,
      policy: this.policy,
      cookie: this.cookie,
      clock: options.clock ?? systemClock,
      random,
      emit: createEmitter(listeners),
      // As createEmitter counts them: no list, or an empty one, reaches nobody.
      listening: listeners !== undefined && (!Array.isArray(listeners) || listeners.length > 0),
      logKey: options.logKey ?? randomBytes(32, random),
      storeTimeoutMs: timeout,
    });
    this.#writer = createSessionWriter(this.#rt);
    runtimes.set(this, this.#rt);
    this.#remembersRecords = typeof this.#rt.store.getSync !== 'function';
    if (instrumentation) instrumentManager(this, instrumentation, options.store);
  }

  /**
   * Creates a session for a user who just authenticated, revoking the one named by `replaces`.
   * Throws `STORE_UNAVAILABLE` (no cookie is issued) or `SESSION_LIMIT_REACHED` (with `refuse`).
   */
  async create(input: CreateSessionInput<D>): Promise<IssuedSession<D>> {
    if (!input || typeof input.userId !== 'string' || input.userId.length === 0 || input.userId.length > 256) {
      throw new SessionError('CONFIG_INVALID', 'userId must be a non-empty string of at most 256 characters');
    }
    assertStorable('userId', input.userId);
    assertStorable('data', input.data);
    assertStorable('metadata', input.metadata);
    const now = this.#rt.clock.now();
    if (input.replaces) await this.revoke(input.replaces, { reason: 'replaced_on_login' });
    await this.enforceSessionLimit(input.userId, now);

    const persistent = input.persistent === true;
    const generated = generateSessionToken(this.#rt.random);
    const record: SessionRecord<D> = {
      id: generated.id,
      secretHash: generated.secretHash,
      userId: input.userId,
      createdAt: now,
      authenticatedAt: now,
      persistent,
      ...initialExpiry(now, this.policy, persistent),
      data: (input.data ?? {}) as D,
      // A new session always starts a new CSRF binding (never one the caller passed in).
      metadata: normaliseMetadata({ ...input.metadata, csrfId: base64urlEncode(randomBytes(16, this.#rt.random)) }),
      version: 1,
    };
    await this.#rt.callStore(() => this.#rt.store.create(record, now));
    this.#rt.emit({
      type: 'session.created',
      at: now,
      sidHash: this.#rt.sidHash(record.id),
      userId: record.userId,
      ip: record.metadata.ip ?? null,
      userAgent: record.metadata.userAgent ?? null,
    });
    return {
      session: this.#view(record),
      token: generated.token,
      cookies: [this.sessionCookie(generated.token, record, now)],
    };
  }

  /**
   * Validates the session cookie of a request, given its raw `Cookie` header(s). At most four
   * same-name candidates are checked; the session is accepted only if exactly one is live.
   * Never throws for client input: absence, junk and store outages come back as a status.
   */
  validateCookie(cookieHeader: CookieHeaderInput, signals: RequestSignals = NO_SIGNALS): Promise<ValidationResult<D>> {
    try {
      const result = this.#validateCookieNow(cookieHeader, signals);
      return result instanceof Promise ? result : Promise.resolve(result);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Package-private (request contexts, through the cookie strategy): `validateCookie` without a
   * promise when the store reads synchronously and nothing is written. A `validateCookie` that was
   * replaced (instrumentation, a test's spy) is called as before.
   */
  private validateCookieNow(
    cookieHeader: CookieHeaderInput,
    signals: RequestSignals,
  ): ValidationResult<D> | Promise<ValidationResult<D>> {
    if (this.validateCookie !== SessionManager.prototype.validateCookie)
      return this.validateCookie(cookieHeader, signals);
    return this.#validateCookieNow(cookieHeader, signals);
  }

  #validateCookieNow(
    cookieHeader: CookieHeaderInput,
    signals: RequestSignals,
  ): ValidationResult<D> | Promise<ValidationResult<D>> {
    // Distinct values (a proxy joining split headers repeats one), one more than is checked: that
    // one tells whether more arrived than were looked at.
    const count = readCookieValues(cookieHeader, this.cookie.name, MAX_COOKIE_CANDIDATES + 1, foundValues);
    if (count === 0) return absent();
    const token = foundValues[0] as string;
    const found = count === 1 ? null : foundValues.slice(0, count);
    // Nothing stays behind in the shared array (the values hold on to the whole header).
    for (let i = 0; i < count; i++) foundValues[i] = '';
    // A dead cookie is deleted only when it is surely the one cookie of that name: past a cut
    // header there may be another (see below).
    if (found === null) return this.check(token, signals, isCookieHeaderCut(cookieHeader) ? LIVE_COOKIE : ONE_COOKIE);
    return this.#validateCandidates(found, signals);
  }

  async #validateCandidates(found: string[], signals: RequestSignals): Promise<ValidationResult<D>> {
    // Several values: without the __Host- prefix a sibling subdomain can plant cookies under our
    // name (cookie tossing). A deletion cookie would then hit the user's real cookie, never the
    // planted ones, so none is sent: only a valid session's own cookies are written.
    const candidates = found.length > MAX_COOKIE_CANDIDATES ? found.slice(0, MAX_COOKIE_CANDIDATES) : found;
    const checks = await Promise.all(candidates.map((token) => this.check(token, signals, LIVE_COOKIE)));
    const live = checks.filter((c) => c.status === 'valid');
    if (live.length === 1) return live[0] as ValidationResult<D>;
    if (live.length > 1) {
      this.#reportInvalidToken('ambiguous', signals);
      return {
        session: null,
        status: 'ambiguous',
        source: 'store',
        cookies: [],
        error: noSessionError('UNAUTHENTICATED'),
        token: null,
      };
    }
    // No live candidate: an outage outranks an expiry, which outranks the rest.
    const dead = checks as NoSession[];
    const chosen = dead.find((c) => c.status === 'unavailable') ?? dead.find((c) => c.status === 'expired');
    return chosen ?? (dead[0] as NoSession);
  }

  /**
   * Validates a bare session token (for example from `Authorization: Bearer` in API mode).
   * The result's `cookies` is always empty: API clients do not hold cookies.
   */
  async validateToken(
    token: string | null | undefined,
    signals: RequestSignals = NO_SIGNALS,
  ): Promise<ValidationResult<D>> {
    if (token === null || token === undefined || token === '') return absent();
    return this.check(token, signals, BEARER);
  }

  /** Throws the result's error unless it holds a session; returns the session otherwise. */
  requireSession(result: ValidationResult<D>): Session<D> {
    if (result.status === 'valid') return result.session;
    // A hand-built result (JavaScript callers) may lack the error: fail closed all the same.
    throw result.error ?? new SessionError('UNAUTHENTICATED');
  }

  /** Whether the user authenticated within `maxAgeMs` (for sensitive actions). */
  isFresh(session: Session<D>, maxAgeMs: number): boolean {
    return isFreshAt(session.authenticatedAt, this.#rt.clock.now(), maxAgeMs);
  }

  /** Throws `REAUTH_REQUIRED` unless the user authenticated within `maxAgeMs`. */
  requireFresh(session: Session<D>, maxAgeMs: number): Session<D> {
    if (!this.isFresh(session, maxAgeMs)) throw new SessionError('REAUTH_REQUIRED');
    return session;
  }

  /**
   * Issues a new id and secret for a session and kills the old token at once, keeping its data.
   * Use on privilege change and re-authentication (`reauthenticated: true` also resets
   * `authenticatedAt` and both timeouts). Concurrent rotations of one session have one winner;
   * the others get `SESSION_NOT_FOUND`.
   */
  async rotate(session: Pick<Session<D>, 'id'>, options: RotateOptions<D> = {}): Promise<IssuedSession<D>> {
    if (options.data !== undefined) assertStorable('data', options.data);
    if (options.metadata !== undefined) assertStorable('metadata', options.metadata);
    const now = this.#rt.clock.now();
    // A concurrent touch or update of the same session moves its version under us: the rotation
    // then reads the session again and retries, and fails only when the session is gone (rotated
    // by another request, revoked or expired).
    for (let attempt = 1; ; attempt++) {
      const rotated = await this.#rotateOnce(session.id, now, options);
      if (rotated || attempt === ROTATE_ATTEMPTS) {
        if (!rotated) throw new SessionError('STORE_CONFLICT', 'The session kept changing while it was being rotated');
        return rotated;
      }
    }
  }

  /** One rotation attempt on the session as it is now; null when its version moved meanwhile. */
  async #rotateOnce(id: string, now: number, options: RotateOptions<D>): Promise<IssuedSession<D> | null> {
    const old = await this.#rt.lookupLive(id, now);
    if (!old) throw new SessionError('SESSION_NOT_FOUND');
    const epoch = await this.#rt.callStore(() => this.#rt.store.getUserEpoch(old.userId, now));

    const generated = generateSessionToken(this.#rt.random);
    const renewed = options.reauthenticated
      ? { ...old, authenticatedAt: now, ...initialExpiry(now, this.policy, old.persistent) }
      : slideIdle(old, now, this.policy);
    const record: SessionRecord<D> = {
      ...renewed,
      id: generated.id,
      secretHash: generated.secretHash,
      // Kept across rotation, so a successor is revoked by the same "log out everywhere" as its
      // predecessor; the session a "log out everywhere else" spared passes its exemption on.
      createdAt: spared(epoch, old.id) ? Math.max(old.createdAt, (epoch as UserEpoch).validAfter) : old.createdAt,
      // A clock that stepped back must not move lastSeenAt backwards (CL-03).
      lastSeenAt: Math.max(renewed.lastSeenAt, now),
      data: options.data ?? old.data,
      // New metadata may add a DPoP binding but never drop or change one: rotation keeps the key.
      metadata: options.metadata
        ? normaliseMetadata({
            ...options.metadata,
            dpopJkt: old.metadata.dpopJkt ?? options.metadata.dpopJkt,
            dbsc: old.metadata.dbsc ?? options.metadata.dbsc,
            // The CSRF binding survives rotation: pages open before it keep working.
            csrfId: old.metadata.csrfId,
          })
        : old.metadata,
      version: 1,
    };
    // One atomic step: the old token dies as the new one is born, and only one caller wins. Bounded
    // at twice the request timeout, so that a store's own timeout (which can still find out whether
    // the step ran) answers first: giving up earlier could leave the user with neither token. A
    // store that bounds its own calls promises a rotation within twice its bound (store.ts).
    const won = await this.#rt.callStore(
      () => this.#rt.store.rotate(old.id, old.version, record, now),
      2 * this.#rt.storeTimeoutMs,
    );
    if (!won) {
      // Lost the compare-and-set: retry if the session is still there under a newer version.
      const current = await this.#rt.lookupLive(old.id, now);
      if (!current || current.version === old.version) throw new SessionError('SESSION_NOT_FOUND');
      return null;
    }
    // The successor was indexed before the old record went; reading it back after that sees any
    // epoch a racing "log out everywhere" wrote before it listed the user's sessions (E3).
    const survivor = await this.#rt.callStore(() => this.#rt.store.get(record.id, now));
    if (!survivor) {
      await this.#rt.callStore(() => this.#rt.store.delete(record.id)).catch(() => false);
      throw new SessionError('SESSION_REVOKED', 'The session was revoked while it was being rotated');
    }
    this.#rt.emit({
      type: 'session.rotated',
      at: now,
      sidHash: this.#rt.sidHash(record.id),
      previousSidHash: this.#rt.sidHash(old.id),
      userId: record.userId,
      reason: options.reauthenticated ? 'reauthenticated' : 'rotated',
    });
    return {
      session: this.#view(record),
      token: generated.token,
      cookies: [this.sessionCookie(generated.token, record, now)],
    };
  }

  /**
   * Explicit extension: pushes the idle deadline to now + `byMs` (default one idle timeout),
   * never past the absolute deadline.
   */
  async extend(session: Pick<Session<D>, 'id'>, options: { byMs?: number } = {}): Promise<Session<D>> {
    if (options.byMs !== undefined && (!Number.isFinite(options.byMs) || options.byMs <= 0)) {
      throw new SessionError('CONFIG_INVALID', 'byMs must be a positive number');
    }
    const updated = this.#view(
      await this.#merge(session, (record, now) => extendIdle(record, now, this.policy, options.byMs)),
    );
    this.#rt.emit({
      type: 'session.extended',
      at: this.#rt.clock.now(),
      sidHash: this.#rt.sidHash(updated.id),
      userId: updated.userId,
    });
    return updated;
  }

  /**
   * Writes the session's data, in one store round trip after the validation that produced
   * `session`.
   *
   * - With a function, a merge: it gets the data as stored when the write runs and returns the new
   *   data. Concurrent writes to one session never fail: each one's function runs on the result of
   *   the others (combined into one write within this process, retried across processes), so a
   *   function that changes only its own keys keeps every write's effect. It may run more than once.
   * - With data, a replacement with compare-and-set on `session.version`: `STORE_CONFLICT` if the
   *   session changed since it was read.
   *
   * See docs/concurrency.md for what a concurrent write guarantees.
   *
   * @example
   * ```ts
   * await sessions.update(session, (data) => ({ ...data, cart: [...(data.cart ?? []), item] }))
   * ```
   */
  async update(session: Pick<Session<D>, 'id' | 'version'>, data: D | ((current: D) => D)): Promise<Session<D>> {
    if (typeof data === 'function') {
      const merge = data as (current: D) => D;
      return this.#view(
        await this.#merge(session, (record) => {
          const next = merge(record.data);
          assertStorable('data', next);
          return { ...record, data: next };
        }),
      );
    }
    assertStorable('data', data);
    const record = await this.#writer.replace(session.id, session.version, this.#known(session), (current) => ({
      ...current,
      data,
    }));
    return this.#view(record);
  }

  /**
   * A shallow merge of `changes` into the session's data: `update(session, (data) => ({ ...data,
   * ...changes }))`. Concurrent patches of one session all land; of two that set the same key, the
   * later write wins.
   *
   * @example
   * ```ts
   * await sessions.patch(session, { theme: 'dark' })
   * ```
   */
  async patch(session: Pick<Session<D>, 'id' | 'version'>, changes: Partial<D>): Promise<Session<D>> {
    assertStorable('data', changes);
    return this.#view(await this.#merge(session, (record) => ({ ...record, data: { ...record.data, ...changes } })));
  }

  /**
   * Revokes one session; returns whether it did. With `userId`, only that user's session is
   * revoked: another user's id returns false, exactly like an unknown or malformed id (no IDOR, no
   * enumeration). A route that names sessions by id answers false with a 404 of its own.
   *
   * @example
   * ```ts
   * if (!(await sessions.revoke(req.params.id, { userId: session.userId }))) throw new SessionError('SESSION_NOT_FOUND')
   * ```
   */
  async revoke(sessionId: string, options: { userId?: string; reason?: string } = {}): Promise<boolean> {
    // Ids often come from URLs and forms: vet the shape before any store call (A4).
    if (!isSessionId(sessionId)) return false;
    const now = this.#rt.clock.now();
    const record = await this.#rt.callStore(() => this.#rt.store.get(sessionId, now));
    if (!record || (options.userId !== undefined && record.userId !== options.userId)) return false;
    const deleted = await this.#rt.callStore(() => this.#rt.store.delete(sessionId));
    if (deleted) {
      await this.publishRevocation({ kind: 'session', sid: sessionId, at: now });
      this.#rt.emit({
        type: 'session.revoked',
        at: now,
        sidHash: this.#rt.sidHash(sessionId),
        userId: record.userId,
        reason: options.reason ?? 'revoked',
      });
    }
    return deleted;
  }

  /**
   * Revokes every session of a user, optionally all but `except` (the current one): "log out
   * everywhere (else)" (E3, E4). First writes the user's epoch, which ends at once every session
   * created before now, including a successor of a rotation racing this call; then deletes the
   * sessions in batches (each bounded by the store's own timeout, with no overall bound). Returns
   * how many sessions were deleted.
   */
  async revokeAll(userId: string, options: { except?: string; reason?: string } = {}): Promise<number> {
    if (typeof userId !== 'string' || userId.length === 0) {
      throw new SessionError('CONFIG_INVALID', 'userId must be a non-empty string');
    }
    const now = this.#rt.clock.now();
    const epoch: UserEpoch = { validAfter: now, keep: options.except ?? null };
    // Kept until every session it can revoke has expired, whatever the clock skew between instances.
    const lifetime =
      Math.max(this.policy.absoluteTimeoutMs, this.policy.persistentAbsoluteTimeoutMs) + EPOCH_CLOCK_MARGIN_MS;
    await this.#rt.callStore(() => this.#rt.store.setUserEpoch(userId, epoch, now + lifetime, now));
    // The epoch is what verifiers need; the deletions below may take many batches.
    await this.publishRevocation({ kind: 'user', sub: userId, validAfter: now, keep: epoch.keep, at: now });
    const count = await this.#rt.call(() => this.#rt.store.deleteByUser(userId, options.except), null);
    this.#rt.emit({
      type: 'session.revoked',
      at: now,
      userId,
      reason: options.reason ?? (options.except ? 'revoked_others' : 'revoked_all'),
    });
    return count;
  }

  /**
   * Ends every session of every user (E3, ASVS 7.4.5: "log everyone out", after a breach or a key
   * compromise) and every refresh family, through the store's `deleteAll`. Returns how many
   * sessions were deleted and emits one `session.revoked` event (reason `revoked_everyone` unless
   * given) naming no user. An administrative operation: it is not bounded by `storeTimeoutMs`,
   * which is for request paths, because a large store needs many batches; each batch is still
   * bounded by the store's own command or statement timeout, so an outage fails with
   * `STORE_UNAVAILABLE` instead of hanging. Session JWTs already issued stay valid on lax routes
   * until they expire (at most their TTL); strict checks refuse them at once.
   *
   * @example
   * ```ts
   * // An admin endpoint, behind its own authorization and a fresh-session check:
   * const ended = await sessions.revokeEveryone({ reason: 'incident_2026_01' })
   * audit.info({ action: 'revoke_everyone', ended })
   * ```
   */
  async revokeEveryone(options: { reason?: string } = {}): Promise<number> {
    // A store written against an older contract may lack it: say so rather than report an outage.
    if (typeof this.#rt.store.deleteAll !== 'function') {
      throw new SessionError('CONFIG_INVALID', 'The session store does not implement deleteAll');
    }
    const count = await this.#rt.call(() => this.#rt.store.deleteAll(), null);
    // Stamped once the store is empty: a JWT issued before then may belong to a deleted session.
    const after = this.#rt.clock.now();
    await this.publishRevocation({ kind: 'everyone', validAfter: after, at: after });
    this.#rt.emit({ type: 'session.revoked', at: this.#rt.clock.now(), reason: options.reason ?? 'revoked_everyone' });
    return count;
  }

  /** A user's live sessions, most recently seen first. */
  async list(userId: string): Promise<Session<D>[]> {
    const now = this.#rt.clock.now();
    // Batched by the store, each batch bounded by its own timeout: no overall bound here.
    const records = await this.#rt.call(() => this.#rt.store.listByUser(userId, now), null);
    return records
      .filter((r) => expiryStatus(r, now) === 'valid')
      .sort((a, b) => b.lastSeenAt - a.lastSeenAt)
      .map(toSession);
  }

  /** The Set-Cookie value that removes the session cookie (logout). */
  deletionCookie(): string {
    // Built once: every dead or junk cookie gets it, and the (frozen) cookie policy decides it all.
    this.#deletionCookie ??= serializeDeletionCookie(this.cookie);
    return this.#deletionCookie;
  }

  /** The Set-Cookie value carrying `token` for `session`. */
  sessionCookie(
    token: string,
    session: Pick<Session<D>, 'absoluteExpiresAt' | 'persistent'>,
    now = this.#rt.clock.now(),
  ): string {
    return serializeSessionCookie(this.cookie, token, cookieMaxAge(session, now));
  }

  /**
   * Releases what the store opened itself (its `close`, when it has one), for an app that owns
   * the store and shuts down. A store built on a client you passed in leaves that client open.
   *
   * @example
   * ```ts
   * process.on('SIGTERM', () => void sessions.close())
   * ```
   */
  async close(): Promise<void> {
    await this.#rt.store.close?.();
  }

  /**
   * A merging write of `session` (see {@link update}); resolves to the record as written. Not
   * async, so that it adds no promise of its own: its callers are, and await it (a throw here
   * rejects them).
   */
  #merge(session: Pick<Session<D>, 'id'>, change: RecordChange<D>): Promise<SessionRecord<D>> {
    if (!session || typeof session.id !== 'string') throw new SessionError('SESSION_NOT_FOUND');
    return this.#writer.merge(session.id, this.#known(session), change);
  }

  /** The record `session` was made from, when remembered (see {@link #view}). */
  #known(session: object): SessionRecord<D> | undefined {
    return this.#remembersRecords ? this.#records.get(session) : undefined;
  }

  /**
   * The public view of `record`, remembered as the base of a later write: it saves that write a
   * store read. Not with a store that reads synchronously (the memory store), where that read
   * costs less than the WeakMap entry every validation would add (an ephemeron the garbage
   * collector traces specially).
   */
  #view(record: SessionRecord<D>): Session<D> {
    const session = toSession(record);
    if (this.#remembersRecords) this.#records.set(session, record);
    return session;
  }

  /** Sends a revocation notice when a channel is configured; never rejects. */
  private publishRevocation(notice: RevocationNotice): Promise<void> {
    const revocation = this.#revocation;
    if (!revocation) return Promise.resolve();
    return publishNotice(revocation.channel, notice, (operation) => this.#rt.call(operation), revocation.onEvent);
  }

  private async enforceSessionLimit(userId: string, now: number): Promise<void> {
    const max = this.maxSessionsPerUser;
    if (max === null) return;
    // A login is a request path: bounded like one (I2). The default cap keeps this list short.
    const live = (await this.#rt.call(() => this.#rt.store.listByUser(userId, now))).filter(
      (r) => expiryStatus(r, now) === 'valid',
    );
    if (live.length < max) return;
    if (this.onSessionLimit === 'refuse') throw new SessionError('SESSION_LIMIT_REACHED');
    const victims = live.sort((a, b) => a.createdAt - b.createdAt).slice(0, live.length - max + 1);
    for (let start = 0; start < victims.length; start += EVICTION_BATCH) {
      const batch = victims.slice(start, start + EVICTION_BATCH);
      const deleted = await Promise.all(
        batch.map((victim) => this.#rt.callStore(() => this.#rt.store.delete(victim.id))),
      );
      await Promise.all(
        batch.map((victim, i) =>
          deleted[i] ? this.publishRevocation({ kind: 'session', sid: victim.id, at: now }) : undefined,
        ),
      );
      batch.forEach((victim, i) => {
        if (!deleted[i]) return;
        this.#rt.emit({
          type: 'session.evicted',
          at: now,
          sidHash: this.#rt.sidHash(victim.id),
          userId,
          reason: 'session_limit',
        });
      });
    }
  }

  /**
   * Checks one token: format, lookup, secret, expiry, binding, then a touch if one is due. With a
   * store that reads synchronously (`getSync`), a plain valid read returns without a promise.
   */
  private check(
    token: string,
    signals: RequestSignals,
    writes: CookieWrites,
  ): ValidationResult<D> | Promise<ValidationResult<D>> {
    if (!isSessionToken(token)) {
      this.#reportInvalidToken('malformed', signals);
      return this.noSession('malformed', noSessionError('UNAUTHENTICATED'), writes);
    }
    const now = this.#rt.clock.now();
    // Read with a look-back (stores keep records that long past their deadline, by contract) so
    // that a recently expired record comes back and is reported as expired (event,
    // SESSION_EXPIRED) on every store rather than unknown; expiry is decided with `now`.
    const readAt = now - EXPIRED_RETENTION_MS;
    // The two parts of parseSessionToken, without its object.
    const id = token.slice(0, SESSION_ID_LENGTH);
    const secret = token.slice(SESSION_ID_LENGTH + 1);
    const store = this.#rt.store;
    if (typeof store.getSync === 'function') {
      let record: SessionRecord<D> | null;
      try {
        record = store.getSync(id, readAt);
      } catch (error) {
        return this.noSession('unavailable', asStoreError(error), writes);
      }
      return this.judge(token, secret, record, now, signals, writes);
    }
    return this.#rt
      .callStore(() => store.get(id, readAt))
      .then(
        (record) => this.judge(token, secret, record, now, signals, writes),
        (error: unknown) => this.noSession('unavailable', asStoreError(error), writes),
      );
  }

  /** The decision once the record is read; asynchronous only when it must write. */
  private judge(
    token: string,
    secret: string,
    record: SessionRecord<D> | null,
    now: number,
    signals: RequestSignals,
    writes: CookieWrites,
  ): ValidationResult<D> | Promise<ValidationResult<D>> {
    // Hash even for unknown ids so the two failures cost the same.
    const matches = secretMatchesHash(secret, record ? record.secretHash : UNKNOWN_ID_HASH);
    if (!record || !matches) {
      this.#reportInvalidToken(record ? 'secret_mismatch' : 'unknown', signals, now);
      return this.noSession('invalid', noSessionError('UNAUTHENTICATED'), writes);
    }
    const status = expiryStatus(record, now);
    if (status !== 'valid') {
      if (this.#rt.listening) {
        this.#rt.emit({
          type: 'session.expired',
          at: now,
          sidHash: this.#rt.sidHash(record.id),
          userId: record.userId,
          reason: status,
        });
      }
      return this.dropAndFail(record.id, 'expired', 'SESSION_EXPIRED', writes);
    }
    const verdict = normaliseVerdict(this.binding(record.metadata, signals));
    if (verdict.decision !== 'allow') {
      if (this.#rt.listening) {
        this.#rt.emit({
          type: 'session.anomaly',
          at: now,
          sidHash: this.#rt.sidHash(record.id),
          userId: record.userId,
          reason: verdict.reason ?? 'binding',
          ip: signals.ip ?? null,
          userAgent: signals.userAgent ?? null,
        });
      }
      if (verdict.decision === 'reject') return this.dropAndFail(record.id, 'rejected', 'SESSION_REJECTED', writes);
    }
    const touch = this.#rt.touch(record, now);
    if (touch === null) return this.valid(record, token, false, writes);
    return touch.then((t) => this.valid(t.record, token, t.written, writes));
  }

  /** Reports a token that proved nothing, when anyone listens (no event is built otherwise). */
  #reportInvalidToken(
    reason: 'malformed' | 'unknown' | 'secret_mismatch' | 'ambiguous',
    signals: RequestSignals,
    at?: number,
  ): void {
    if (!this.#rt.listening) return;
    this.#rt.emit({ type: 'session.invalid_token', at: at ?? this.#rt.clock.now(), reason, ip: signals.ip ?? null });
  }

  /** Deletes a dead session (best effort: a failure leaves it to expire) and reports why. */
  private async dropAndFail(
    id: string,
    status: NoSession['status'],
    code: SessionErrorCode,
    writes: CookieWrites,
  ): Promise<NoSession> {
    await this.#rt.callStore(() => this.#rt.store.delete(id)).catch(() => false);
    return this.noSession(status, noSessionError(code), writes);
  }

  /** The result for a live session; `touched`: this read wrote its new idle deadline. */
  private valid(record: SessionRecord<D>, token: string, touched: boolean, writes: CookieWrites): ValidationResult<D> {
    const cookies: string[] = [];
    // Persistent cookies are re-sent when touched so their Max-Age tracks the record.
    if (writes.renew && touched && record.persistent) cookies.push(this.sessionCookie(token, record));
    return { session: this.#view(record), status: 'valid', source: 'store', cookies, error: null, token };
  }

  /** The result for a failed check. */
  private noSession(status: NoSession['status'], error: SessionError, writes: CookieWrites): NoSession {
    const cookies: string[] = [];
    // A dead cookie is cleared, but never during an outage (I1): the session may still be fine.
    if (writes.clear && status !== 'unavailable') cookies.push(this.deletionCookie());
    return { session: null, status, source: 'store', cookies, error, token: null };
  }
}

/**
 * Creates a {@link SessionManager}; see its documentation.
 *
 * @example
 * ```ts
 * const sessions = createSessionManager({ store: new MemoryStore(), policy: 'aal3' })
 * ```
 */
export function createSessionManager<D extends SessionData = SessionData>(
  options: SessionManagerOptions<D>,
): SessionManager<D> {
  return new SessionManager<D>(options);
}

// biome-ignore lint/suspicious/noExplicitAny: one registry for managers of every session data type.
const runtimes = new WeakMap<object, SessionRuntime<any>>();

/**
 * The runtime of a manager made by `createSessionManager`. Throws `CONFIG_INVALID` for anything
 * else (a look-alike object, or a manager from another copy of this package).
 */
export function runtimeOf<D extends SessionData>(manager: SessionManager<D>): SessionRuntime<D> {
  const runtime = typeof manager === 'object' && manager !== null ? runtimes.get(manager) : undefined;
  if (!runtime) throw new SessionError('CONFIG_INVALID', 'A session manager from createSessionManager is required');
  return runtime as SessionRuntime<D>;
}

/**
 * The public view of a record: every field but the secret hash (and nothing a store added).
 *
 * @example
 * ```ts
 * const session = toSession(await store.get(id, now))
 * ```
 */
export function toSession<D extends SessionData>(record: SessionRecord<D>): Session<D> {
  // Listed field by field: cheaper than a rest spread on the hot path, and stores that return
  // extra columns cannot leak them.
  return {
    id: record.id,
    userId: record.userId,
    createdAt: record.createdAt,
    lastSeenAt: record.lastSeenAt,
    idleExpiresAt: record.idleExpiresAt,
    absoluteExpiresAt: record.absoluteExpiresAt,
    authenticatedAt: record.authenticatedAt,
    persistent: record.persistent,
    data: record.data,
    metadata: record.metadata,
    version: record.version,
  };
}

function absent(): NoSession {
  return {
    session: null,
    status: 'absent',
    source: 'store',
    cookies: [],
    error: noSessionError('UNAUTHENTICATED'),
    token: null,
  };
}

const errorConstructor = Error as { stackTraceLimit?: number };

/**
 * The error a guard throws for "no session". It is built on every anonymous or stale request, and a
 * stack trace (which says nothing about client input) costs more than the whole validation.
 */
function noSessionError(code: SessionErrorCode): SessionError {
  const limit = errorConstructor.stackTraceLimit;
  errorConstructor.stackTraceLimit = 0;
  try {
    return new SessionError(code);
  } finally {
    errorConstructor.stackTraceLimit = limit;
  }
}

const ALLOW: BindingVerdict = Object.freeze({ decision: 'allow' });

function normaliseVerdict(verdict: BindingVerdict | BindingVerdict['decision']): BindingVerdict {
  if (verdict === 'allow') return ALLOW;
  return typeof verdict === 'string' ? { decision: verdict } : verdict;
}

/** A request that told nothing about its client: one object for all of them, read-only. */
const NO_SIGNALS: RequestSignals = Object.freeze({});

/** The only session cookie of a request: renewed when due, deleted when dead. */
const ONE_COOKIE: CookieWrites = Object.freeze({ renew: true, clear: true });
/**
 * One of several same-name cookies, or one past a cut header: renewed when it is the live one,
 * never deleted (the deletion could hit another cookie of that name, not this one).
 */
const LIVE_COOKIE: CookieWrites = Object.freeze({ renew: true, clear: false });
/** A bearer token: no cookies at all. */
const BEARER: CookieWrites = Object.freeze({ renew: false, clear: false });

/**
 * Where {@link SessionManager} reads the session cookie's values: one array for every request
 * (validation reads them synchronously, then empties it) instead of a new one each time.
 */
const foundValues: string[] = [];

/** Compared against when the id is unknown, so that both failures cost one hash and one compare. */
const UNKNOWN_ID_HASH = '0'.repeat(64);

const MAX_METADATA_LENGTH = 512;

function normaliseMetadata(metadata: SessionMetadata | undefined): SessionMetadata {
  const clip = (value: string | null | undefined) =>
    typeof value === 'string' ? value.slice(0, MAX_METADATA_LENGTH) : null;
  const normalised: SessionMetadata = {
    userAgent: clip(metadata?.userAgent),
    ip: clip(metadata?.ip),
    label: clip(metadata?.label),
  };
  // A DPoP binding (a 43-character thumbprint) is kept only when present, so unbound records keep their shape.
  if (typeof metadata?.dpopJkt === 'string' && /^[A-Za-z0-9_-]{43}$/.test(metadata.dpopJkt)) {
    normalised.dpopJkt = metadata.dpopJkt;
  }
  // A DBSC binding is written by the registration endpoint only; kept when its shape is sound.
  if (isDbscBinding(metadata?.dbsc)) normalised.dbsc = metadata.dbsc;
  if (typeof metadata?.csrfId === 'string' && /^[A-Za-z0-9_-]{22}$/.test(metadata.csrfId)) {
    normalised.csrfId = metadata.csrfId;
  }
  return normalised;
}

/** Whether `epoch` spares the session `id` ("log out everywhere else" kept it). */
function spared(epoch: UserEpoch | null, id: string): boolean {
  return epoch !== null && epoch.keep === id;
}

/** Arbitrary JSON-serialisable application data kept with a session. */
export type SessionData = Record<string, unknown>;

/** What the server recorded about the client that created (or last rotated) the session. */
export interface SessionMetadata {
  userAgent?: string | null;
  ip?: string | null;
  /** A device label the user or app chose ("Work laptop"). */
  label?: string | null;
  /**
   * RFC 7638 thumbprint of the DPoP key the session is bound to (set at issue from a verified
   * proof); tokens of a bound session are refused without a proof from that key. Kept on rotation.
   */
  dpopJkt?: string | null;
  /**
   * The browser key a Device Bound Session (DBSC) registered for this session, set by the
   * registration endpoint (`@org/session-core/dbsc`). Kept on rotation.
   */
  dbsc?: DbscBinding | null;
  /**
   * A random id the session's CSRF tokens are bound to: set when the session is created, kept on
   * rotation, so a page rendered before a rotation still posts. Not a credential: a token also
   * needs the server's CSRF key.
   */
  csrfId?: string;
}

/** A session's Device Bound Session Credentials binding: the browser's public key and the DBSC id. */
export interface DbscBinding {
  /** The DBSC session identifier the browser sends in `Sec-Secure-Session-Id` (random, not the session id). */
  id: string;
  alg: 'ES256' | 'RS256';
  /** The public key from the registration proof (public members only). */
  jwk: Record<string, string>;
  /** RFC 7638 thumbprint of `jwk`. */
  jkt: string;
  /** When the key was registered, ms since the epoch. */
  boundAt: number;
}

/** Signals from the current request, compared against the stored metadata by the binding policy. */
export interface RequestSignals {
  userAgent?: string | null;
  ip?: string | null;
}

/**
 * A session as the store keeps it. Times are milliseconds since the epoch, from the manager's
 * injected clock. `secretHash` is the hex SHA-256 of the token secret; the secret itself is never
 * stored anywhere.
 */
export interface SessionRecord<D extends SessionData = SessionData> {
  id: string;
  secretHash: string;
  userId: string;
  createdAt: number;
  lastSeenAt: number;
  /** `null` when the policy has no idle timeout. */
  idleExpiresAt: number | null;
  absoluteExpiresAt: number;
  /** Last time the user proved their identity; drives "fresh" checks. */
  authenticatedAt: number;
  /** "Remember me": the cookie carries Max-Age instead of ending with the browser session. */
  persistent: boolean;
  data: D;
  metadata: SessionMetadata;
  /** Incremented on every write; compare-and-set updates check it. */
  version: number;
}

/** The public view of a session: the record without its secret hash. */
export type Session<D extends SessionData = SessionData> = Omit<SessionRecord<D>, 'secretHash'>;

/**
 * A refresh-token family: one chain of rotating refresh tokens belonging to one session
 * (API and mobile clients only). Only hashes of refresh secrets are stored.
 */
export interface RefreshFamilyRecord {
  id: string;
  sessionId: string;
  userId: string;
  /** Incremented on every rotation; compare-and-set updates check it. */
  generation: number;
  /** Hex SHA-256 of the current (unused) refresh secret. */
  currentHash: string;
  /** Hex SHA-256 of the secret that was rotated last, for the grace window. */
  previousHash: string | null;
  /** When `previousHash` was rotated away. */
  rotatedAt: number | null;
  createdAt: number;
  lastUsedAt: number;
  idleExpiresAt: number | null;
  absoluteExpiresAt: number;
  /** Set when reuse was detected or the family was revoked; the record then only blocks. */
  revokedAt: number | null;
}

/**
 * The moment after which a record can be dropped by the store (TTL or sweep).
 *
 * @example
 * ```ts
 * const ttlMs = recordExpiresAt(record) - now // what a store's TTL should be
 * ```
 */
export function recordExpiresAt(record: { idleExpiresAt: number | null; absoluteExpiresAt: number }): number {
  return record.idleExpiresAt === null
    ? record.absoluteExpiresAt
    : Math.min(record.idleExpiresAt, record.absoluteExpiresAt);
}

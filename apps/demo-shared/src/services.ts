import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import {
  type Clock,
  createSessionManager,
  MemoryStore,
  type SessionData,
  type SessionManager,
  type SessionMetadata,
  type SessionStore,
} from '@org/session-core';
import type { CsrfSettings } from '@org/session-core/csrf';
import {
  createJwtKeySet,
  createSessionJwt,
  exportSigningJwk,
  generateSigningKey,
  importJwtKey,
  type JwtKey,
  type SessionJwt,
} from '@org/session-core/jwt';
import { SqliteStore } from '@org/session-store-sqlite';
import type { DemoConfig } from './config.js';
import { deviceLabel } from './device.js';
import { type DemoSecrets, loadSecrets, saveJwtSigningJwk } from './secrets.js';
import { UserDirectory } from './users.js';
import type { ExpiryPolicyView, SessionView } from './views.js';

/** What the demo keeps in each session: nothing beyond the user id the library already holds. */
export type DemoSessionData = SessionData;

/** Everything both demo apps share, whatever the framework. */
export interface DemoServices {
  config: DemoConfig;
  /** Where browsers reach the demo (`http://localhost:<port>`): the JWT issuer too. */
  origin: string;
  manager: SessionManager<DemoSessionData>;
  /**
   * The handle that names a session on the sessions page: the first 16 hex chars of
   * HMAC-SHA256(logKey, id), the same `sidHash` the library's events carry, so a row of the page
   * and a line of the audit log name a session alike, without showing any part of its token.
   */
  sessionHandle(id: string): string;
  /** For the adapters' CSRF protection: the demo's key and the origins it is reached at. */
  csrfOptions: CsrfSettings;
  /** Issues and verifies the session JWTs of the JSON API (EdDSA, JWKS at /.well-known/jwks.json). */
  jwts: SessionJwt<DemoSessionData>;
  users: UserDirectory;
  clock: Clock;
  expiryPolicy: ExpiryPolicyView;
  close(): Promise<void>;
}

export interface DemoServiceOptions {
  /** Origins the browser may post from: the demo's own, as the user reaches it. */
  allowedOrigins: string[];
  /** Test clock; the system clock otherwise. */
  clock?: Clock;
}

/**
 * Opens the stores and builds the session manager, CSRF settings and session JWTs from the demo config:
 * SQLite files under `config.dataDir` (sessions and users), production cookie mode (it works on
 * http://localhost, see docs/browser-notes.md), and the configured timeouts.
 *
 * @example
 * ```ts
 * const services = await createDemoServices(readConfig(process.env), { allowedOrigins: ['http://localhost:3000'] });
 * ```
 */
export async function createDemoServices(config: DemoConfig, options: DemoServiceOptions): Promise<DemoServices> {
  const secrets = loadSecrets(config.dataDir);
  const clock = options.clock ?? { now: () => Date.now() };
  const store: SessionStore<DemoSessionData> =
    config.store === 'sqlite'
      ? new SqliteStore<DemoSessionData>({ path: join(config.dataDir, 'sessions.db'), migrate: true })
      : new MemoryStore<DemoSessionData>();
  const manager = createSessionManager<DemoSessionData>({
    store,
    policy: { idleTimeoutMs: config.idleTimeoutMs, absoluteTimeoutMs: config.absoluteTimeoutMs },
    mode: 'production',
    clock,
    logKey: secrets.logKey,
  });
  const jwts = createSessionJwt<DemoSessionData>({
    manager,
    keys: createJwtKeySet({ active: await jwtSigningKey(config.dataDir, secrets) }),
    issuer: options.allowedOrigins[0] as string,
    audience: JWT_AUDIENCE,
    ttlSeconds: JWT_TTL_SECONDS,
  });
  const users = new UserDirectory(join(config.dataDir, 'users.db'));
  return {
    config,
    origin: options.allowedOrigins[0] as string,
    manager,
    sessionHandle: (id) => createHmac('sha256', secrets.logKey).update(id).digest('hex').slice(0, 16),
    csrfOptions: { key: secrets.csrfKey, allowedOrigins: options.allowedOrigins },
    jwts,
    users,
    clock,
    expiryPolicy: {
      idleTimeoutMs: manager.policy.idleTimeoutMs,
      absoluteTimeoutMs: manager.policy.absoluteTimeoutMs,
      touchIntervalMs: manager.policy.touchIntervalMs,
      reauthAfterMs: config.reauthAfterMs,
    },
    async close() {
      await store.close?.();
      users.close();
    },
  };
}

/** What the demo records about the client that logs in (shown on the sessions page). */
export function clientMetadata(userAgent: string | undefined | null, ip: string | undefined | null): SessionMetadata {
  return { userAgent: userAgent ?? null, ip: ip ?? null, label: deviceLabel(userAgent) };
}

/**
 * The user's live sessions for the sessions page, most recently seen first. Rows are named by a
 * keyed hash of the session id, so the page never shows any part of a token.
 */
export async function sessionViews(
  { manager, sessionHandle }: Pick<DemoServices, 'manager' | 'sessionHandle'>,
  userId: string,
  currentSessionId: string,
): Promise<SessionView[]> {
  const sessions = await manager.list(userId);
  return sessions.map((session) => ({
    handle: sessionHandle(session.id),
    device: session.metadata.label ?? deviceLabel(session.metadata.userAgent),
    userAgent: session.metadata.userAgent ?? null,
    ip: session.metadata.ip ?? null,
    createdAt: session.createdAt,
    lastSeenAt: session.lastSeenAt,
    authenticatedAt: session.authenticatedAt,
    idleExpiresAt: session.idleExpiresAt,
    absoluteExpiresAt: session.absoluteExpiresAt,
    persistent: session.persistent,
    current: session.id === currentSessionId,
  }));
}

/**
 * Revokes one of the user's own sessions by its page handle. Only the user's sessions are
 * searched, and the revoke itself checks the owner again (E5), so another user's session can
 * never be named.
 */
export async function revokeByHandle(
  { manager, sessionHandle }: Pick<DemoServices, 'manager' | 'sessionHandle'>,
  userId: string,
  handle: unknown,
): Promise<boolean> {
  if (typeof handle !== 'string' || handle.length === 0) return false;
  const sessions = await manager.list(userId);
  const target = sessions.find((session) => sessionHandle(session.id) === handle);
  if (!target) return false;
  return manager.revoke(target.id, { userId, reason: 'revoked_by_user' });
}

/** Only these local pages are valid targets after re-authentication (no open redirect). */
const RETURN_PAGES = new Set(['/account', '/sessions', '/jwt']);

export function safeReturnPath(next: unknown): string {
  return typeof next === 'string' && RETURN_PAGES.has(next) ? next : '/account';
}

/** Headers on every response of the demos. */
export const securityHeaders: ReadonlyArray<[string, string]> = [
  // K2: a year of HSTS. Browsers ignore it over plain http, and honour it once served over https.
  ['strict-transport-security', 'max-age=31536000; includeSubDomains'],
  [
    'content-security-policy',
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  ],
  ['x-content-type-options', 'nosniff'],
  ['referrer-policy', 'same-origin'],
  ['x-frame-options', 'DENY'],
  ['cross-origin-opener-policy', 'same-origin'],
];

/** The origins a browser may use to reach a demo listening on `port` on loopback. */
export function loopbackOrigins(port: number): string[] {
  return [`http://localhost:${port}`, `http://127.0.0.1:${port}`];
}

/** The audience of the demo's session JWTs. */
export const JWT_AUDIENCE = 'demo-api';
/** Session JWT lifetime: short, so a revoked session stops working everywhere soon. */
export const JWT_TTL_SECONDS = 300;

/** The demo's Ed25519 signing key: generated once, then loaded from the secrets file. */
async function jwtSigningKey(dataDir: string, secrets: DemoSecrets): Promise<JwtKey> {
  if (secrets.jwtSigningJwk) return importJwtKey({ alg: 'EdDSA', key: secrets.jwtSigningJwk });
  const key = await generateSigningKey('EdDSA', { extractable: true });
  saveJwtSigningJwk(dataDir, (await exportSigningJwk(key)) as Record<string, unknown>);
  return key;
}

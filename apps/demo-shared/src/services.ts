import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import {
  type Clock,
  createSessionManager,
  MemoryStore,
  type SessionData,
  type SessionManager,
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
import {
  type AttemptCounter,
  createLoginThrottle,
  type LoginThrottle,
  MemoryAttemptCounter,
} from '@org/session-core/throttle';
import { SqliteAttemptCounter, SqliteStore } from '@org/session-store-sqlite';
import type { DemoConfig } from './config.js';
import { type DemoSecrets, loadSecrets, saveJwtSigningJwk } from './secrets.js';
import { UserDirectory } from './users.js';
import type { ExpiryPolicyView } from './views.js';
import { JWT_AUDIENCE, JWT_TTL_SECONDS } from './web.js';

// The helpers without Node built-ins live in web.ts (a Worker uses them too); re-exported here.
export {
  clientMetadata,
  JWT_AUDIENCE,
  JWT_TTL_SECONDS,
  loopbackOrigins,
  revokeByHandle,
  safeReturnPath,
  securityHeaders,
  sessionViews,
} from './web.js';

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
  /** Login and sign-up attempts per account and per address (429 with Retry-After past the limit). */
  throttle: LoginThrottle;
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
  const sqlite =
    config.store === 'sqlite'
      ? new SqliteStore<DemoSessionData>({ path: join(config.dataDir, 'sessions.db'), migrate: true })
      : null;
  const store: SessionStore<DemoSessionData> = sqlite ?? new MemoryStore<DemoSessionData>();
  // The throttle's counters live beside the sessions, so every process on the same file shares them.
  const counter: AttemptCounter = sqlite
    ? new SqliteAttemptCounter({ database: sqlite.database })
    : new MemoryAttemptCounter();
  const throttle = createLoginThrottle({
    counter,
    key: createHmac('sha256', secrets.csrfKey).update('demo login throttle').digest(),
    clock,
  });
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
    throttle,
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

/** The demo's Ed25519 signing key: generated once, then loaded from the secrets file. */
async function jwtSigningKey(dataDir: string, secrets: DemoSecrets): Promise<JwtKey> {
  if (secrets.jwtSigningJwk) return importJwtKey({ alg: 'EdDSA', key: secrets.jwtSigningJwk });
  const key = await generateSigningKey('EdDSA', { extractable: true });
  saveJwtSigningJwk(dataDir, (await exportSigningJwk(key)) as Record<string, unknown>);
  return key;
}

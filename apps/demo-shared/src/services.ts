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
import { PostgresAttemptCounter, PostgresStore } from '@org/session-store-postgres';
import { RedisAttemptCounter, RedisStore } from '@org/session-store-redis';
import { SqliteAttemptCounter, SqliteStore } from '@org/session-store-sqlite';
import { Redis } from 'ioredis';
import pg from 'pg';
import { type DemoConfig, DemoConfigError, redactUrl } from './config.js';
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
   * The manager's store (SQLite, memory, Redis or PostgreSQL). It also remembers used DPoP proof
   * ids and DBSC challenges (`markOnce`), so every process on the same store shares those checks.
   */
  store: SessionStore<DemoSessionData>;
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
 * sessions and throttle counters on the configured store (SQLite under `config.dataDir`, memory,
 * Redis or PostgreSQL), users in SQLite under `config.dataDir`, production cookie mode (it works on
 * http://localhost, see docs/browser-notes.md), and the configured timeouts. Redis or PostgreSQL
 * out of reach rejects with a {@link DemoConfigError} naming the variable.
 *
 * @example
 * ```ts
 * const services = await createDemoServices(readConfig(process.env), { allowedOrigins: ['http://localhost:3000'] });
 * ```
 */
export async function createDemoServices(config: DemoConfig, options: DemoServiceOptions): Promise<DemoServices> {
  const secrets = loadSecrets(config.dataDir);
  const clock = options.clock ?? { now: () => Date.now() };
  // Sessions and the throttle's counters on one store, so every process on it shares both.
  const { store, counter, closeStore } = await openStore(config);
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
    store,
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
      await closeStore();
      users.close();
    },
  };
}

interface OpenedStore {
  store: SessionStore<DemoSessionData>;
  counter: AttemptCounter;
  closeStore(): Promise<void>;
}

/** How long the demo waits for Redis or PostgreSQL at startup before it gives up with a clear message. */
const STARTUP_CONNECT_TIMEOUT_MS = 5000;

/**
 * The configured store of sessions and throttle counters, reachable before the demo serves a
 * request: an unreachable server is a {@link DemoConfigError} naming the variable to fix.
 */
async function openStore(config: DemoConfig): Promise<OpenedStore> {
  switch (config.store) {
    case 'sqlite': {
      const sqlite = new SqliteStore<DemoSessionData>({ path: join(config.dataDir, 'sessions.db'), migrate: true });
      return {
        store: sqlite,
        counter: new SqliteAttemptCounter({ database: sqlite.database }),
        closeStore: () => sqlite.close(),
      };
    }
    case 'memory': {
      const memory = new MemoryStore<DemoSessionData>();
      return { store: memory, counter: new MemoryAttemptCounter(), closeStore: async () => memory.close?.() };
    }
    case 'redis':
      return openRedis(config);
    case 'postgres':
      return openPostgres(config);
  }
}

async function openRedis(config: DemoConfig): Promise<OpenedStore> {
  // Fail fast while disconnected (the store answers 503 rather than queueing requests).
  const client = new Redis(config.redisUrl, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: STARTUP_CONNECT_TIMEOUT_MS,
  });
  let lastError: unknown = null;
  let started = false;
  client.on('error', (error: unknown) => {
    // Once per outage after startup, on stderr; requests meanwhile get the store's 503 page.
    if (started && lastError === null)
      console.error(`demo: Redis at ${redactUrl(config.redisUrl)}: ${messageOf(error)}`);
    lastError = error;
  });
  client.on('ready', () => {
    lastError = null;
  });
  try {
    await client.connect();
    await client.ping();
    started = true;
  } catch (error) {
    client.disconnect();
    throw new DemoConfigError(
      `SESSION_STORE=redis: cannot reach Redis at REDIS_URL=${redactUrl(config.redisUrl)} (${messageOf(lastError ?? error)})`,
    );
  }
  const prefix = `${config.storeNamespace}:`;
  const store = new RedisStore<DemoSessionData>({ client, prefix: `${prefix}sess:` });
  return {
    store,
    counter: new RedisAttemptCounter({ client, prefix: `${prefix}throttle:` }),
    async closeStore() {
      await store.close();
      await client.quit().catch(() => client.disconnect());
    },
  };
}

async function openPostgres(config: DemoConfig): Promise<OpenedStore> {
  const where = `DATABASE_URL=${redactUrl(config.databaseUrl)}`;
  // One plain connection first: its error says why (refused, unknown database, auth) in one line.
  const probe = new pg.Client({
    connectionString: config.databaseUrl,
    connectionTimeoutMillis: STARTUP_CONNECT_TIMEOUT_MS,
  });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    await probe.query('SELECT 1');
  } catch (error) {
    throw new DemoConfigError(`SESSION_STORE=postgres: cannot reach PostgreSQL at ${where} (${messageOf(error)})`);
  } finally {
    await probe.end().catch(() => undefined);
  }
  const store = new PostgresStore({ connectionString: config.databaseUrl, schema: config.storeNamespace });
  const counter = new PostgresAttemptCounter({ pool: store.pool, schema: config.storeNamespace });
  try {
    await store.migrate();
    await counter.migrate();
  } catch (error) {
    await store.close();
    throw new DemoConfigError(
      `SESSION_STORE=postgres: cannot create the schema ${config.storeNamespace} at ${where} (${messageOf(error)})`,
    );
  }
  return { store: store as unknown as SessionStore<DemoSessionData>, counter, closeStore: () => store.close() };
}

/** An error's own message and its causes', for a one-line report. */
function messageOf(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    // AggregateError (a refused connection to every address of a host) keeps its reasons in errors.
    const inner = current instanceof AggregateError ? current.errors[0] : undefined;
    if (current.message && !parts.includes(current.message)) parts.push(current.message);
    current = current.cause ?? inner;
  }
  return parts.join(': ') || String(error);
}

/** The demo's Ed25519 signing key: generated once, then loaded from the secrets file. */
async function jwtSigningKey(dataDir: string, secrets: DemoSecrets): Promise<JwtKey> {
  if (secrets.jwtSigningJwk) return importJwtKey({ alg: 'EdDSA', key: secrets.jwtSigningJwk });
  const key = await generateSigningKey('EdDSA', { extractable: true });
  saveJwtSigningJwk(dataDir, (await exportSigningJwk(key)) as Record<string, unknown>);
  return key;
}

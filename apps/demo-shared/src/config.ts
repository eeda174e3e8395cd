import { join } from 'node:path';

/** Where the demo keeps its sessions and the login throttle's counters. */
export type DemoStoreKind = 'sqlite' | 'memory' | 'redis' | 'postgres';

export interface DemoConfig {
  port: number;
  /** Interface to listen on; loopback by default, where production cookies work over plain http. */
  host: string;
  /** Where the SQLite files live (users always; sessions with the `sqlite` store; the demo's generated keys). */
  dataDir: string;
  /**
   * `sqlite` (default, survives restarts), `memory`, `redis` (at `redisUrl`) or `postgres` (at
   * `databaseUrl`): the store of the sessions and of the login throttle's counters. The users
   * stay in SQLite under `dataDir` whatever the store.
   */
  store: DemoStoreKind;
  /** The Redis server of `SESSION_STORE=redis` (`REDIS_URL`, default `redis://127.0.0.1:6379`). */
  redisUrl: string;
  /** The PostgreSQL database of `SESSION_STORE=postgres` (`DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`). */
  databaseUrl: string;
  /**
   * What sets the demo's data apart on a shared server (`SESSION_STORE_NAMESPACE`, default
   * `session_demo`): the Redis key prefix (`session_demo:sess:`, `session_demo:throttle:`) and the
   * PostgreSQL schema, so the demo never reads or writes the test suites' keys and tables.
   */
  storeNamespace: string;
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  /** How recent a login must be for sensitive actions (change password, delete account). */
  reauthAfterMs: number;
}

const MINUTE = 60_000;

const STORES: readonly DemoStoreKind[] = ['sqlite', 'memory', 'redis', 'postgres'];

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
export const DEFAULT_STORE_NAMESPACE = 'session_demo';

/** `.data/` in the folder the demo was started from (`pnpm demo` starts it in its app's folder). */
export const defaultDataDir = join(process.cwd(), '.data');

/**
 * A configuration mistake the demo reports as one line naming the variable (no stack trace).
 */
export class DemoConfigError extends Error {
  override name = 'DemoConfigError';
}

/**
 * Reads the demo's settings from environment variables, with the library's `aal2` defaults
 * (idle 30 min, absolute 12 h). Shorten the timeouts to watch a session expire:
 * `IDLE_TIMEOUT_MS=60000 ABSOLUTE_TIMEOUT_MS=180000 pnpm demo`. Run it on Redis or PostgreSQL with
 * `SESSION_STORE=redis` (and `REDIS_URL`) or `SESSION_STORE=postgres` (and `DATABASE_URL`).
 *
 * @example
 * ```ts
 * const config = readConfig(process.env, { dataDir: '/tmp/demo' });
 * ```
 */
export function readConfig(env: Record<string, string | undefined>, overrides: Partial<DemoConfig> = {}): DemoConfig {
  const store = env.SESSION_STORE === undefined || env.SESSION_STORE === '' ? 'sqlite' : env.SESSION_STORE;
  if (!STORES.includes(store as DemoStoreKind)) {
    throw new DemoConfigError(
      `SESSION_STORE must be one of ${STORES.map((s) => `"${s}"`).join(', ')} (got ${JSON.stringify(store)})`,
    );
  }
  const config: DemoConfig = {
    port: integer(env, 'PORT', 3000, 0),
    host: env.HOST ?? '127.0.0.1',
    dataDir: env.DATA_DIR ?? defaultDataDir,
    store: store as DemoStoreKind,
    redisUrl: url(env, 'REDIS_URL', DEFAULT_REDIS_URL, ['redis:', 'rediss:']),
    databaseUrl: url(env, 'DATABASE_URL', DEFAULT_DATABASE_URL, ['postgres:', 'postgresql:']),
    storeNamespace: env.SESSION_STORE_NAMESPACE || DEFAULT_STORE_NAMESPACE,
    idleTimeoutMs: integer(env, 'IDLE_TIMEOUT_MS', 30 * MINUTE, 1000),
    absoluteTimeoutMs: integer(env, 'ABSOLUTE_TIMEOUT_MS', 12 * 60 * MINUTE, 1000),
    reauthAfterMs: integer(env, 'REAUTH_AFTER_MS', 5 * MINUTE, 1000),
    ...overrides,
  };
  // A PostgreSQL schema name and a Redis prefix both: plain lowercase identifiers only.
  if (!/^[a-z_][a-z0-9_]{0,47}$/.test(config.storeNamespace)) {
    throw new DemoConfigError('SESSION_STORE_NAMESPACE must be lowercase letters, digits and _ (at most 48)');
  }
  if (config.idleTimeoutMs > config.absoluteTimeoutMs) {
    throw new DemoConfigError('IDLE_TIMEOUT_MS must not exceed ABSOLUTE_TIMEOUT_MS');
  }
  return config;
}

/**
 * One line saying where the demo keeps what, for the startup banner: the session store (a URL
 * without its password) and the users, which stay in SQLite whatever the store.
 *
 * @example
 * ```ts
 * console.log(`  ${describeStorage(config)}`);
 * ```
 */
export function describeStorage(config: DemoConfig): string {
  const users = `users in SQLite in ${config.dataDir}`;
  switch (config.store) {
    case 'sqlite':
      return `store: sqlite (sessions and ${users})`;
    case 'memory':
      return `store: memory (sessions lost on restart; ${users})`;
    case 'redis':
      return `store: redis at ${redactUrl(config.redisUrl)}, keys under ${config.storeNamespace}: (${users})`;
    case 'postgres':
      return `store: postgres at ${redactUrl(config.databaseUrl)}, schema ${config.storeNamespace} (${users})`;
  }
}

/** A connection URL fit to print: its password replaced. */
export function redactUrl(raw: string): string {
  try {
    const parsed = new URL(raw);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

function integer(env: Record<string, string | undefined>, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw new DemoConfigError(`${name} must be an integer >= ${min}`);
  return value;
}

function url(env: Record<string, string | undefined>, name: string, fallback: string, protocols: string[]): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  let protocol: string;
  try {
    protocol = new URL(raw).protocol;
  } catch {
    throw new DemoConfigError(`${name} is not a URL`);
  }
  if (!protocols.includes(protocol)) {
    throw new DemoConfigError(`${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  }
  return raw;
}

/**
 * Ends a demo that could not start: one line on stderr (the variable to fix for a
 * {@link DemoConfigError}, the message otherwise) and exit code 1, with no stack trace.
 *
 * @example
 * ```ts
 * const demo = await startExpressDemo(readConfig(process.env)).catch(exitOnStartupError);
 * ```
 */
export function exitOnStartupError(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`demo: cannot start: ${message}`);
  process.exit(1);
}

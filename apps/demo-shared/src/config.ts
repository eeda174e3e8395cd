import { join } from 'node:path';

export interface DemoConfig {
  port: number;
  /** Interface to listen on; loopback by default, where production cookies work over plain http. */
  host: string;
  /** Where the SQLite files live (sessions, users, the demo's generated keys). */
  dataDir: string;
  /** `sqlite` (default, survives restarts) or `memory`. */
  store: 'sqlite' | 'memory';
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  /** How recent a login must be for sensitive actions (change password, delete account). */
  reauthAfterMs: number;
}

const MINUTE = 60_000;

/** `.data/` in the folder the demo was started from (`pnpm demo` starts it in its app's folder). */
export const defaultDataDir = join(process.cwd(), '.data');

/**
 * Reads the demo's settings from environment variables, with the library's `aal2` defaults
 * (idle 30 min, absolute 12 h). Shorten the timeouts to watch a session expire:
 * `IDLE_TIMEOUT_MS=60000 ABSOLUTE_TIMEOUT_MS=180000 pnpm demo`.
 *
 * @example
 * ```ts
 * const config = readConfig(process.env, { dataDir: '/tmp/demo' });
 * ```
 */
export function readConfig(env: Record<string, string | undefined>, overrides: Partial<DemoConfig> = {}): DemoConfig {
  const config: DemoConfig = {
    port: integer(env, 'PORT', 3000, 0),
    host: env.HOST ?? '127.0.0.1',
    dataDir: env.DATA_DIR ?? defaultDataDir,
    store: env.SESSION_STORE === 'memory' ? 'memory' : 'sqlite',
    idleTimeoutMs: integer(env, 'IDLE_TIMEOUT_MS', 30 * MINUTE, 1000),
    absoluteTimeoutMs: integer(env, 'ABSOLUTE_TIMEOUT_MS', 12 * 60 * MINUTE, 1000),
    reauthAfterMs: integer(env, 'REAUTH_AFTER_MS', 5 * MINUTE, 1000),
    ...overrides,
  };
  if (env.SESSION_STORE !== undefined && env.SESSION_STORE !== 'memory' && env.SESSION_STORE !== 'sqlite') {
    throw new Error('SESSION_STORE must be "sqlite" or "memory"');
  }
  if (config.idleTimeoutMs > config.absoluteTimeoutMs) {
    throw new Error('IDLE_TIMEOUT_MS must not exceed ABSOLUTE_TIMEOUT_MS');
  }
  return config;
}

function integer(env: Record<string, string | undefined>, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}`);
  return value;
}

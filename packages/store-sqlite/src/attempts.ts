import {
  type AttemptCounter,
  type AttemptState,
  type AttemptVerdict,
  nextAttemptState,
  type ThrottleRule,
} from '@org/session-core/throttle';
import type Database from 'better-sqlite3';

export interface SqliteAttemptCounterOptions {
  /** An open better-sqlite3 database (the session store's file is fine). */
  database: Database.Database;
  /** Table of the counters; created when missing. Default `session_attempts`. */
  table?: string;
}

/**
 * Login-throttle counters in SQLite: one row per (hashed) key. Each attempt reads, decides and
 * writes in one `BEGIN IMMEDIATE` transaction, so processes sharing the file never let more
 * attempts through than the rule allows.
 *
 * @example
 * ```ts
 * const throttle = createLoginThrottle({ counter: new SqliteAttemptCounter({ database }), key })
 * ```
 */
export class SqliteAttemptCounter implements AttemptCounter {
  readonly #step: (key: string, rule: ThrottleRule, now: number) => AttemptVerdict;
  readonly #reset: Database.Statement<[string]>;

  constructor(options: SqliteAttemptCounterOptions) {
    const table = options.table ?? 'session_attempts';
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(table)) throw new TypeError('table must be a plain SQL identifier');
    const db = options.database;
    db.exec(
      `CREATE TABLE IF NOT EXISTS "${table}" (key TEXT PRIMARY KEY, count INTEGER NOT NULL, locked_until INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID`,
    );
    const read = db.prepare<[string], { count: number; locked_until: number; expires_at: number }>(
      `SELECT count, locked_until, expires_at FROM "${table}" WHERE key = ?`,
    );
    const write = db.prepare<[string, number, number, number]>(
      `INSERT INTO "${table}" (key, count, locked_until, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET count = excluded.count, locked_until = excluded.locked_until, expires_at = excluded.expires_at`,
    );
    // Expired rows go a few at a time on each write, so the table stays bounded without a sweeper.
    const prune = db.prepare<[number]>(
      `DELETE FROM "${table}" WHERE key IN (SELECT key FROM "${table}" WHERE expires_at <= ? LIMIT 16)`,
    );
    this.#reset = db.prepare<[string]>(`DELETE FROM "${table}" WHERE key = ?`);
    const step = db.transaction((key: string, rule: ThrottleRule, now: number): AttemptVerdict => {
      const row = read.get(key);
      const current: AttemptState | null = row
        ? { count: row.count, lockedUntil: row.locked_until, expiresAt: row.expires_at }
        : null;
      const { state, verdict } = nextAttemptState(current, rule, now);
      if (state !== current) write.run(key, state.count, state.lockedUntil, state.expiresAt);
      prune.run(now);
      return verdict;
    });
    this.#step = (key, rule, now) => step.immediate(key, rule, now);
  }

  async attempt(key: string, rule: ThrottleRule, now: number): Promise<AttemptVerdict> {
    return this.#step(key, rule, now);
  }

  async reset(key: string): Promise<void> {
    this.#reset.run(key);
  }
}

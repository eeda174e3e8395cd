import {
  type AttemptCounter,
  type AttemptVerdict,
  nextAttemptState,
  type ThrottleRule,
} from '@org/session-core/throttle';
import { adapterFor, type PostgresClient, type QueryAdapter } from './client.js';

export interface PostgresAttemptCounterOptions {
  /**
   * The client the counter queries, required: a `pg` Pool or a `postgres` (porsager) client 3.4
   * or later. The counter never ends it (the app owns it).
   */
  pool: PostgresClient;
  /** Schema of the counters table. Default `public`. */
  schema?: string;
  /** Table of the counters. Default `session_attempts`. */
  table?: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Login-throttle counters in PostgreSQL: one row per (hashed) key. An attempt upserts the row and
 * locks it (`FOR UPDATE`) in one transaction, decides with core's arithmetic and writes the
 * result, so instances sharing the database never let more attempts through than the rule
 * allows. Call `migrate()` once to create the table.
 *
 * @example
 * ```ts
 * const counter = new PostgresAttemptCounter({ pool })
 * await counter.migrate()
 * const throttle = createLoginThrottle({ counter, key })
 * ```
 */
export class PostgresAttemptCounter implements AttemptCounter {
  readonly #db: QueryAdapter;
  readonly #table: string;

  constructor(options: PostgresAttemptCounterOptions) {
    const schema = options.schema ?? 'public';
    const table = options.table ?? 'session_attempts';
    if (!IDENTIFIER.test(schema) || !IDENTIFIER.test(table)) {
      throw new TypeError('schema and table must be plain SQL identifiers');
    }
    this.#db = adapterFor(options?.pool, 'pool');
    this.#table = `"${schema}"."${table}"`;
  }

  /** Creates the table when missing (idempotent). */
  async migrate(): Promise<void> {
    await this.#db.query(
      `CREATE TABLE IF NOT EXISTS ${this.#table} (key text PRIMARY KEY, count integer NOT NULL, locked_until bigint NOT NULL, expires_at bigint NOT NULL)`,
      [],
    );
  }

  async attempt(key: string, rule: ThrottleRule, now: number): Promise<AttemptVerdict> {
    const client = await this.#db.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      // The upsert creates a missing row (empty, already expired) and RETURNING reads it under a row lock.
      const { rows } = await client.query<{ count: number; locked_until: string; expires_at: string }>(
        `INSERT INTO ${this.#table} (key, count, locked_until, expires_at) VALUES ($1, 0, 0, 0)
         ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key
         RETURNING count, locked_until, expires_at`,
        [key],
      );
      const row = rows[0] as { count: number; locked_until: string; expires_at: string };
      const current = { count: row.count, lockedUntil: Number(row.locked_until), expiresAt: Number(row.expires_at) };
      const { state, verdict } = nextAttemptState(current, rule, now);
      if (state !== current) {
        await client.query(`UPDATE ${this.#table} SET count = $2, locked_until = $3, expires_at = $4 WHERE key = $1`, [
          key,
          state.count,
          state.lockedUntil,
          state.expiresAt,
        ]);
      }
      // Expired rows go a few at a time, so the table stays bounded without a sweeper.
      await client.query(
        `DELETE FROM ${this.#table} WHERE key IN (SELECT key FROM ${this.#table} WHERE expires_at <= $1 AND expires_at > 0 LIMIT 16 FOR UPDATE SKIP LOCKED)`,
        [now],
      );
      await client.query('COMMIT');
      return verdict;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      await client.release(broken);
    }
  }

  async reset(key: string): Promise<void> {
    await this.#db.query(`DELETE FROM ${this.#table} WHERE key = $1`, [key]);
  }
}

import { SessionError } from '@org/session-core';
import type { Pool, PoolClient } from 'pg';

/**
 * The part of a `postgres` (porsager) client the store uses, written out so that the package
 * needs `postgres` only when you pass one: `postgres(url)` fits it as it is. Version 3.4 or later
 * (it needs `reserve()`).
 */
export interface PostgresJsClient {
  unsafe(
    query: string,
    parameters?: unknown[],
    options?: { prepare?: boolean },
  ): PromiseLike<ArrayLike<unknown> & { count?: number | null }>;
  reserve(): PromiseLike<PostgresJsReserved>;
  end(options?: { timeout?: number }): PromiseLike<void>;
}

/** One connection of a `postgres` client, taken out of its pool by `reserve()`. */
export interface PostgresJsReserved {
  unsafe(
    query: string,
    parameters?: unknown[],
    options?: { prepare?: boolean },
  ): PromiseLike<ArrayLike<unknown> & { count?: number | null }>;
  release(): void;
}

/** A client the store, the attempt counter and the revocation channel accept. */
export type PostgresClient = Pool | PostgresJsClient;

/** What a statement answered, whatever the driver. */
export interface Answer<R = Record<string, unknown>> {
  rows: R[];
  rowCount: number;
}

/** One connection of its own, for what must share a session: a transaction, an advisory lock. */
export interface Connection {
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<Answer<R>>;
  /**
   * Gives the connection back. `broken`: it failed part-way and may still hold a lock or an open
   * transaction; `pg` then destroys it, a `postgres` connection is rolled back and unlocked first.
   */
  release(broken: boolean): Promise<void>;
}

/**
 * The store's one SQL path over either driver: statements with numbered parameters (`$1`, ...)
 * and an array of values, answered as rows and a row count. Each driver's own type parsing is
 * kept (both return bigint columns as strings, jsonb parsed, booleans as booleans), and the store
 * reads rows through the same codec for both.
 */
export interface QueryAdapter {
  readonly kind: 'pg' | 'postgres';
  /** One statement on any pooled connection; `name` asks for a named prepared statement. */
  query<R = Record<string, unknown>>(text: string, values: unknown[], name?: string): Promise<Answer<R>>;
  connect(): Promise<Connection>;
  end(): Promise<void>;
}

function isPgPool(value: object): value is Pool {
  const candidate = value as Partial<Pool>;
  return (
    typeof candidate.query === 'function' &&
    typeof candidate.connect === 'function' &&
    typeof candidate.end === 'function' &&
    typeof (value as { totalCount?: unknown }).totalCount === 'number'
  );
}

function isPostgresJs(value: unknown): value is PostgresJsClient {
  // A `postgres` client is a tagged-template function with methods.
  return typeof value === 'function' && typeof (value as Partial<PostgresJsClient>).unsafe === 'function';
}

/**
 * The adapter for `client`, a `pg` Pool or a `postgres` client, by what it has (two copies of a
 * driver in one app still work). Anything else is `CONFIG_INVALID`, naming `label`.
 */
export function adapterFor(client: unknown, label: string): QueryAdapter {
  if (isPostgresJs(client)) {
    if (typeof client.reserve !== 'function') {
      throw new SessionError('CONFIG_INVALID', `${label}: the postgres client must be version 3.4 or later`);
    }
    return postgresJsAdapter(client);
  }
  if (typeof client === 'object' && client !== null && isPgPool(client)) return pgAdapter(client);
  throw new SessionError('CONFIG_INVALID', `${label} must be a pg Pool or a postgres client`);
}

export function pgAdapter(pool: Pool): QueryAdapter {
  return {
    kind: 'pg',
    async query<R>(text: string, values: unknown[], name?: string) {
      const result = await pool.query(name === undefined ? { text, values } : { name, text, values });
      return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
    },
    async connect() {
      const client: PoolClient = await pool.connect();
      // A connection that dies while held is reported here; without a listener Node would crash.
      const ignore = () => {};
      client.on('error', ignore);
      return {
        async query<R>(text: string, values?: unknown[]) {
          const result = await client.query(text, values);
          return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
        },
        async release(broken: boolean) {
          client.off('error', ignore);
          // Destroying a connection ends its transaction and releases its session locks.
          client.release(broken);
        },
      };
    },
    end: () => pool.end(),
  };
}

function postgresJsAdapter(sql: PostgresJsClient): QueryAdapter {
  const answer = <R>(result: ArrayLike<unknown> & { count?: number | null }): Answer<R> => ({
    rows: Array.from(result) as R[],
    rowCount: result.count ?? 0,
  });
  return {
    kind: 'postgres',
    async query<R>(text: string, values: unknown[], name?: string) {
      // postgres names and caches its prepared statements itself; `name` only asks for one.
      return answer<R>(await sql.unsafe(text, values, { prepare: name !== undefined }));
    },
    async connect() {
      const reserved = await sql.reserve();
      return {
        async query<R>(text: string, values: unknown[] = []) {
          return answer<R>(await reserved.unsafe(text, values));
        },
        async release(broken: boolean) {
          // postgres cannot destroy a reserved connection: end what it may hold, then give it back.
          if (broken) {
            await Promise.resolve(reserved.unsafe('ROLLBACK')).catch(() => {});
            await Promise.resolve(reserved.unsafe('SELECT pg_advisory_unlock_all()')).catch(() => {});
          }
          reserved.release();
        },
      };
    },
    end: async () => {
      await sql.end({ timeout: 5 });
    },
  };
}

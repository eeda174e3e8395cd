/**
 * The part of Cloudflare's `D1Database` binding the store uses, written out so that the package
 * needs no `@cloudflare/workers-types`: the `env.DB` of a Worker (or miniflare's
 * `getD1Database()`) fits it as it is.
 */
export interface D1DatabaseLike {
  prepare(query: string): D1StatementLike;
  /** Runs the statements in order as one transaction: all of them commit, or none does. */
  batch(statements: D1StatementLike[]): Promise<D1ResultLike[]>;
}

export interface D1StatementLike {
  bind(...values: unknown[]): D1StatementLike;
  all(): Promise<D1ResultLike>;
  run(): Promise<D1ResultLike>;
}

export interface D1ResultLike {
  results?: unknown[];
  meta: { changes?: number };
}

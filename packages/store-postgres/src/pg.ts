import { createRequire } from 'node:module';
import { SessionError } from '@org/session-core';
import type * as Pg from 'pg';

let pg: typeof Pg | undefined;

/**
 * The `pg` package, loaded the first time the store opens a connection of its own (a pool from a
 * connection string, or a revocation listener). Not imported at load, so an app that passes only a
 * `postgres` (porsager) client needs no `pg` installed. `pg` is CommonJS: `require` gives the same
 * module an app's own `import pg from 'pg'` does.
 */
export function loadPg(needs: string): typeof Pg {
  if (pg) return pg;
  try {
    pg = createRequire(import.meta.url)('pg') as typeof Pg;
  } catch (cause) {
    throw new SessionError(
      'CONFIG_INVALID',
      `${needs} needs the pg package (npm install pg), or pass a postgres client as pool`,
      { reason: 'pg_missing', cause },
    );
  }
  return pg;
}

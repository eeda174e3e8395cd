import { randomBytes } from 'node:crypto';
import { createServer, type Server, Socket } from 'node:net';
import pg from 'pg';
import postgres from 'postgres';

/** The database the tests use: `test` on the local server, user postgres, trust auth. */
export const PG_URL = process.env.SESSION_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function probe(): Promise<string | null> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Whether PostgreSQL is reachable. Under CI=true an unreachable server fails the test file (thrown
 * at import); elsewhere the suites are skipped with a message saying why.
 */
export async function postgresAvailable(): Promise<boolean> {
  const failure = await probe();
  if (failure === null) return true;
  if (process.env.CI === 'true') {
    throw new Error(`PostgreSQL at ${PG_URL} is required under CI=true but is unreachable: ${failure}`);
  }
  console.warn(`Skipping PostgreSQL store tests: ${PG_URL} is unreachable (${failure}). Start PostgreSQL to run them.`);
  return false;
}

/** A fresh schema name per test file, dropped by {@link dropSchema}. */
export function freshSchema(label: string): string {
  return `test_${label}_${randomBytes(5).toString('hex')}`;
}

/** A pool the test owns, for admin queries and raw dumps. */
export function adminPool(): pg.Pool {
  const pool = new pg.Pool({ connectionString: PG_URL, max: 3 });
  pool.on('error', () => {});
  return pool;
}

export async function dropSchema(pool: pg.Pool, schema: string): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/** A loopback port nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A TCP server that accepts connections and never answers: a frozen database server. */
export async function blackhole(): Promise<{ port: number; accepted(): number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    accepted: () => accepted,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A TCP relay on a loopback port in front of the real server. Stopping it cuts every connection
 * and refuses new ones, as a server that went away does; starting it again on the same port is the
 * server coming back.
 */
export class TcpRelay {
  port = 0;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<void> {
    const server = createServer((inbound) => {
      const outbound = new Socket();
      for (const socket of [inbound, outbound]) {
        this.sockets.add(socket);
        socket.on('error', () => {
          inbound.destroy();
          outbound.destroy();
        });
        socket.on('close', () => {
          this.sockets.delete(socket);
          inbound.destroy();
          outbound.destroy();
        });
      }
      outbound.connect(this.targetPort, this.targetHost);
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** One statement a pool sent, as {@link observedPool} saw it: its text, values and how many rows it returned. */
export interface ObservedStatement {
  text: string;
  values: unknown[];
  rows: number;
}

/**
 * A real pool that records every statement sent through `pool.query` (the only way the store
 * queries outside `migrate()`) and the rows it returned. Nothing is faked: each statement runs on
 * the server as usual.
 */
export function observedPool(config: pg.PoolConfig): { pool: pg.Pool; statements: ObservedStatement[] } {
  const pool = new pg.Pool(config);
  pool.on('error', () => {});
  const statements: ObservedStatement[] = [];
  const query = pool.query.bind(pool) as (config: pg.QueryConfig) => Promise<pg.QueryResult>;
  pool.query = ((config: pg.QueryConfig) =>
    query(config).then((result) => {
      statements.push({ text: config.text, values: config.values ?? [], rows: result.rows.length });
      return result;
    })) as typeof pool.query;
  return { pool, statements };
}

/**
 * A real `postgres` (porsager) client that records every statement the store sends through
 * `unsafe` (its only way in outside `migrate()` and sweeps). Each one runs on the server as usual.
 */
export function observedPostgresJs(url: string): { sql: postgres.Sql; statements: ObservedStatement[] } {
  const sql = postgres(url, { max: 4, onnotice: () => {} });
  const statements: ObservedStatement[] = [];
  const unsafe = sql.unsafe.bind(sql);
  // The store awaits what unsafe returns: a plain promise of the same rows (with their count) does.
  sql.unsafe = ((text: string, values?: unknown[], options?: postgres.UnsafeQueryOptions) =>
    unsafe(text, values as never, options).then((rows) => {
      statements.push({ text, values: values ?? [], rows: rows.length });
      return rows;
    })) as unknown as typeof sql.unsafe;
  return { sql, statements };
}

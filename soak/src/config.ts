/** How one soak server child reaches its store. */
export type StoreTarget =
  | { kind: 'redis'; url: string; prefix: string }
  | { kind: 'redis-cluster'; nodes: { host: string; port: number }[]; prefix: string }
  | { kind: 'postgres'; url: string; schema: string; appName: string }
  | { kind: 'sqlite'; path: string };

/** The frameworks a soak server runs on (Hono on @hono/node-server). */
export type Adapter = 'express' | 'fastify' | 'hono';

/** What the orchestrator hands each server child (JSON in SOAK_SERVER_CONFIG). */
export interface ServerConfig {
  adapter: Adapter;
  store: StoreTarget;
  /** 32 bytes, base64url: the HS256 key of the session JWTs, the same on every instance. */
  jwtKey: string;
  /** 32 bytes, base64url: the refresh-token secret, the same on every instance. */
  refreshSecret: string;
  /** Grace window of refresh duplicates, ms. */
  graceMs: number;
  /** Lifetime of the hybrid session JWT, s. */
  jwtTtlSeconds: number;
  /** Clock tolerance of the session JWT, s. */
  jwtToleranceSeconds: number;
}

export const SERVER_CONFIG_ENV = 'SOAK_SERVER_CONFIG';

// The Hono demo as a Cloudflare Worker: the same app as on Node, with sessions in D1
// (@org/session-store-d1) and users in D1 (worker-users.ts). Bundled with esbuild and served by
// workerd through miniflare (worker-dev.ts, `pnpm --filter demo-hono start:worker`); a
// `wrangler deploy` of this file with a D1 binding `DB` and the secrets below works the same way.
import { createSessionManager } from '@org/session-core';
import { keyedIdHash } from '@org/session-core/adapter';
import { createJwtKeySet, createSessionJwt, importJwtKey } from '@org/session-core/jwt';
import type { SessionEnv } from '@org/session-hono';
import { type D1DatabaseLike, D1Store } from '@org/session-store-d1';
import { JWT_AUDIENCE, JWT_TTL_SECONDS } from 'demo-shared/web';
import type { Hono } from 'hono';
import { createHonoDemo } from './app.js';
import { D1Users } from './worker-users.js';

export interface WorkerEnv {
  DB: D1DatabaseLike;
  /** Origins browsers reach the demo at, comma-separated; the first is the JWT issuer. */
  ORIGINS: string;
  /** 32 random bytes each, base64url (secrets in production: `wrangler secret put`). */
  CSRF_KEY: string;
  LOG_KEY: string;
  /** The Ed25519 signing key as a private JWK (JSON). */
  JWT_SIGNING_JWK: string;
  IDLE_TIMEOUT_MS?: string;
  ABSOLUTE_TIMEOUT_MS?: string;
  REAUTH_AFTER_MS?: string;
}

const MINUTE = 60_000;

const bytes = (text: string) =>
  Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
const integer = (value: string | undefined, fallback: number) => {
  const parsed = value === undefined || value === '' ? fallback : Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1000) throw new Error('timeouts must be integers >= 1000 (ms)');
  return parsed;
};

/** Builds the app once per isolate: bindings arrive with the first request. */
async function build(env: WorkerEnv): Promise<Hono<SessionEnv>> {
  const origins = env.ORIGINS.split(',').map((origin) => origin.trim());
  const logKey = bytes(env.LOG_KEY);
  const store = new D1Store({ database: env.DB });
  const users = new D1Users(env.DB);
  await Promise.all([store.migrate(), users.migrate()]);
  const clock = { now: () => Date.now() };
  const reauthAfterMs = integer(env.REAUTH_AFTER_MS, 5 * MINUTE);
  const manager = createSessionManager({
    store,
    policy: {
      idleTimeoutMs: integer(env.IDLE_TIMEOUT_MS, 30 * MINUTE),
      absoluteTimeoutMs: integer(env.ABSOLUTE_TIMEOUT_MS, 12 * 60 * MINUTE),
    },
    mode: 'production',
    clock,
    logKey,
  });
  const signingKey = await importJwtKey({ alg: 'EdDSA', key: JSON.parse(env.JWT_SIGNING_JWK) });
  const jwts = createSessionJwt({
    manager,
    keys: createJwtKeySet({ active: signingKey }),
    issuer: origins[0] as string,
    audience: JWT_AUDIENCE,
    ttlSeconds: JWT_TTL_SECONDS,
  });
  return createHonoDemo(
    {
      origin: origins[0] as string,
      manager,
      // The same handle as on Node: HMAC-SHA256(logKey, id), as in the library's events.
      sessionHandle: (id) => keyedIdHash(logKey, id),
      csrfOptions: { key: bytes(env.CSRF_KEY), allowedOrigins: origins },
      jwts,
      users,
      clock,
      expiryPolicy: {
        idleTimeoutMs: manager.policy.idleTimeoutMs,
        absoluteTimeoutMs: manager.policy.absoluteTimeoutMs,
        touchIntervalMs: manager.policy.touchIntervalMs,
        reauthAfterMs,
      },
    },
    // workerd reports no peer address; only a loopback Host may use plain http (local development).
    { trustLoopbackHost: true },
  );
}

let app: Promise<Hono<SessionEnv>> | undefined;

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: unknown): Promise<Response> {
    app ??= build(env).catch((error: unknown) => {
      app = undefined; // the next request tries again
      throw error;
    });
    return (await app).fetch(request, env, ctx as never);
  },
};

import { randomBytes } from 'node:crypto';
import { generateApiKey, hashApiKey } from '@org/session-auth-api';
import type { RevocationEvent } from '@org/session-core';
import { exportSigningJwk, generateSigningKey } from '@org/session-core/jwt';
import { createSidecar } from '@org/session-sidecar';
import { hashPassword } from 'demo-shared/passwords';
import { type AuthService, type PrivateJwk, startAuthService } from './auth-service.js';
import { type Downstream, startDownstream } from './downstream.js';
import type { RunningService } from './http.js';
import { startLegacy } from './legacy.js';
import { findNginx, freePort, NGINX_MISSING, type RunningNginx, startNginx } from './nginx.js';

export const ISSUER = 'http://auth.microservices.local';
export const DEMO_PASSWORD = 'correct horse battery staple';

export interface StackOptions {
  /** Default `REDIS_URL` or redis://127.0.0.1:6379. */
  redisUrl?: string;
  /** Key prefix and channel namespace in Redis (default: a fresh one per start). */
  prefix?: string;
  /** nginx's loopback port (default: a free one). */
  port?: number;
  /** Session JWT lifetime (default 300 s). The tests inject a short one. */
  ttlSeconds?: number;
  /** Downstream JWKS refetch cooldown (default 1000 ms); key rotation waits it out. */
  jwksCooldownMs?: number;
  /** Revocation channel events of the subscribed services, for logs. */
  onEvent?: (service: string, event: RevocationEvent) => void;
}

export interface Stack {
  /** nginx: the one address clients use. */
  url: string;
  authA: AuthService;
  authB: AuthService;
  orders: Downstream;
  billing: Downstream;
  reports: RunningService;
  sidecar: { url: string };
  redisUrl: string;
  prefix: string;
  channel: string;
  /** The `ops` caller's credentials for the session API (`Authorization: Basic`). */
  apiCaller: { id: string; key: string };
  ttlSeconds: number;
  /**
   * Rotates the signing key on both auth instances while traffic flows: publish the next key on
   * both, wait until every verifier may refetch the JWKS for an unknown `kid`, make it sign on both,
   * and (unless `retire: false`) retire the old one once every JWT it signed has expired.
   */
  rotateKeys(options?: { retire?: boolean }): Promise<{ from: string; to: string }>;
  stop(): Promise<void>;
}

async function newKey(): Promise<PrivateJwk> {
  const key = await generateSigningKey('ES256', { extractable: true });
  return { ...(await exportSigningJwk(key)), kid: key.kid } as PrivateJwk;
}

/**
 * Starts everything on loopback: two auth instances on one Redis, the sidecar (store mode, the
 * same Redis), the two JWT services (subscribed to revocations) and the header-only service, then
 * nginx in front. Throws with the install hint when nginx is missing.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const nginxBinary = findNginx();
  if (!nginxBinary) throw new Error(NGINX_MISSING);
  const redisUrl = options.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = options.prefix ?? `ms:${randomBytes(4).toString('hex')}:`;
  const channel = `${prefix}revocations`;
  const ttlSeconds = options.ttlSeconds ?? 300;
  const jwksCooldownMs = options.jwksCooldownMs ?? 1000;
  const adminToken = randomBytes(32).toString('base64url');
  const apiCaller = { id: 'ops', key: generateApiKey() };
  const apiCallers = [{ id: apiCaller.id, keyHash: await hashApiKey(apiCaller.key) }];
  const audience = ['orders', 'billing'];
  const users = new Map([
    ['alice', await hashPassword(DEMO_PASSWORD)],
    ['bob', await hashPassword(DEMO_PASSWORD)],
  ]);
  const started: { close(): Promise<void> }[] = [];
  let nginx: RunningNginx | null = null;
  const stop = async () => {
    await nginx?.stop();
    for (const service of started.reverse()) await service.close().catch(() => {});
  };

  try {
    const firstKey = await newKey();
    const common = { redisUrl, prefix, channel, issuer: ISSUER, audience, ttlSeconds, users, adminToken, apiCallers };
    const authA = await startAuthService({ ...common, name: 'auth-a', keys: [firstKey] });
    started.push(authA);
    const authB = await startAuthService({ ...common, name: 'auth-b', keys: [firstKey] });
    started.push(authB);
    const sidecar = await createSidecar({
      mode: 'store',
      store: { type: 'redis', url: redisUrl, prefix },
      cookieMode: 'development',
      cookieName: 'sid',
      identity: { sessionId: 'id' },
    });
    const sidecarAddress = await sidecar.listen(0, '127.0.0.1');
    started.push(sidecar);
    const port = options.port ?? (await freePort());
    const url = `http://127.0.0.1:${port}`;
    const downstream = (name: string) =>
      startDownstream({
        name,
        issuer: ISSUER,
        jwksUrl: `${url}/.well-known/jwks.json`,
        jwksCooldownMs,
        ttlSeconds,
        revocation: { redisUrl, channel },
        onEvent: (event) => options.onEvent?.(name, event),
      });
    const orders = await downstream('orders');
    started.push(orders);
    const billing = await downstream('billing');
    started.push(billing);
    const reports = await startLegacy('reports');
    started.push(reports);
    nginx = await startNginx(nginxBinary, {
      nginx: port,
      authA: authA.port,
      authB: authB.port,
      orders: orders.port,
      billing: billing.port,
      reports: reports.port,
      sidecar: sidecarAddress.port,
    });
    await Promise.all([orders.revocations?.ready(), billing.revocations?.ready()]);

    const admin = async (service: AuthService, body: Record<string, unknown>) => {
      const answer = await fetch(`${service.url}/admin/keys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-admin-token': adminToken },
        body: JSON.stringify(body),
      });
      if (answer.status !== 200) throw new Error(`key rotation on ${service.name}: ${answer.status}`);
    };
    const both = (body: Record<string, unknown>) => Promise.all([admin(authA, body), admin(authB, body)]);
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

    return {
      url,
      authA,
      authB,
      orders,
      billing,
      reports,
      sidecar: { url: sidecarAddress.url },
      redisUrl,
      prefix,
      channel,
      apiCaller,
      ttlSeconds,
      async rotateKeys(rotation = {}) {
        const from = authA.keys.active.kid;
        const next = await newKey();
        await both({ stage: 'publish', jwk: next });
        await sleep(jwksCooldownMs + 250);
        await both({ stage: 'activate', kid: next.kid });
        if (rotation.retire !== false) {
          await sleep(ttlSeconds * 1000 + 250);
          await both({ stage: 'retire', kid: from });
        }
        return { from, to: next.kid };
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createNetServer } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { createSessionManager, MemoryStore, type SessionData, type SessionStore } from '@org/session-core';
import {
  createJwtKeySet,
  createSessionAuthority,
  createSessionJwt,
  generateSigningKey,
  type SessionAuthority,
} from '@org/session-core/jwt';
import { createTestClock, randomString, type TestClock } from '@org/session-core/testing';
import { RedisStore } from '@org/session-store-redis';
import express from 'express';
import { Hono } from 'hono';
import { createSessionApi, generateApiKey, hashApiKey, type SessionApi, type SessionApiOptions } from '../src/index.js';
import { toNodeHandler } from '../src/node.js';

export const inCI = process.env.CI === 'true';
export const REDIS_URL = `redis://127.0.0.1:${Number(process.env.REDIS_PORT ?? 6379)}`;

/** Whether something answers on a loopback TCP port. */
export function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createNetServer();
    socket.once('error', () => resolve(true));
    socket.listen(port, '127.0.0.1', () => socket.close(() => resolve(false)));
  });
}

/** A loopback port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export type StoreKind = 'memory' | 'redis';
export type Mount = 'node' | 'express' | 'hono';

export interface Fixture {
  clock: TestClock;
  authority: SessionAuthority<SessionData, Record<string, never>>;
  api: SessionApi;
  /** Base URL of the API on loopback, mount path included. */
  url: string;
  /** `Authorization: Basic` of the one caller, `orders`. */
  auth: string;
  login(userId?: string): Promise<{ token: string; sessionId: string }>;
  close(): Promise<void>;
}

export async function openStore(kind: StoreKind): Promise<SessionStore> {
  if (kind === 'memory') return new MemoryStore();
  return new RedisStore({ url: REDIS_URL, prefix: `test:auth-api:${randomString(6)}:` });
}

/** An auth service on loopback: manager, session JWTs, authority, and the API mounted as asked. */
export async function startApi(
  kind: StoreKind,
  mount: Mount,
  extra: Partial<SessionApiOptions<SessionData, Record<string, never>>> & {
    store?: SessionStore;
    exchangeWindowSeconds?: number;
  } = {},
): Promise<Fixture> {
  const clock = createTestClock(Date.now());
  const store = extra.store ?? (await openStore(kind));
  const manager = createSessionManager({ store, clock, maxSessionsPerUser: null });
  const jwt = createSessionJwt({
    manager,
    keys: createJwtKeySet({ active: await generateSigningKey('ES256') }),
    issuer: 'https://auth.test',
    audience: 'services',
  });
  const authority = createSessionAuthority({ jwt, exchangeWindowSeconds: extra.exchangeWindowSeconds });
  const key = generateApiKey();
  const basePath = mount === 'node' ? '' : '/auth';
  const api = createSessionApi({
    authority,
    callers: [{ id: 'orders', keyHash: await hashApiKey(key) }],
    basePath,
    clock,
    ...extra,
  });
  let server: Server;
  if (mount === 'node') {
    server = createServer(toNodeHandler(api));
  } else if (mount === 'express') {
    const app = express();
    // The prefix stays in req.originalUrl only: the API is mounted with basePath '' below it.
    const mounted = createSessionApi({
      authority,
      callers: [{ id: 'orders', keyHash: await hashApiKey(key) }],
      clock,
      ...extra,
      basePath: '',
    });
    app.use('/auth', toNodeHandler(mounted));
    server = createServer(app);
  } else {
    const app = new Hono();
    app.all('/auth/*', (c) => api.fetch(c.req.raw));
    server = createAdaptorServer({ fetch: app.fetch }) as Server;
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    clock,
    authority,
    api,
    url: `http://127.0.0.1:${port}${basePath}`,
    auth: `Basic ${btoa(`orders:${key}`)}`,
    async login(userId = 'user-1') {
      const issued = await manager.create({ userId, metadata: { userAgent: 'test-agent', ip: '127.0.0.1' } });
      return { token: issued.token, sessionId: issued.session.id };
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (kind === 'redis' && store instanceof RedisStore) await store.deleteAll().catch(() => 0);
      await manager.close();
    },
  };
}

/** A JSON POST to the API with the caller's credentials. */
export async function post(
  fixture: Pick<Fixture, 'url' | 'auth'>,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const response = await fetch(`${fixture.url}${path}`, {
    method: 'POST',
    headers: { authorization: fixture.auth, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  return { status: response.status, headers: response.headers, json: await response.json() };
}

export async function get(
  fixture: Pick<Fixture, 'url' | 'auth'>,
  path: string,
  headers: Record<string, string> = { authorization: fixture.auth },
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const response = await fetch(`${fixture.url}${path}`, { headers, signal: AbortSignal.timeout(5000) });
  return { status: response.status, headers: response.headers, json: await response.json() };
}

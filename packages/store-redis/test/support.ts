import {
  createSessionManager,
  isSessionError,
  type RevocationChannel,
  type RevocationEvent,
  type SessionManager,
  type SessionStore,
} from '@org/session-core';
import {
  createJwtKeySet,
  createJwtVerifier,
  createRevocationList,
  createSessionJwt,
  generateSigningKey,
  type JwtVerifier,
  type RevocationList,
  type SessionJwt,
} from '@org/session-core/jwt';
import { randomString } from '@org/session-core/testing';
import { Cluster, Redis } from 'ioredis';
import { Cluster as Cluster6, Redis as Redis6 } from 'ioredis6';
import { createClient, createCluster } from 'redis';
import { inject } from 'vitest';
import type { AnyRedisClient } from '../src/index.js';
import { hasRedisServer, inCI, ping } from './servers.js';

export const LOCAL_PORT = Number(process.env.REDIS_PORT ?? 6379);
export const LOCAL_URL = `redis://127.0.0.1:${LOCAL_PORT}`;

/** A service the tests need, and why it is missing when it is. */
export interface Service {
  name: string;
  missing: string | null;
}

export async function localRedis(): Promise<Service> {
  const up = await ping(LOCAL_PORT);
  return { name: `Redis at 127.0.0.1:${LOCAL_PORT}`, missing: up ? null : 'it does not answer PING' };
}

export function redisBinary(): Service {
  return { name: 'redis-server binary', missing: hasRedisServer() ? null : 'it is not on PATH' };
}

export function redisCluster(): Service & { nodes: { host: string; port: number }[] } {
  const info = inject('redisCluster');
  if ('nodes' in info) return { name: 'Redis Cluster', missing: null, nodes: info.nodes };
  return { name: 'Redis Cluster', missing: info.unavailable, nodes: [] };
}

/**
 * Whether to skip a suite for want of `services`. Never under CI=true: there the suite runs and
 * {@link assertServices} fails it with the reason.
 */
export function skipWithout(...services: Service[]): boolean {
  const missing = services.filter((s) => s.missing !== null);
  if (missing.length === 0 || inCI) return false;
  for (const s of missing)
    console.warn(`[store-redis] skipping: ${s.name} unavailable (${s.missing}); CI=true fails instead`);
  return true;
}

/** Throws (in beforeAll) when a service is missing: how CI=true turns absence into failure. */
export function assertServices(...services: Service[]): void {
  const missing = services.filter((s) => s.missing !== null);
  if (missing.length > 0) {
    throw new Error(`Required services unavailable: ${missing.map((s) => `${s.name} (${s.missing})`).join('; ')}`);
  }
}

/** A key prefix no other test run shares, so dumps and clean-ups see only this run's keys. */
export function uniquePrefix(label: string): string {
  return `test:${label}:${randomString(6)}:`;
}

function masters(client: Redis | Cluster): Redis[] {
  return client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
}

/** Every key under `prefix` on every master (SCAN: fine in tests, never on a request path). */
export async function keysUnder(client: Redis | Cluster, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for (const node of masters(client)) {
    let cursor = '0';
    // Bounded: a test keyspace is small, and SCAN always ends once the cursor returns to 0.
    for (let round = 0; round < 10_000; round++) {
      const [next, batch] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
      if (cursor === '0') break;
    }
  }
  return keys;
}

/**
 * Every key under `prefix` with its raw contents: strings as they are, sorted sets as members and
 * scores, hashes as fields and values, sets and lists as their members, each separated by a space.
 * A key of any other type throws: nothing under the prefix may escape a secret-at-rest check.
 */
export async function dumpUnder(client: Redis | Cluster, prefix: string): Promise<Map<string, string>> {
  const dump = new Map<string, string>();
  for (const key of await keysUnder(client, prefix)) {
    const type = await client.type(key);
    let value: string[];
    if (type === 'string') value = [(await client.get(key)) ?? ''];
    else if (type === 'zset') value = await client.zrange(key, 0, -1, 'WITHSCORES');
    else if (type === 'hash') value = Object.entries(await client.hgetall(key)).flat();
    else if (type === 'set') value = await client.smembers(key);
    else if (type === 'list') value = await client.lrange(key, 0, -1);
    else if (type === 'none')
      continue; // expired or deleted since the scan
    else throw new Error(`dumpUnder: ${key} is a ${type}, which it cannot read`);
    dump.set(key, value.join(' '));
  }
  return dump;
}

/** Removes every key under `prefix` (one DEL per key: keys live on different Cluster slots). */
export async function dropUnder(client: Redis | Cluster, prefix: string): Promise<void> {
  for (const key of await keysUnder(client, prefix)) await client.del(key);
}

/** The client libraries the store accepts, as the suites that run against each of them name them. */
export const clientKinds = ['ioredis 5', 'ioredis 6', 'node-redis 5'] as const;
export type ClientKind = (typeof clientKinds)[number];

/** An app-owned client, connected, and how to tell its state and let go of it. */
export interface OpenedClient {
  client: AnyRedisClient;
  /** Whether the client says it can send commands now. */
  ready(): boolean;
  close(): Promise<void>;
}

/**
 * A client of `kind` for the single server at `url`, connected, at its library's defaults (offline
 * queue on) but reconnecting every 100 ms, as an app would hold it.
 */
export async function openClient(kind: ClientKind, url: string): Promise<OpenedClient> {
  if (kind === 'node-redis 5') {
    const client = createClient({ url, socket: { reconnectStrategy: () => 100 } });
    client.on('error', () => {});
    await client.connect();
    return { client, ready: () => client.isReady, close: async () => client.destroy() };
  }
  const options = { retryStrategy: () => 100 };
  const client = kind === 'ioredis 6' ? new Redis6(url, options) : new Redis(url, options);
  client.on('error', () => {});
  await new Promise((resolve) => client.once('ready', resolve));
  return {
    // Typed against ioredis 5 here, where both majors are installed; an app has one.
    client: client as unknown as AnyRedisClient,
    ready: () => client.status === 'ready',
    close: async () => client.disconnect(),
  };
}

/**
 * A client of `kind` for the test cluster's `nodes`, connected, failing fast while disconnected;
 * with `offlineQueue`, a node-redis client keeps its library's default instead (commands wait in
 * a queue while their node reconnects), reconnecting every 100 ms.
 */
export async function openClusterClient(
  kind: ClientKind,
  nodes: { host: string; port: number }[],
  options: { offlineQueue?: boolean } = {},
): Promise<OpenedClient> {
  if (kind === 'node-redis 5') {
    const client = createCluster({
      rootNodes: nodes.map((node) => ({ url: `redis://${node.host}:${node.port}` })),
      defaults: options.offlineQueue ? { socket: { reconnectStrategy: () => 100 } } : { disableOfflineQueue: true },
    });
    client.on('error', () => {});
    await client.connect();
    // close() waits for what is queued, which, with the offline queue on, may wait for a node that is gone.
    const close = options.offlineQueue ? async () => client.destroy() : () => client.close();
    return { client, ready: () => client.isOpen, close };
  }
  const client = kind === 'ioredis 6' ? new Cluster6(nodes) : new Cluster(nodes);
  client.on('error', () => {});
  await new Promise((resolve) => client.once('ready', resolve));
  return {
    client: client as unknown as AnyRedisClient,
    ready: () => client.status === 'ready',
    close: async () => client.disconnect(),
  };
}

/** Polls `check` every 5 ms until it holds; returns how long that took, or throws after `limitMs`. */
export async function until(check: () => boolean | Promise<boolean>, limitMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    if (await check()) return performance.now() - started;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`condition not met within ${limitMs} ms`);
}

/** `accepted`, or the `SessionError` code `promise` rejects with. */
export async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'accepted';
  } catch (error) {
    if (isSessionError(error)) return error.code;
    throw error;
  }
}

/** The ids of the connections named `name` (`CLIENT SETNAME`), from `CLIENT LIST`. */
export async function connectionIds(admin: Redis, name: string): Promise<string[]> {
  const list = (await admin.client('LIST')) as string;
  return list
    .split('\n')
    .filter((line) => line.includes(` name=${name} `))
    .map((line) => /\bid=(\d+)/.exec(line)?.[1] as string);
}

const REVOCATION_ISSUER = 'https://auth.test';

/** An issuing service and a downstream verifier joined by a revocation channel. */
export interface RevocationSetup {
  manager: SessionManager;
  jwts: SessionJwt;
  verifier: JwtVerifier;
  list: RevocationList;
  events: RevocationEvent[];
}

/**
 * The issuing side (a manager on `store` that publishes on `publisher`, and session JWTs of
 * `ttlSeconds`) and a downstream service (a JWT verifier with the public key only, whose revocation
 * list follows `subscriber`), subscribed and ready. `defer` receives what must be closed after the
 * test, in the order to close it.
 */
export async function revocationSetup(options: {
  store: SessionStore;
  publisher: RevocationChannel;
  subscriber: RevocationChannel;
  ttlSeconds?: number;
  defer: (close: () => Promise<unknown>) => void;
}): Promise<RevocationSetup> {
  const manager = createSessionManager({ store: options.store, revocation: { channel: options.publisher } });
  const keys = createJwtKeySet({ active: await generateSigningKey() });
  const ttlSeconds = options.ttlSeconds ?? 300;
  const jwts = createSessionJwt({
    manager,
    keys,
    issuer: REVOCATION_ISSUER,
    audience: 'api',
    ttlSeconds,
    clockToleranceSeconds: 0,
  });
  const events: RevocationEvent[] = [];
  const list = createRevocationList({
    channel: options.subscriber,
    retainSeconds: ttlSeconds,
    onEvent: (e) => events.push(e),
  });
  options.defer(() => list.close());
  await list.ready();
  const verifier = createJwtVerifier({
    keys: createJwtKeySet({ verifyOnly: [keys.active] }),
    issuer: REVOCATION_ISSUER,
    audience: 'api',
    maxTokenAgeSeconds: ttlSeconds,
    clockToleranceSeconds: 0,
    revocations: list,
  });
  return { manager, jwts, verifier, list, events };
}

/** Runs `operation`, expecting it to reject; returns the error and how long the rejection took. */
export async function failure(operation: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  const error = await operation().then(
    () => null,
    (e: unknown) => e,
  );
  return { error, ms: performance.now() - started };
}

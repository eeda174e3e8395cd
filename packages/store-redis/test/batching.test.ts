import type { Socket } from 'node:net';
import { createSessionManager, type SessionData } from '@org/session-core';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnyRedisClient, RedisStore } from '../src/index.js';
import { type RedisServer, startRedisServer } from './servers.js';
import {
  assertServices,
  dropUnder,
  type OpenedClient,
  openClient,
  redisBinary,
  redisCluster,
  skipWithout,
  uniquePrefix,
} from './support.js';

const binary = redisBinary();
const cluster = redisCluster();

/**
 * Counts the writes an ioredis client's socket hands to the kernel (each `_write` or `_writev` is
 * one system call), calling through to the real ones.
 */
function countWrites(socket: Socket): { readonly count: number; stop(): void } {
  const target = socket as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
  const own = { _write: Object.hasOwn(target, '_write'), _writev: Object.hasOwn(target, '_writev') };
  const original = { _write: target._write, _writev: target._writev };
  let count = 0;
  for (const name of ['_write', '_writev'] as const) {
    target[name] = function (this: unknown, ...args: unknown[]) {
      count++;
      return original[name].apply(this, args);
    };
  }
  return {
    get count() {
      return count;
    },
    stop() {
      for (const name of ['_write', '_writev'] as const) {
        if (own[name]) target[name] = original[name];
        else delete (target as Partial<typeof target>)[name];
      }
    },
  };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

// node-redis writes the commands of one event-loop turn together by itself; ioredis writes each
// command at once, so the store holds its socket corked until the turn's check phase.
// A private server: no other suite flushes its scripts (an EVALSHA answered NOSCRIPT is sent
// again, in full, in a later turn).
describe.skipIf(skipWithout(binary)).each(['ioredis 5', 'ioredis 6'] as const)('command batching on %s', (kind) => {
  let server: RedisServer;
  let opened: OpenedClient;
  beforeAll(async () => {
    assertServices(binary);
    server = await startRedisServer();
    opened = await openClient(kind, server.url);
  });
  afterAll(async () => {
    await opened?.close();
    await server?.destroy();
  });

  function setUp(label: string) {
    const store = new RedisStore<SessionData, AnyRedisClient>({ client: opened.client, prefix: uniquePrefix(label) });
    const manager = createSessionManager({ store });
    const socket = (opened.client as unknown as { stream: Socket }).stream;
    return { store, manager, socket };
  }

  it('sends the reads of many requests handled in one event-loop turn in one write', async () => {
    const { manager, socket } = setUp('batch-reads');
    const cookies: string[] = [];
    for (let i = 0; i < 10; i++) {
      const created = await manager.create({ userId: `user-${i}`, data: { n: i } });
      cookies.push(created.cookies.map((line) => line.split(';')[0]).join('; '));
    }
    // Every session is known to the store now: each read is the record and the user's epoch.
    await turn();
    const writes = countWrites(socket);
    try {
      const results = await Promise.all(cookies.map((cookie) => manager.validateCookie(cookie)));
      expect(results.map((r) => (r.status === 'valid' ? r.session.data.n : r.status))).toEqual([
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
      ]);
      // Twenty HMGETs, one system call.
      expect(writes.count).toBe(1);
    } finally {
      writes.stop();
    }
  });

  it('sends the writes of one turn together, and a command of a later turn in a write of its own', async () => {
    const { manager, socket } = setUp('batch-writes');
    const created = [];
    for (let i = 0; i < 5; i++) created.push(await manager.create({ userId: `user-${i}`, data: { n: 0 } }));
    // The server learns the write script (EVALSHA, then EVAL) before the writes are counted.
    const first = created[0];
    if (first) created[0] = { ...first, session: await manager.update(first.session, (d) => ({ ...d, n: 0 })) };
    await turn();
    const writes = countWrites(socket);
    try {
      const updated = await Promise.all(created.map(({ session }) => manager.update(session, (d) => ({ ...d, n: 1 }))));
      expect(updated.map((s) => s.data.n)).toEqual([1, 1, 1, 1, 1]);
      expect(writes.count).toBe(1);
      // A read in a later turn is not held back waiting for company: it goes out and is answered.
      await turn();
      const cookie = created[0]?.cookies.map((line) => line.split(';')[0]).join('; ') ?? '';
      const read = await manager.validateCookie(cookie);
      expect(read.status === 'valid' && read.session.data.n).toBe(1);
      expect(writes.count).toBe(2);
    } finally {
      writes.stop();
    }
  });
});

describe.skipIf(skipWithout(cluster))('command batching on an ioredis Cluster', () => {
  let client: Cluster;
  beforeAll(async () => {
    assertServices(cluster);
    client = new Cluster(cluster.nodes, { enableOfflineQueue: false });
    client.on('error', () => {});
    await new Promise((resolve) => client.once('ready', resolve));
  });
  afterAll(() => {
    client?.disconnect();
  });

  it('sends the reads of one turn in one write per node they go to', async () => {
    const prefix = uniquePrefix('batch-cluster');
    const store = new RedisStore<SessionData, AnyRedisClient>({ client: client as unknown as AnyRedisClient, prefix });
    const manager = createSessionManager({ store });
    try {
      const cookies: string[] = [];
      for (let i = 0; i < 12; i++) {
        const created = await manager.create({ userId: `user-${i}`, data: { n: i } });
        cookies.push(created.cookies.map((line) => line.split(';')[0]).join('; '));
      }
      // Every node has a connection by now (the creates wrote to each master).
      await turn();
      const nodes = client.nodes('all').filter((node) => node.stream !== undefined);
      const counters = nodes.map((node) => countWrites(node.stream));
      try {
        const results = await Promise.all(cookies.map((cookie) => manager.validateCookie(cookie)));
        expect(results.map((r) => (r.status === 'valid' ? r.session.data.n : r.status))).toEqual([
          0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
        ]);
        // 24 HMGETs spread over the masters: at most one write to each.
        const perNode = counters.map((c) => c.count);
        expect(Math.max(...perNode)).toBe(1);
        expect(perNode.filter((n) => n === 1).length).toBeGreaterThan(1);
      } finally {
        for (const counter of counters) counter.stop();
      }
    } finally {
      await dropUnder(client, prefix);
    }
  });
});

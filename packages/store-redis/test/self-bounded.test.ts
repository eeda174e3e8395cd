/**
 * A store that bounds its own calls is not bounded twice: the Redis store declares
 * `settlesWithinMs` (its commandTimeoutMs), and a manager whose storeTimeoutMs is at least that
 * sets no deadline of its own on per-key calls. Against the real Redis, behind a loopback relay
 * that stops forwarding (a hung server, without pausing the server other suites share), a read, an
 * update, a touch and a rotation still fail within the store's bound with the stable code; with a
 * manager bound smaller than the store's, the manager's deadline answers first. (Checklist I2: a
 * hanging store bounds every request-path call.)
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createSessionManager, isSessionError, MemoryStore, type SessionManager } from '@org/session-core';
import { createTestClock, randomString } from '@org/session-core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../src/index.js';
import { connectUpstream, freePort } from './servers.js';
import { assertServices, failure, LOCAL_PORT, localRedis, skipWithout, uniquePrefix } from './support.js';

const redis = await localRedis();

/** A loopback relay to Redis that can stop forwarding while keeping its connections open. */
interface StallingRelay {
  readonly port: number;
  /**
   * From the first chunk a client sends that `matches` (default: any), holds every byte of that
   * connection, both ways: the server seems hung, the connection stays up.
   */
  stall(matches?: (text: string) => boolean): void;
  /** Forwards what it held, and everything after. */
  resume(): void;
  /** Delivers every reply `ms` late (0: at once), as a slow server would. */
  delayReplies(ms: number): void;
  close(): Promise<void>;
}

async function startStallingRelay(targetPort: number): Promise<StallingRelay> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  const held: { to: Socket; data: Buffer }[] = [];
  let trigger: ((text: string) => boolean) | null = null;
  let replyDelay = 0;
  const stalled = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connectUpstream(client, targetPort, sockets);
    client.on('data', (data: Buffer) => {
      if (trigger?.(data.toString('latin1'))) stalled.add(client);
      if (stalled.has(client)) held.push({ to: upstream, data });
      else upstream.write(data);
    });
    const reply = (data: Buffer) => {
      if (stalled.has(client)) held.push({ to: client, data });
      else client.write(data);
    };
    upstream.on('data', (data: Buffer) => {
      if (replyDelay > 0) setTimeout(() => reply(data), replyDelay);
      else reply(data);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    stall: (matches = () => true) => {
      trigger = matches;
    },
    delayReplies: (ms) => {
      replyDelay = ms;
    },
    resume: () => {
      replyDelay = 0;
      trigger = null;
      stalled.clear();
      for (const { to, data } of held.splice(0)) if (!to.destroyed) to.write(data);
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function expectTimeout(error: unknown): void {
  expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
  expect((error as { reason?: string }).reason).toBe('timeout');
}

/**
 * A timer may fire before performance.now() says the span is over: Node arms it from the event
 * loop's cached time, which lags by however long the current turn has run (several ms on a loaded
 * machine). The lower bounds only show that a call waited for its deadline rather than failing at once.
 */
const SLACK = 25;

describe.skipIf(skipWithout(redis))('a Redis store that bounds its own calls, on a hung server', () => {
  let relay: StallingRelay;
  const stores: RedisStore[] = [];

  beforeAll(async () => {
    assertServices(redis);
    relay = await startStallingRelay(LOCAL_PORT);
  });

  afterEach(() => {
    relay.resume();
  });

  afterAll(async () => {
    for (const store of stores) await store.close();
    await relay?.close();
  });

  /** A store through the relay, connected, with a manager bounded by `storeTimeoutMs`, and a live session. */
  async function setUp(commandTimeoutMs: number, storeTimeoutMs: number) {
    const store = new RedisStore({
      url: `redis://127.0.0.1:${relay.port}`,
      prefix: uniquePrefix('self-bounded'),
      commandTimeoutMs,
    });
    stores.push(store);
    const clock = createTestClock(Date.now());
    const manager: SessionManager = createSessionManager({ store, storeTimeoutMs, clock });
    const issued = await manager.create({ userId: `u-${randomString(8)}`, data: { n: 1 } });
    return { store, manager, clock, issued };
  }

  /** A validation that did not answer with a session: its error. */
  const unavailable = (manager: SessionManager, token: string) => async () => {
    const result = await manager.validateToken(token);
    if (result.status !== 'unavailable') throw new Error(`validated as ${result.status}`);
    throw result.error;
  };

  /** Validates once a touch is due, with only the touch's script held: how long, and the outcome. */
  async function touchOnHungScript(manager: SessionManager, clock: { advance(ms: number): number }, token: string) {
    clock.advance(manager.policy.touchIntervalMs + 1);
    relay.stall((text) => /evalsha|eval/i.test(text));
    const started = performance.now();
    const result = await manager.validateToken(token);
    return { status: result.status, ms: performance.now() - started };
  }

  it('declares commandTimeoutMs', () => {
    const store = new RedisStore({ url: `redis://127.0.0.1:${relay.port}`, commandTimeoutMs: 250 });
    stores.push(store);
    expect(store.settlesWithinMs).toBe(250);
    expect(new RedisStore({ client: store.client }).settlesWithinMs).toBe(1000);
  });

  it('manager bound larger than the store bound: read, update, touch and rotation fail within the store bound', async () => {
    const bound = 300;
    const { manager, clock, issued } = await setUp(bound, 5000);

    // The touch's compare-and-set hangs: the read answered, so the session is valid, its deadline unmoved.
    const touch = await touchOnHungScript(manager, clock, issued.token);
    expect(touch.status).toBe('valid');
    expect(touch.ms).toBeGreaterThanOrEqual(bound - SLACK);
    expect(touch.ms).toBeLessThan(2 * bound);
    relay.resume();

    relay.stall();
    const read = await failure(unavailable(manager, issued.token));
    const update = await failure(() => manager.update(issued.session, { n: 2 }));
    for (const { error, ms } of [read, update]) {
      expectTimeout(error);
      expect(ms).toBeGreaterThanOrEqual(bound - SLACK);
      // Within the store's bound and its timer's tick (an eighth), nowhere near the manager's 5000.
      expect(ms).toBeLessThan(2 * bound);
    }
    // A rotation may take twice the bound: it asks whether a step without an answer took effect.
    const rotation = await failure(() => manager.rotate(issued.session));
    expectTimeout(rotation.error);
    expect(rotation.ms).toBeLessThan(4 * bound);
    relay.resume();

    // Only the write is held now: the update's read answers, its compare-and-set does not.
    relay.stall((text) => /evalsha|eval/i.test(text));
    const write = await failure(() => manager.update(issued.session, { n: 3 }));
    expectTimeout(write.error);
    expect(write.ms).toBeLessThan(2 * bound);
    relay.resume();
    // Nothing was lost: the session still validates once the server answers.
    expect((await manager.validateToken(issued.token)).status).toBe('valid');
  });

  it('manager bound smaller than the store bound: the manager deadline applies, with the same code', async () => {
    const managerBound = 150;
    const storeBound = 3000;
    const { manager, clock, issued } = await setUp(storeBound, managerBound);

    const touch = await touchOnHungScript(manager, clock, issued.token);
    expect(touch.status).toBe('valid');
    expect(touch.ms).toBeGreaterThanOrEqual(managerBound - SLACK);
    expect(touch.ms).toBeLessThan(storeBound);
    relay.resume();

    relay.stall();
    const read = await failure(unavailable(manager, issued.token));
    const update = await failure(() => manager.update(issued.session, { n: 2 }));
    for (const { error, ms } of [read, update]) {
      expectTimeout(error);
      expect(ms).toBeGreaterThanOrEqual(managerBound - SLACK);
      expect(ms).toBeLessThan(storeBound);
    }
  });

  it('bounds a call of several steps end to end: a later step gets only what is left of the bound', async () => {
    const bound = 400;
    const { issued } = await setUp(bound, 5000);
    // A store that has not seen the session reads its record, then its user's epoch: two round trips.
    const fresh = new RedisStore({
      url: `redis://127.0.0.1:${relay.port}`,
      prefix: stores[stores.length - 1]?.prefix,
      commandTimeoutMs: bound,
    });
    stores.push(fresh);
    const manager = createSessionManager({ store: fresh, storeTimeoutMs: 5000 });
    await fresh.getUserEpoch('warm-up', Date.now());
    // The record's reply comes 250 ms late; the epoch read (the user's `ue:` key) gets none at all.
    relay.delayReplies(250);
    relay.stall((text) => text.includes(':ue:{'));
    const read = await failure(unavailable(manager, issued.token));
    expectTimeout(read.error);
    expect(read.ms).toBeGreaterThanOrEqual(bound - SLACK);
    // Step by step it would take 250 + 400 ms; the call's one bound (and a tick) ends it well before.
    expect(read.ms).toBeLessThan(250 + bound);
  });

  it('bounds the wait for a first connection that never becomes ready by the same bound', async () => {
    const bound = 300;
    relay.stall();
    // Connected to the relay, but the handshake never gets an answer: the client is still connecting.
    const store = new RedisStore({
      url: `redis://127.0.0.1:${relay.port}`,
      prefix: uniquePrefix('self-bounded'),
      commandTimeoutMs: bound,
    });
    stores.push(store);
    const manager = createSessionManager({ store, storeTimeoutMs: 5000 });
    // A well-formed token (from a memory store): the read must reach the store.
    const { token } = await createSessionManager({ store: new MemoryStore() }).create({ userId: 'u', data: {} });
    const read = await failure(unavailable(manager, token));
    const created = await failure(() => manager.create({ userId: 'u-first-connection', data: {} }));
    for (const { error, ms } of [read, created]) {
      expectTimeout(error);
      expect(ms).toBeLessThan(2 * bound);
    }
  });
});

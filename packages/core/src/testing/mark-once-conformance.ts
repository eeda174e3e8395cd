import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomString } from '../random.js';
import type { MarkOnceStore } from '../store.js';

export interface MarkOnceConformanceOptions {
  /** Shown in the suite title, e.g. `PostgresStore`. */
  name: string;
  /** Opens a store on the real backend; the suite opens one and closes it with {@link closeStore}. */
  createStore: () => MarkOnceStore | Promise<MarkOnceStore>;
  /**
   * Opens a second instance on the same data as `store` (its own connection, pool or client), as
   * another server process would: the race cases split their callers between the two.
   */
  createPeer: (store: MarkOnceStore) => MarkOnceStore | Promise<MarkOnceStore>;
  /** Closes a store the suite opened (peers first). Defaults to its `close()`, if any. */
  closeStore?: (store: MarkOnceStore) => void | Promise<void>;
  /**
   * Whether a key expires by the `now` each call passes (`'injected'`, default: SQL and memory
   * stores), or by the backend's own clock (`'server'`: Redis, whose TTLs ignore `now`). The
   * expiry cases then use the real time and short TTLs, with bounded waits.
   */
  clock?: 'injected' | 'server';
  /**
   * Optional, for stores that delete expired keys in a sweep: runs it at `now`. With
   * {@link holds}, the suite checks that expired keys go and live ones stay.
   */
  sweep?: (store: MarkOnceStore, now: number) => unknown | Promise<unknown>;
  /** Optional: whether the backend still holds `key`, read around the store (a row, a key). */
  holds?: (store: MarkOnceStore, key: string) => boolean | Promise<boolean>;
}

/** Injected clock of the suite: a fixed time, so expiry is decided by `now` alone. */
const AT = 1_900_000_000_000;
const RACERS = 20;

/**
 * The contract of `markOnce`, the replay cache behind DPoP `jti` and DBSC challenge nonces,
 * registered as vitest tests: the first mark wins and later ones lose while the key lives, on
 * every instance; exactly one winner among concurrent callers on two instances, for a new key and
 * for an expired one; expiry after the TTL; keys kept apart exactly as given; and, where the store
 * sweeps, expired keys removed and live ones kept.
 *
 * @example
 * ```ts
 * runMarkOnceConformance({
 *   name: 'MyStore',
 *   createStore: () => new MyStore(url),
 *   createPeer: () => new MyStore(url),
 * })
 * ```
 */
export function runMarkOnceConformance(options: MarkOnceConformanceOptions): void {
  const serverClock = options.clock === 'server';
  const run = randomString(10);
  let sequence = 0;
  const key = (label: string) => `once:${run}:${label}:${sequence++}`;

  describe(`markOnce conformance: ${options.name}`, () => {
    let store: MarkOnceStore;
    let peer: MarkOnceStore;
    const close = (s: MarkOnceStore | undefined) =>
      s && (options.closeStore ? options.closeStore(s) : (s as { close?: () => Promise<void> }).close?.());

    beforeAll(async () => {
      store = await options.createStore();
      peer = await options.createPeer(store);
    });
    afterAll(async () => {
      await close(peer);
      await close(store);
    });

    /** Waits past the TTL of a key a server-clock store marked at `markedAt` (bounded: the TTL plus 100 ms). */
    const waitForExpiry = (ttlMs: number, markedAt: number) =>
      new Promise((resolve) => setTimeout(resolve, Math.max(0, markedAt + ttlMs + 100 - Date.now())));

    it('the first mark of a key wins; every later one loses while it lives, on either instance', async () => {
      const now = serverClock ? Date.now() : AT;
      const k = key('first');
      expect(await store.markOnce(k, 60_000, now)).toBe(true);
      expect(await store.markOnce(k, 60_000, now)).toBe(false);
      expect(await peer.markOnce(k, 60_000, now + 1)).toBe(false);
      expect(await store.markOnce(k, 1, now + 2)).toBe(false);
    });

    it('keeps keys apart exactly as given (case, spaces, unicode, long keys, prefixes)', async () => {
      const now = serverClock ? Date.now() : AT;
      const base = key('apart');
      const keys = [base, base.toUpperCase(), `${base} `, `${base}:x`, `${base}-ключ-鍵`, `${base}${'x'.repeat(300)}`];
      for (const k of keys) expect(await store.markOnce(k, 60_000, now), k).toBe(true);
      for (const k of keys) expect(await peer.markOnce(k, 60_000, now), k).toBe(false);
    });

    it(`exactly one winner among ${RACERS} concurrent marks of a new key on two instances`, async () => {
      for (let round = 0; round < 5; round++) {
        const now = serverClock ? Date.now() : AT;
        const k = key('race');
        const results = await Promise.all(
          Array.from({ length: RACERS }, (_, i) => (i % 2 ? store : peer).markOnce(k, 60_000, now)),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
      }
    });

    it('a key expires after its TTL: refused until then, then marked again for a new TTL', async () => {
      const k = key('ttl');
      if (serverClock) {
        const markedAt = Date.now();
        expect(await store.markOnce(k, 300, markedAt)).toBe(true);
        expect(await peer.markOnce(k, 300, Date.now())).toBe(false);
        await waitForExpiry(300, markedAt);
        expect(await peer.markOnce(k, 60_000, Date.now())).toBe(true);
        expect(await store.markOnce(k, 60_000, Date.now())).toBe(false);
        return;
      }
      expect(await store.markOnce(k, 1000, AT)).toBe(true);
      expect(await peer.markOnce(k, 1000, AT + 999)).toBe(false);
      // At now + ttl the key has expired (the same boundary as a session's deadline).
      expect(await peer.markOnce(k, 1000, AT + 1000)).toBe(true);
      // The new mark holds for its own TTL, from the time it was made.
      expect(await store.markOnce(k, 1000, AT + 1999)).toBe(false);
      expect(await store.markOnce(k, 1000, AT + 2000)).toBe(true);
    });

    it(`exactly one winner among ${RACERS} concurrent marks of an expired key on two instances`, async () => {
      for (let round = 0; round < 5; round++) {
        const k = key('expired-race');
        let now: number;
        if (serverClock) {
          const markedAt = Date.now();
          expect(await store.markOnce(k, 200, markedAt)).toBe(true);
          await waitForExpiry(200, markedAt);
          now = Date.now();
        } else {
          expect(await store.markOnce(k, 1000, AT)).toBe(true);
          now = AT + 5000;
        }
        const results = await Promise.all(
          Array.from({ length: RACERS }, (_, i) => (i % 2 ? store : peer).markOnce(k, 60_000, now)),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
      }
    });

    // Registered only for stores that sweep and can be read around (a case that cannot run is left out, not skipped).
    const { sweep, holds } = options;
    if (sweep && holds && !serverClock)
      it("the store's sweep deletes expired keys and keeps live ones", async () => {
        // Far after every other case's keys, so their expiry cannot blur this one.
        const start = AT + 24 * 3_600_000;
        const short = [key('sweep-short'), key('sweep-short'), key('sweep-short')];
        const long = key('sweep-long');
        for (const k of short) expect(await store.markOnce(k, 1000, start)).toBe(true);
        expect(await store.markOnce(long, 600_000, start)).toBe(true);
        await sweep(store, start + 999);
        for (const k of [...short, long]) expect(await holds(store, k), k).toBe(true);
        await sweep(store, start + 1000);
        for (const k of short) expect(await holds(store, k), k).toBe(false);
        expect(await holds(store, long)).toBe(true);
        // The live key still refuses a second mark after the sweep.
        expect(await peer.markOnce(long, 600_000, start + 1000)).toBe(false);
      });
  });
}

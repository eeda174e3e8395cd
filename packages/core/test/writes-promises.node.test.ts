/**
 * The promises one uncontended write creates, counted with async_hooks (each `await` counts as
 * one: V8 allocates a promise for it while hooks are on). A deterministic count, pinned so that
 * layers removed from the write path (issue 11) do not creep back: the queue and batch machinery,
 * a promise per helper, a deadline around a store that holds its records in this process.
 *
 * Before that work the same write counted 15 (merge) and 10 (replacement) on Node 20; now 6 and
 * 8 (store doing I/O) for every kind. The bounds allow a runtime that makes fewer.
 */
import { createHook } from 'node:async_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryStore, type SessionStore } from '../src/index.js';
import { SessionManager } from '../src/manager.js';
import { createTestClock, instrumentStore } from '../src/testing/index.js';

type Data = Record<string, unknown>;

let counting = false;
let promises = 0;
const hook = createHook({
  init(_id, type) {
    if (counting && type === 'PROMISE') promises++;
  },
}).enable();

afterAll(() => {
  hook.disable();
});

/** Promises created by `write` of a session just validated, up to its settling (the test's own await included). */
async function promisesOf(store: SessionStore<Data>, write: (m: SessionManager<Data>, s: never) => Promise<unknown>) {
  const sessions = new SessionManager<Data>({ store, clock: createTestClock() });
  const { token } = await sessions.create({ userId: 'u1', data: { n: 0 } });
  const counts: number[] = [];
  for (let i = 0; i < 3; i++) {
    const result = await sessions.validateToken(token);
    if (result.status !== 'valid') throw new Error(result.status);
    promises = 0;
    counting = true;
    await write(sessions, result.session as never);
    counting = false;
    counts.push(promises);
  }
  return counts;
}

const writes = {
  merge: (m: SessionManager<Data>, s: never) => m.update(s, (data) => ({ ...data, n: 1 })),
  patch: (m: SessionManager<Data>, s: never) => m.patch(s, { n: 2 }),
  replace: (m: SessionManager<Data>, s: { version: number }) => m.update(s as never, { n: s.version }),
};

describe('promises per uncontended write after a validation', () => {
  it.each(Object.entries(writes))('%s, store that reads synchronously (memory): 6', async (_name, write) => {
    // update/patch, the write, its await of the store, the store's own, the test's await.
    const counts = await promisesOf(new MemoryStore<Data>(), write as never);
    expect(new Set(counts).size).toBe(1);
    expect(counts[0]).toBeLessThanOrEqual(6);
  });

  it.each(Object.entries(writes))('%s, store doing I/O: 8', async (_name, write) => {
    // The same, plus the store deadline's promise and its settling.
    const counts = await promisesOf(instrumentStore(new MemoryStore<Data>()).store, write as never);
    expect(new Set(counts).size).toBe(1);
    expect(counts[0]).toBeLessThanOrEqual(8);
  });
});

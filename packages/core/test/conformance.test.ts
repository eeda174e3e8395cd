import { MemoryStore, type SessionStore } from '../src/index.js';
import { dumpMemoryStore } from '../src/memory-store.js';
import { runStoreConformance } from '../src/testing/vitest.js';

runStoreConformance({
  name: 'MemoryStore',
  createStore: () => new MemoryStore(),
  // Two MemoryStores never share records; the check still proves deleteAll stays in its own.
  createIsolatedStore: () => new MemoryStore(),
  // The store's own maps (the testing hook), not what get() chooses to return.
  dumpRaw: (store) => dumpMemoryStore(store as MemoryStore),
});

const FAMILY_METHODS = new Set<PropertyKey>(['createRefreshFamily', 'getRefreshFamily', 'updateRefreshFamily']);
const innerOf = new WeakMap<object, MemoryStore>();

/** A MemoryStore seen through its session methods only: a store that is no RefreshFamilyStore. */
function sessionsOnly(): SessionStore {
  const inner = new MemoryStore();
  const store = new Proxy(inner, {
    get(target, key) {
      if (FAMILY_METHODS.has(key)) return undefined;
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
    has: (target, key) => !FAMILY_METHODS.has(key) && Reflect.has(target, key),
  });
  innerOf.set(store, inner);
  return store;
}

// The refresh cases give way to one case proving the store keeps no families; the rest runs as on any store.
runStoreConformance({
  name: 'MemoryStore (sessions only, no RefreshFamilyStore)',
  refreshFamilies: false,
  createStore: sessionsOnly,
  createIsolatedStore: sessionsOnly,
  dumpRaw: (store) => dumpMemoryStore(innerOf.get(store) as MemoryStore),
});

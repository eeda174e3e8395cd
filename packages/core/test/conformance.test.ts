import { MemoryStore } from '../src/index.js';
import { runStoreConformance } from '../src/testing/vitest.js';

runStoreConformance({
  name: 'MemoryStore',
  createStore: () => new MemoryStore(),
  // Two MemoryStores never share records; the check still proves deleteAll stays in its own.
  createIsolatedStore: () => new MemoryStore(),
});

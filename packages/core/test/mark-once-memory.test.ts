import { MemoryStore } from '@org/session-core';
import { runMarkOnceConformance } from '@org/session-core/testing/vitest';

// One process holds the memory store, so the "other instance" is the same store: what is shared
// in-process is the map itself.
runMarkOnceConformance({
  name: 'MemoryStore',
  createStore: () => new MemoryStore(),
  createPeer: (store) => store,
  closeStore: () => {},
});

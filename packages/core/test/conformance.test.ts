import { MemoryStore } from '../src/index.js';
import { runStoreConformance } from '../src/testing/index.js';

runStoreConformance({ name: 'MemoryStore', createStore: () => new MemoryStore() });

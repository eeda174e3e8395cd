/**
 * The shared suites, registered as vitest tests (vitest is an optional peer dependency, needed only
 * for this entry point): store conformance for every store, and the adapter HTTP suites.
 */
export {
  type AdapterHttpSuiteOptions,
  type AdapterSuiteSetup,
  type RawResponse,
  runAdapterHttpSuite,
} from './adapter-suite.js';
export { type AttemptCounterConformanceOptions, runAttemptCounterConformance } from './attempts-conformance.js';
export { runStoreConformance, type StoreConformanceOptions } from './conformance.js';
export { type DbscServerInput, type DbscSuiteOptions, runDbscHttpSuite } from './dbsc-suite.js';
export {
  type DpopAnswer,
  type DpopClientLibrary,
  type DpopHandlers,
  type DpopServerInput,
  type DpopSuiteOptions,
  runDpopHttpSuite,
} from './dpop-suite.js';
export {
  type HostileApiAnswer,
  type HostileHttpSuiteOptions,
  type HostileSuiteSetup,
  runHostileHttpSuite,
} from './hostile-suite.js';
export { type HybridHttpSuiteOptions, type HybridSuiteSetup, runHybridHttpSuite } from './hybrid-suite.js';
export { type MarkOnceConformanceOptions, runMarkOnceConformance } from './mark-once-conformance.js';
export { runRefreshConformance } from './refresh-conformance.js';

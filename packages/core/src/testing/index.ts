/**
 * Test helpers for apps and store authors: an injectable clock, a call-counting wrapper with
 * fault injection, and the store conformance suite (needs vitest, an optional peer dependency).
 */
export { createTestClock, type TestClock } from './clock.js';
export { runStoreConformance, type StoreConformanceOptions } from './conformance.js';
export { refreshFamilyFixture, sessionRecordFixture } from './fixtures.js';
export {
  type AdapterHttpSuiteOptions,
  type AdapterSuiteSetup,
  createLintedClient,
  type HttpLintPolicy,
  type HttpResponseSnapshot,
  type LintedClient,
  type LintedRequest,
  type LintedResponse,
  lintHttpResponse,
  parseSetCookie,
  type RawResponse,
  runAdapterHttpSuite,
} from './http-lint.js';
export { type HybridHttpSuiteOptions, type HybridSuiteSetup, runHybridHttpSuite } from './hybrid-suite.js';
export { type InstrumentedStore, instrumentStore } from './instrument.js';
export { runRefreshConformance } from './refresh-conformance.js';

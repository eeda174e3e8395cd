/**
 * Test helpers for apps and store authors that need no test runner: an injectable clock, record
 * fixtures, a call-counting store wrapper with fault injection, and the HTTP response lint. The
 * suites themselves (store conformance, adapter HTTP suites) are in `@org/session-core/testing/vitest`.
 */
export { createTestClock, type TestClock } from './clock.js';
export { refreshFamilyFixture, sessionRecordFixture } from './fixtures.js';
export {
  createLintedClient,
  type HttpLintPolicy,
  type HttpResponseSnapshot,
  type LintedClient,
  type LintedRequest,
  type LintedResponse,
  lintHttpResponse,
  parseSetCookie,
} from './http-lint.js';
export { type InstrumentedStore, instrumentStore } from './instrument.js';

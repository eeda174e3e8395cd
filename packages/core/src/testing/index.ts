/**
 * Test helpers for apps and store authors that need no test runner: an injectable clock, record
 * fixtures, a call-counting store wrapper with fault injection, and the HTTP response lint. The
 * suites themselves (store conformance, adapter HTTP suites) are in `@org/session-core/testing/vitest`.
 */

/**
 * Building blocks for store and adapter tests: record hashes as the manager writes them, random
 * ids and keys, and a session token with its parts. Not for production code.
 */
export { base64urlEncode } from '../encoding.js';
export { hashSecret } from '../hash.js';
export { randomBytes, randomString } from '../random.js';
export { generateSessionToken } from '../token.js';
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

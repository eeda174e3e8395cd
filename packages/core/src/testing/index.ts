/**
 * Test helpers for apps and store authors that need no test runner: an injectable clock, record
 * fixtures, a call-counting store wrapper with fault injection, the HTTP response lint, and the
 * hostile corpus's oracle, raw request builder, seeded generator and report. The
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
export {
  type DbscTestKey,
  generateDbscKey,
  parseChallengeHeader,
  parseRegistrationHeader,
  sessionResponseHeader,
  signDbscProof,
} from './dbsc-client.js';
export { refreshFamilyFixture, sessionRecordFixture } from './fixtures.js';
export {
  buildRawRequest,
  type HostileExpectation,
  HostileReport,
  type HostileResponse,
  hostileResponseProblems,
  type RawHeaderValue,
  SeededBytes,
} from './hostile-corpus.js';
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

/**
 * `@org/session-core/csrf`: CSRF protection for cookie sessions (checklist rows H1-H8): an origin
 * check on every unsafe request plus a synchronizer token bound to the session, or to a
 * pre-session cookie before login. See docs/csrf.md.
 */
export {
  CSRF_FIELD_NAME,
  CSRF_HEADER_NAME,
  type CsrfCheckOptions,
  type CsrfOptions,
  type CsrfOptionsWithManager,
  type CsrfOptionsWithoutManager,
  type CsrfProtection,
  type CsrfRejectReason,
  type CsrfRequest,
  type CsrfSession,
  type CsrfSettings,
  type CsrfToken,
  type CsrfTokenInput,
  type CsrfVerdict,
  createCsrfProtection,
  type HeaderSource,
} from '../csrf.js';

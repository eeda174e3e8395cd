import { type Clock, systemClock } from './clock.js';
import {
  type CookieHeaderInput,
  type CookieMode,
  EPOCH_EXPIRES,
  getCookieValues,
  isCookieName,
  serializeCookie,
} from './cookie.js';
import { base64urlEncode, isBase64url, toHex } from './encoding.js';
import { SessionError, type SessionErrorCode } from './errors.js';
import type { CsrfRejectReason } from './events.js';
import { constantTimeEqualString, hmacSha256 } from './hash.js';
import { readBearerToken } from './http.js';
import { runtimeOf, type SessionManager } from './manager.js';
import { type RandomSource, randomBytes, webRandom } from './random.js';

/** Header that carries the synchronizer token on unsafe requests. */
export const CSRF_HEADER_NAME = 'x-csrf-token';
/** Form field that carries the synchronizer token on HTML form posts. */
export const CSRF_FIELD_NAME = '_csrf';
/** Methods that never change state (H4), so they need no CSRF check. Exact case: `get` is unsafe. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
/** Minimum length of the CSRF key in bytes. */
export const MIN_CSRF_KEY_BYTES = 32;

const RANDOM_BYTES = 32;
const PRE_SESSION_ID_LENGTH = 43; // 32 random bytes, base64url
const TOKEN_PATTERN = /^[0-9a-f]{64}\.[0-9a-f]{64}$/;

/**
 * Request headers as adapters have them: a Web `Headers` object, or Node's lower-cased record
 * (`IncomingHttpHeaders`).
 */
export type HeaderSource =
  | { get(name: string): string | null }
  | Readonly<Record<string, string | readonly string[] | undefined>>;

/** The settings every CSRF protection takes, with or without a session manager. */
export interface CsrfSettings {
  /** Server key for the token HMAC: at least 32 random bytes. Rotating it invalidates open forms. */
  key: Uint8Array;
  /**
   * Origins that may send unsafe requests, exactly as browsers serialise them
   * (`https://app.example.com`, `http://localhost:3000`): scheme, lower-case host, port only
   * when not the default, no trailing slash.
   */
  allowedOrigins: readonly string[];
  /** Accept `Sec-Fetch-Site: same-site` (sibling subdomains). Default false. */
  trustSameSite?: boolean;
  /**
   * Require the synchronizer token in addition to the origin check. Default true: NIST SP
   * 800-63B-4 section 5.1 asks for a session-bound value in POST/PUT content.
   */
  requireToken?: boolean;
  /**
   * Roll-out mode: rejections are reported (a `csrf.rejected` event whose reason starts with
   * `report_only:`) but the request goes through. Default false.
   */
  reportOnly?: boolean;
  /** Header carrying the token; default `x-csrf-token`. */
  headerName?: string;
  /** Form field carrying the token; default `_csrf`. */
  fieldName?: string;
  /**
   * Name of the pre-session cookie that binds tokens of forms served before login. Default
   * `__Host-pre` in production mode and `pre` in development mode.
   */
  preSessionCookieName?: string;
}

/**
 * CSRF protection for a session manager's sessions: rejections are emitted as the manager's events
 * (naming the session by its keyed hash), and its clock, random source and cookie mode are used.
 * So `mode`, `clock` and `random` are the manager's and cannot be given here.
 */
export interface CsrfOptionsWithManager extends CsrfSettings {
  // biome-ignore lint/suspicious/noExplicitAny: a manager of any session data type.
  manager: SessionManager<any>;
  mode?: never;
  clock?: never;
  random?: never;
}

/** CSRF protection on its own (no events): the cookie mode, clock and random source to use. */
export interface CsrfOptionsWithoutManager extends CsrfSettings {
  manager?: undefined;
  /** Cookie mode; default `production`. */
  mode?: CookieMode;
  clock?: Clock;
  random?: RandomSource;
}

/**
 * Options of {@link createCsrfProtection}: with a session manager, or on their own with `mode`,
 * `clock` and `random`, never both (`CONFIG_INVALID` at run time, a type error before).
 */
export type CsrfOptions = CsrfOptionsWithManager | CsrfOptionsWithoutManager;

/** What a CSRF check needs from a request; adapters fill it from the framework's request. */
export interface CsrfRequest {
  /** The request method as received, never an override header or field. */
  method: string;
  headers: HeaderSource;
  /** Raw `Cookie` header(s); read from `headers` when omitted. */
  cookieHeader?: CookieHeaderInput;
  /**
   * The session the request was authenticated with (validated by the manager), or null. Its
   * `metadata.csrfId`, when present, is what tokens are bound to across rotation.
   */
  session: CsrfSession | null;
  /** The token field of a parsed form body (`_csrf`), if the adapter parsed one. */
  formToken?: unknown;
  /** Client address, for the event. */
  ip?: string | null;
  /**
   * True when the request's session cookie could not be checked because the store is down
   * (validation status `unavailable`). The token then cannot be verified either, so the request
   * fails with `STORE_UNAVAILABLE` (503) after the origin check, not with a false CSRF alarm.
   */
  sessionUnavailable?: boolean;
}

/** What CSRF tokens need of a session: its id and, when it has one, its rotation-proof CSRF id. */
export interface CsrfSession {
  id: string;
  userId?: string;
  metadata?: { csrfId?: string | null } | null;
}

export interface CsrfCheckOptions {
  /**
   * The route only ends the caller's own session (logout). A same-origin signal is enough there:
   * the token is not required, so a page older than a rotation, or a second tab after the first
   * logged out, still logs out. Another site still cannot: the origin checks run as always, and
   * the worst a forged request could do is log the user out. Default false.
   */
  logout?: boolean;
  /**
   * H7: the endpoint only takes JSON. Unsafe requests with a body of any other type (`text/plain`,
   * forms, multipart, or no type at all) get `CONTENT_TYPE_REJECTED` (415).
   */
  requireJson?: boolean;
  /**
   * The route authenticates API clients by an `Authorization: Bearer` token, which the route itself
   * validates (for example with `validateToken` or a JWT verifier) and refuses when invalid. A
   * request that carries one and no `Cookie` header then needs no synchronizer token, which a
   * non-browser client cannot hold. The origin checks still run: a browser request from another
   * site is refused whatever its headers; only a request with no browser signal at all (no
   * `Sec-Fetch-Site`, `Origin` or `Referer`) passes them, as a non-browser client. Default false:
   * on every other route, login routes included, the header changes nothing.
   */
  bearer?: boolean;
}

// Defined beside the events that carry it (csrf.rejected), so that events.ts imports nothing back.
export type { CsrfRejectReason };

export interface CsrfVerdict {
  /**
   * `safe_method` is not subject to CSRF; `bearer` passed the origin checks on a route that takes
   * bearer tokens (`{ bearer: true }`) with an `Authorization: Bearer` header and no cookies, so no
   * token was needed; `passed` passed every check; `reported` failed one in report-only mode.
   */
  outcome: 'safe_method' | 'bearer' | 'passed' | 'reported';
  reason?: CsrfRejectReason;
}

export interface CsrfTokenInput {
  /**
   * The request's session, or null before login (a pre-session token is issued then). A session
   * with `metadata.csrfId` gets a token that stays valid when the session rotates.
   */
  session: CsrfSession | null;
  /** Raw `Cookie` header(s), to reuse the pre-session cookie the client already holds. */
  cookieHeader?: CookieHeaderInput;
  /** A pre-session id issued earlier in the same response, so that two calls agree. */
  preSessionId?: string | null;
}

export interface CsrfToken {
  /** Put it in a form field or the `x-csrf-token` header. It is not a credential on its own. */
  token: string;
  /** Set-Cookie values to send (the pre-session cookie, when a new one was started). */
  cookies: string[];
  /** The pre-session id the token is bound to, or null for a session-bound token. */
  preSessionId: string | null;
}

/** The configured protection: token issuance and request checks. Create it once per app. */
export interface CsrfProtection {
  readonly headerName: string;
  readonly fieldName: string;
  readonly preSessionCookieName: string;
  readonly reportOnly: boolean;
  /**
   * A fresh token for the request: bound to the session when there is one, else to the pre-session
   * cookie (started when the client has none). Every call returns a different string; all stay
   * valid as long as the session (or pre-session) does. Never writes to the store.
   */
  token(input: CsrfTokenInput): CsrfToken;
  /**
   * Checks an unsafe request: a same-origin signal (`Sec-Fetch-Site`, else `Origin`, else the
   * `Referer`'s origin), then the token (waived only for bearer requests on `{ bearer: true }` routes). Throws `SessionError('CSRF_REJECTED')` (or
   * `CONTENT_TYPE_REJECTED`) with a `reason`, unless in report-only mode; every failure emits a
   * `csrf.rejected` event.
   */
  verify(request: CsrfRequest, options?: CsrfCheckOptions): CsrfVerdict;
  /**
   * The Set-Cookie value that deletes the pre-session cookie, when the request carried one (D3:
   * pre-login state is destroyed at login), else nothing.
   */
  endPreSession(cookieHeader: CookieHeaderInput): string[];
}

/**
 * Creates CSRF protection for cookie sessions (checklist rows H1-H8).
 *
 * Tokens are `hex(HMAC-SHA256(k, len(sid)!sid!len(r)!r)).hex(r)` with `r` 256 random bits, so
 * they are bound to the session id and need no store. `k` is derived from `key`, separately for
 * session-bound and pre-session tokens, so one kind never passes for the other.
 *
 * @example
 * ```ts
 * const csrf = createCsrfProtection({
 *   key: secretBytes, // >= 32 random bytes, from your secret manager
 *   allowedOrigins: ['https://app.example.com'],
 *   manager: sessions,
 * })
 * const { token } = csrf.token({ session }) // render into the form as _csrf
 * csrf.verify({ method: 'POST', headers, session, formToken: body._csrf }) // throws CSRF_REJECTED
 * ```
 */
export function createCsrfProtection(options: CsrfOptions): CsrfProtection {
  if (!options || !(options.key instanceof Uint8Array) || options.key.length < MIN_CSRF_KEY_BYTES) {
    throw new SessionError('CONFIG_INVALID', `The CSRF key must be at least ${MIN_CSRF_KEY_BYTES} random bytes`);
  }
  const allowedOrigins = new Set(parseAllowedOrigins(options.allowedOrigins));
  // The manager's clock, random source and mode, or the ones given: never a silent mix of both.
  if (options.manager && (options.mode !== undefined || options.clock !== undefined || options.random !== undefined)) {
    throw new SessionError('CONFIG_INVALID', 'Give either a manager or mode, clock and random, not both');
  }
  const runtime = options.manager ? runtimeOf(options.manager) : null;
  const mode = runtime?.cookie.mode ?? options.mode ?? 'production';
  const clock = runtime?.clock ?? options.clock ?? systemClock;
  const random = runtime?.random ?? options.random ?? webRandom;
  const trustSameSite = options.trustSameSite === true;
  const requireToken = options.requireToken !== false;
  const reportOnly = options.reportOnly === true;
  const headerName = (options.headerName ?? CSRF_HEADER_NAME).toLowerCase();
  const fieldName = options.fieldName ?? CSRF_FIELD_NAME;
  const secure = mode === 'production';
  const preSessionCookieName = options.preSessionCookieName ?? (secure ? '__Host-pre' : 'pre');
  if (!isCookieName(headerName)) throw new SessionError('CONFIG_INVALID', 'headerName is not a valid header name');
  if (fieldName.length === 0) throw new SessionError('CONFIG_INVALID', 'fieldName must not be empty');
  if (!isCookieName(preSessionCookieName)) {
    throw new SessionError('CONFIG_INVALID', 'preSessionCookieName is not a valid cookie name');
  }
  // Separate keys per token kind: a pre-session token can never pass as a session token.
  const sessionKey = hmacSha256(options.key, 'csrf-token/v1/session');
  const preSessionKey = hmacSha256(options.key, 'csrf-token/v1/pre-session');
  const preCookieAttributes = { path: '/', secure, httpOnly: true, sameSite: 'strict' } as const;
  // Fail at start-up, not at the first anonymous form, if the name breaks the prefix rules.
  try {
    serializeCookie(preSessionCookieName, '', preCookieAttributes);
  } catch (error) {
    throw new SessionError('CONFIG_INVALID', (error as Error).message);
  }

  const reject = (
    request: CsrfRequest,
    reason: CsrfRejectReason,
    code: SessionErrorCode = 'CSRF_REJECTED',
  ): CsrfVerdict => {
    runtime?.emit({
      type: 'csrf.rejected',
      at: clock.now(),
      reason: reportOnly ? `report_only:${reason}` : reason,
      sidHash: request.session ? runtime.sidHash(request.session.id) : undefined,
      userId: request.session?.userId,
      ip: request.ip ?? null,
    });
    if (reportOnly) return { outcome: 'reported', reason };
    throw new SessionError(code, undefined, { reason });
  };

  const originFailure = (headers: HeaderSource): CsrfRejectReason | null => {
    const fetchSite = readHeader(headers, 'sec-fetch-site');
    const origin = readHeader(headers, 'origin');
    // An exactly allowed Origin is trusted whatever Sec-Fetch-Site says (as Go's trusted origins).
    if (origin !== null && allowedOrigins.has(origin)) return null;
    if (fetchSite !== null) {
      if (fetchSite === 'same-origin' || fetchSite === 'none') return null;
      if (fetchSite === 'same-site') return trustSameSite ? null : 'same_site';
      return fetchSite === 'cross-site' ? 'cross_site' : 'fetch_site_invalid';
    }
    if (origin !== null) return origin === 'null' ? 'origin_null' : 'origin_mismatch';
    const referer = readHeader(headers, 'referer');
    if (referer === null) return 'origin_missing';
    return allowedOrigins.has(originOf(referer) ?? '') ? null : 'referer_mismatch';
  };

  const tokenFailure = (request: CsrfRequest, cookieHeader: CookieHeaderInput): CsrfRejectReason | null => {
    const headerValue = readHeader(request.headers, headerName);
    const presented = headerValue ?? (request.formToken === undefined ? null : request.formToken);
    if (presented === null || presented === '') return 'token_missing';
    if (typeof presented !== 'string' || !TOKEN_PATTERN.test(presented)) return 'token_invalid';
    if (request.session) {
      // A token bound to the session's CSRF id (kept across rotation) or, for tokens issued
      // before the session had one, to its id. Both are checked so the time says nothing.
      const csrfId = csrfIdOf(request.session);
      const byId = checkToken(sessionKey, request.session.id, presented);
      const byCsrfId = csrfId !== null && checkToken(sessionKey, csrfBinding(csrfId), presented);
      return byId || byCsrfId ? null : 'token_invalid';
    }
    const preSessionIds = getCookieValues(cookieHeader, preSessionCookieName).filter(isPreSessionId);
    if (preSessionIds.length === 0) return 'token_missing';
    // Every candidate is checked, so the time does not reveal which one matched.
    let matched = false;
    for (const id of preSessionIds) matched = checkToken(preSessionKey, id, presented) || matched;
    return matched ? null : 'token_invalid';
  };

  return {
    headerName,
    fieldName,
    preSessionCookieName,
    reportOnly,

    token(input) {
      const r = toHex(randomBytes(RANDOM_BYTES, random));
      if (input.session) {
        const csrfId = csrfIdOf(input.session);
        const bound = csrfId === null ? input.session.id : csrfBinding(csrfId);
        return { token: signToken(sessionKey, bound, r), cookies: [], preSessionId: null };
      }
      const held =
        input.preSessionId ?? getCookieValues(input.cookieHeader, preSessionCookieName).find(isPreSessionId) ?? null;
      const preSessionId = held ?? base64urlEncode(randomBytes(RANDOM_BYTES, random));
      const cookies = held ? [] : [serializeCookie(preSessionCookieName, preSessionId, preCookieAttributes)];
      return { token: signToken(preSessionKey, preSessionId, r), cookies, preSessionId };
    },

    verify(request, checkOptions = {}) {
      if (SAFE_METHODS.has(request.method)) return { outcome: 'safe_method' };
      const cookieHeader = request.cookieHeader ?? readHeaderLines(request.headers, 'cookie');
      const hasCookies = cookieHeader !== null && cookieHeader !== undefined && cookieHeader.length > 0;
      // The header alone proves nothing (a preflighted cross-site fetch can set it); only a route
      // that authenticates by the bearer token, asked without any cookie, may skip the token.
      const bearer =
        checkOptions.bearer === true &&
        !hasCookies &&
        readBearerToken(readHeader(request.headers, 'authorization')) !== null;
      const originReason = originFailure(request.headers);
      // Browsers send Origin or Sec-Fetch-Site on every cross-origin request that sets
      // Authorization, so a bearer request with no signal at all comes from a non-browser client.
      if (originReason && !(bearer && originReason === 'origin_missing')) return reject(request, originReason);
      if (requireToken && !bearer && !request.session && request.sessionUnavailable === true) {
        if (reportOnly) return { outcome: 'passed' };
        // An outage, not a forgery: no csrf.rejected event, and the client may retry.
        throw new SessionError('STORE_UNAVAILABLE', undefined, { reason: 'session_unreadable' });
      }
      // Logout: the origin checks above are the whole defence (see CsrfCheckOptions.logout).
      if (requireToken && !bearer && checkOptions.logout !== true) {
        const tokenReason = tokenFailure(request, cookieHeader);
        if (tokenReason) return reject(request, tokenReason);
      }
      if (checkOptions.requireJson && !isJsonOrBodiless(request.headers)) {
        return reject(request, 'content_type', 'CONTENT_TYPE_REJECTED');
      }
      return { outcome: bearer ? 'bearer' : 'passed' };
    },

    endPreSession(cookieHeader) {
      if (getCookieValues(cookieHeader, preSessionCookieName, 1).length === 0) return [];
      return [serializeCookie(preSessionCookieName, '', { ...preCookieAttributes, maxAge: 0, expires: EPOCH_EXPIRES })];
    },
  };
}

/**
 * Validates allowed origins the way browsers serialise them; anything else (a path, a trailing
 * slash, upper case, a default port, `null`) would never match and is a configuration error.
 */
function parseAllowedOrigins(origins: readonly string[] | undefined): string[] {
  if (!Array.isArray(origins) || origins.length === 0) {
    throw new SessionError('CONFIG_INVALID', 'allowedOrigins must list at least one origin');
  }
  return origins.map((origin) => {
    if (typeof origin !== 'string' || originOf(origin) !== origin) {
      throw new SessionError(
        'CONFIG_INVALID',
        'Each allowed origin must be a serialised origin such as https://app.example.com',
      );
    }
    return origin;
  });
}

/** The serialised origin of an http(s) URL, or null. */
function originOf(url: string): string | null {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return null;
    return parsed.origin;
  } catch {
    return null;
  }
}

const CSRF_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

function csrfIdOf(session: CsrfSession): string | null {
  const csrfId = session.metadata?.csrfId;
  return typeof csrfId === 'string' && CSRF_ID_PATTERN.test(csrfId) ? csrfId : null;
}

// A prefix no session id carries, so a CSRF id can never be mistaken for a session id.
function csrfBinding(csrfId: string): string {
  return `csrf-id:${csrfId}`;
}

function isPreSessionId(value: string): boolean {
  return value.length === PRE_SESSION_ID_LENGTH && isBase64url(value);
}

function signToken(key: Uint8Array, boundId: string, r: string): string {
  return `${toHex(hmacSha256(key, tokenMessage(boundId, r)))}.${r}`;
}

function checkToken(key: Uint8Array, boundId: string, token: string): boolean {
  const dot = token.indexOf('.');
  const expected = toHex(hmacSha256(key, tokenMessage(boundId, token.slice(dot + 1))));
  return constantTimeEqualString(expected, token.slice(0, dot));
}

// Length-prefixed fields (row H1), so that no two (id, r) pairs give the same message.
function tokenMessage(boundId: string, r: string): string {
  return `${boundId.length}!${boundId}!${r.length}!${r}`;
}

function isJsonOrBodiless(headers: HeaderSource): boolean {
  const contentType = readHeader(headers, 'content-type');
  if (contentType === null) {
    const length = readHeader(headers, 'content-length');
    const hasBody = readHeader(headers, 'transfer-encoding') !== null || (length !== null && length !== '0');
    return !hasBody;
  }
  const mediaType = (contentType.split(';')[0] as string).trim().toLowerCase();
  return mediaType === 'application/json' || /^application\/[a-z0-9.!#$&^_-]+\+json$/.test(mediaType);
}

/** One header value; several lines of a single-valued header count as invalid (joined). */
function readHeader(headers: HeaderSource, name: string): string | null {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(name: string): string | null }).get(name);
  }
  const value = (headers as Record<string, string | readonly string[] | undefined>)[name];
  if (value === undefined) return null;
  return typeof value === 'string' ? value : value.join(', ');
}

function readHeaderLines(headers: HeaderSource, name: string): CookieHeaderInput {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(name: string): string | null }).get(name);
  }
  return (headers as Record<string, string | readonly string[] | undefined>)[name];
}

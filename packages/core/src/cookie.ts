import { SessionError } from './errors.js';
import { MAX_COOKIE_LIFETIME_SECONDS } from './policy.js';

/** RFC 6265bis section 5.6: browsers drop cookies whose name plus value exceed this. */
export const MAX_COOKIE_NAME_VALUE_BYTES = 4096;
/** RFC 6265bis section 5.6: browsers ignore attribute values longer than this. */
export const MAX_COOKIE_ATTRIBUTE_BYTES = 1024;
/**
 * Cookie headers longer than this are read only up to here (servers reject far less anyway). The
 * pair that crosses this limit is dropped whole, never returned cut short.
 */
export const MAX_COOKIE_HEADER_LENGTH = 64 * 1024;
/** How many distinct same-name values are checked at most (cookie tossing, CK-09). */
export const MAX_COOKIE_CANDIDATES = 4;
/** `Expires` value of a deletion cookie. */
export const EPOCH_EXPIRES = 'Thu, 01 Jan 1970 00:00:00 GMT';

export type SameSite = 'lax' | 'strict' | 'none';

/**
 * `production` (the default) always sends `Secure` and, for host-only cookies, the `__Host-`
 * prefix. Browsers treat http://localhost as a secure context, so production mode works there.
 * `development` is the explicit, named mode for plain-http hosts other than localhost: it drops
 * `Secure` and the prefix. It is never chosen automatically.
 */
export type CookieMode = 'production' | 'development';

/** The characters of a string, as a union. */
type CharsOf<S extends string, Found extends string = never> = S extends `${infer C}${infer Rest}`
  ? CharsOf<Rest, Found | C>
  : Found;

/** The characters of a cookie name: an RFC 9110 token (ALPHA / DIGIT / "!#$%&'*+-.^_`|~"). */
type CookieNameChar = CharsOf<"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~">;

/**
 * The prefix, one character at a time; browsers match it case-insensitively (RFC 6265bis section
 * 5.7), so `__host-` counts too.
 */
type HostPrefixSteps = ['_', '_', 'H' | 'h', 'O' | 'o', 'S' | 's', 'T' | 't', '-'];

/**
 * The strings that leave the steps at some character: every name that does not start with them,
 * except a name that is itself a beginning of the prefix (`_`, `__`, `__Host`), which no one
 * picks. Template literal types have no negation, so this spells it out (about 2,400 patterns).
 */
type NotStartingWith<Steps extends readonly string[], Done extends string = ''> = Steps extends readonly [
  infer Next extends string,
  ...infer Rest extends readonly string[],
]
  ? `${Done}${Exclude<CookieNameChar, Next>}${string}` | NotStartingWith<Rest, `${Done}${Next}`>
  : never;

/**
 * A cookie name known not to start with `__Host-` in any case: `__Secure-sid`, `app_sid`, ...
 * A name typed only as `string` is not one, since it could be `__Host-` anything. (`& string`
 * only makes TypeScript print this name in messages rather than the patterns.)
 */
export type CookieNameWithoutHostPrefix = NotStartingWith<HostPrefixSteps> & string;

interface CookieOptionsBase {
  /** Default `lax`. `none` requires `Secure` (production mode) and an explicit choice. */
  sameSite?: SameSite;
  /** CHIPS partitioned cookie (for embedded, third-party contexts). Default false. */
  partitioned?: boolean;
  /**
   * In production mode a session cookie whose name does not start with `__Host-` (a `domain`, a
   * `path` other than `/`, or a custom name) gets a warning on the console when the policy is
   * built: a sibling subdomain, or anyone on a plain-http page of one, can plant cookies under
   * that name (cookie tossing) and keep users signed out. Set `true` once you accept that risk.
   */
  allowWithoutHostPrefix?: boolean;
}

/**
 * A host-only cookie at `Path=/`: any name, `__Host-` ones included (the default, `__Host-sid` in
 * production and `sid` in development).
 */
export interface HostOnlyCookieOptions extends CookieOptionsBase {
  /** Defaults to `__Host-sid` in production and `sid` in development. */
  name?: string;
  /** `/`, the default: the only path a `__Host-` cookie may have. */
  path?: '/';
  /** Not set: the cookie goes back only to the host that set it. */
  domain?: undefined;
}

/**
 * A cookie shared with subdomains (`domain`) or limited to a path: its name must not start with
 * `__Host-`, as browsers would drop it (`__Secure-sid` is the default here in production, `sid`
 * in development).
 */
export interface ScopedCookieOptions extends CookieOptionsBase {
  /** Defaults to `__Secure-sid` in production and `sid` in development. */
  name?: CookieNameWithoutHostPrefix;
  /** Default `/`. Must start with `/`. */
  path?: string;
  /** Share the cookie with subdomains. Off by default (host-only). */
  domain?: string;
}

/**
 * The session cookie's options. The `__Host-` prefix rules are in the type: a name starting with
 * `__Host-` allows no `domain` and only the path `/`, so
 * `{ name: '__Host-sid', domain: 'example.com' }` does not compile (use `__Secure-sid`); the same
 * rules are checked at run time (`CONFIG_INVALID`) for JavaScript callers. A `domain` or another
 * path needs a name whose type shows it has no `__Host-` prefix: a string literal, or a
 * {@link CookieNameWithoutHostPrefix}.
 *
 * @example
 * ```ts
 * const hostOnly: CookieOptions = { sameSite: 'strict' }                         // __Host-sid
 * const shared: CookieOptions = { name: '__Secure-sid', domain: 'example.com' }  // subdomains too
 * ```
 */
export type CookieOptions = HostOnlyCookieOptions | ScopedCookieOptions;

/** A validated cookie policy: data, not scattered flags. */
export interface CookiePolicy {
  /** `production` (the default) or `development`; decides `secure` and the default name. */
  readonly mode: CookieMode;
  /** Cookie name: the option, else `__Host-sid` (host-only, `/`), `__Secure-sid` (scoped) or `sid` in development. */
  readonly name: string;
  /** `Path` attribute; default `/`. */
  readonly path: string;
  /** `Domain` attribute; `undefined` (the default) makes the cookie host-only. */
  readonly domain: string | undefined;
  /** `Secure` attribute: true in production mode, false in development. */
  readonly secure: boolean;
  /** Always `HttpOnly`: scripts never read the session cookie. */
  readonly httpOnly: true;
  /** `SameSite` attribute; default `lax`. */
  readonly sameSite: SameSite;
  /** CHIPS `Partitioned` attribute; default false. */
  readonly partitioned: boolean;
}

/** Attributes accepted by {@link serializeCookie}. */
export interface CookieAttributes {
  path?: string;
  domain?: string;
  /** Seconds; capped at 400 days. 0 deletes the cookie. */
  maxAge?: number;
  /** An HTTP date string, e.g. `Thu, 01 Jan 1970 00:00:00 GMT`. */
  expires?: string;
  secure?: boolean;
  httpOnly?: boolean;
  sameSite?: SameSite;
  partitioned?: boolean;
}

/**
 * Builds a validated cookie policy. Throws `CONFIG_INVALID` when the options contradict the
 * prefix rules or ask for `SameSite=None` without `Secure`.
 *
 * @example
 * ```ts
 * const policy = resolveCookiePolicy({ sameSite: 'strict' }) // __Host-sid, Secure, HttpOnly
 * ```
 */
export function resolveCookiePolicy(options: CookieOptions = {}, mode: CookieMode = 'production'): CookiePolicy {
  if (mode !== 'production' && mode !== 'development') {
    throw new SessionError('CONFIG_INVALID', 'cookie mode must be "production" or "development"');
  }
  const secure = mode === 'production';
  const path = options.path ?? '/';
  const domain = options.domain;
  const hostOnlyRoot = path === '/' && domain === undefined;
  const name = options.name ?? (secure && hostOnlyRoot ? '__Host-sid' : secure ? '__Secure-sid' : 'sid');
  const sameSite = options.sameSite ?? 'lax';

  if (!isCookieName(name)) throw new SessionError('CONFIG_INVALID', 'cookie name is not a valid token');
  if (sameSite !== 'lax' && sameSite !== 'strict' && sameSite !== 'none') {
    throw new SessionError('CONFIG_INVALID', 'sameSite must be "lax", "strict" or "none"');
  }
  if (sameSite === 'none' && !secure) {
    throw new SessionError('CONFIG_INVALID', 'SameSite=None requires Secure (production mode)');
  }
  const policy: CookiePolicy = Object.freeze({
    mode,
    name,
    path,
    domain,
    secure,
    httpOnly: true,
    sameSite,
    partitioned: options.partitioned ?? false,
  });
  try {
    checkPrefixRules(name, { path, domain, secure });
    if (!path.startsWith('/')) throw new SessionError('COOKIE_INVALID', 'path must start with "/"');
    checkAttributeValue(path);
    if (domain !== undefined) checkAttributeValue(domain);
  } catch (error) {
    throw new SessionError('CONFIG_INVALID', (error as Error).message);
  }
  if (secure && options.allowWithoutHostPrefix !== true) warnWithoutHostPrefix(name);
  return policy;
}

/** Names already warned about: a manager built per request must not flood the log. */
const warnedNames = new Set<string>();

function warnWithoutHostPrefix(name: string): void {
  // Browsers match prefixes case-insensitively, as checkPrefixRules does.
  if (name.slice(0, 7).toLowerCase() === '__host-' || warnedNames.has(name)) return;
  warnedNames.add(name);
  console.warn(
    `[@org/session-core] The session cookie "${name}" has no __Host- prefix, so a sibling subdomain ` +
      'can plant cookies under its name (cookie tossing) and keep users signed out. Use the default ' +
      '__Host-sid (no domain, path "/") if you can; set cookie.allowWithoutHostPrefix: true to accept the risk.',
  );
}

/**
 * Set-Cookie value carrying a session token. `maxAge` only for persistent sessions.
 *
 * @example
 * ```ts
 * serializeSessionCookie(resolveCookiePolicy(), token)
 * // '__Host-sid=<token>; Path=/; Secure; HttpOnly; SameSite=Lax'
 * ```
 */
export function serializeSessionCookie(policy: CookiePolicy, value: string, maxAge?: number): string {
  return serializeCookie(policy.name, value, {
    path: policy.path,
    domain: policy.domain,
    maxAge,
    secure: policy.secure,
    httpOnly: policy.httpOnly,
    sameSite: policy.sameSite,
    partitioned: policy.partitioned,
  });
}

/**
 * Set-Cookie value that deletes the session cookie: same name, path and flags, Max-Age=0.
 *
 * @example
 * ```ts
 * serializeDeletionCookie(resolveCookiePolicy())
 * // '__Host-sid=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Lax'
 * ```
 */
export function serializeDeletionCookie(policy: CookiePolicy): string {
  return serializeCookie(policy.name, '', {
    path: policy.path,
    domain: policy.domain,
    maxAge: 0,
    expires: EPOCH_EXPIRES,
    secure: policy.secure,
    httpOnly: policy.httpOnly,
    sameSite: policy.sameSite,
    partitioned: policy.partitioned,
  });
}

const sameSiteLabel: Record<SameSite, string> = { lax: 'Lax', strict: 'Strict', none: 'None' };

/**
 * Serialises one Set-Cookie value. Throws `COOKIE_INVALID` for a name that is not an RFC 9110
 * token, a value outside cookie-octets, broken prefix rules or header-splitting characters, and
 * `COOKIE_TOO_LARGE` when name + value exceed 4096 bytes or an attribute exceeds 1024.
 *
 * @example
 * ```ts
 * serializeCookie('theme', 'dark', { path: '/', sameSite: 'lax' })
 * // 'theme=dark; Path=/; Secure; HttpOnly; SameSite=Lax'
 * ```
 */
export function serializeCookie(name: string, value: string, attributes: CookieAttributes = {}): string {
  if (!isCookieName(name)) throw new SessionError('COOKIE_INVALID', 'Cookie name is not a valid token');
  if (!isCookieValue(value))
    throw new SessionError('COOKIE_INVALID', 'Cookie value contains characters outside cookie-octets');
  if (name.length + value.length > MAX_COOKIE_NAME_VALUE_BYTES) {
    throw new SessionError('COOKIE_TOO_LARGE', 'Cookie name and value exceed 4096 bytes');
  }
  const secure = attributes.secure ?? true;
  checkPrefixRules(name, { path: attributes.path, domain: attributes.domain, secure });
  if (attributes.sameSite === 'none' && !secure) {
    throw new SessionError('COOKIE_INVALID', 'SameSite=None requires Secure');
  }

  let out = `${name}=${value}`;
  if (attributes.path !== undefined) {
    // Browsers ignore a Path that does not start with "/" (RFC 6265bis section 5.6.4).
    if (!attributes.path.startsWith('/')) throw new SessionError('COOKIE_INVALID', 'Path must start with "/"');
    out += `; Path=${checkAttributeValue(attributes.path)}`;
  }
  if (attributes.domain !== undefined) out += `; Domain=${checkAttributeValue(attributes.domain)}`;
  if (attributes.maxAge !== undefined) {
    const maxAge = attributes.maxAge;
    if (!Number.isInteger(maxAge) || maxAge < 0)
      throw new SessionError('COOKIE_INVALID', 'Max-Age must be a non-negative integer');
    out += `; Max-Age=${Math.min(maxAge, MAX_COOKIE_LIFETIME_SECONDS)}`;
  }
  if (attributes.expires !== undefined) out += `; Expires=${checkAttributeValue(attributes.expires)}`;
  if (secure) out += '; Secure';
  if (attributes.httpOnly ?? true) out += '; HttpOnly';
  if (attributes.sameSite !== undefined) out += `; SameSite=${sameSiteLabel[attributes.sameSite]}`;
  if (attributes.partitioned) {
    if (!secure) throw new SessionError('COOKIE_INVALID', 'Partitioned requires Secure');
    out += '; Partitioned';
  }
  return out;
}

function checkPrefixRules(
  name: string,
  attributes: { path?: string | undefined; domain?: string | undefined; secure: boolean },
): void {
  // Browsers match prefixes case-insensitively (RFC 6265bis section 5.7), so must we.
  const lower = name.slice(0, 9).toLowerCase();
  if (lower.startsWith('__host-')) {
    if (!attributes.secure || attributes.path !== '/' || attributes.domain !== undefined) {
      throw new SessionError('COOKIE_INVALID', 'A __Host- cookie needs Secure, Path=/ and no Domain');
    }
  } else if (lower.startsWith('__secure-') && !attributes.secure) {
    throw new SessionError('COOKIE_INVALID', 'A __Secure- cookie needs Secure');
  }
}

function checkAttributeValue(value: string): string {
  // An empty Domain or Expires is ignored by browsers: refuse to send one rather than guess.
  if (value.length === 0) throw new SessionError('COOKIE_INVALID', 'Cookie attribute value is empty');
  if (value.length > MAX_COOKIE_ATTRIBUTE_BYTES) {
    throw new SessionError('COOKIE_TOO_LARGE', 'Cookie attribute value exceeds 1024 bytes');
  }
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // av-octet: any CHAR except CTLs or ";" (RFC 6265bis section 4.1.1); ASCII only.
    if (c < 0x20 || c === 0x3b || c >= 0x7f) {
      throw new SessionError('COOKIE_INVALID', 'Cookie attribute value contains a forbidden character');
    }
  }
  return value;
}

/**
 * RFC 9110 token: the grammar of cookie names.
 *
 * @example
 * ```ts
 * isCookieName('__Host-sid') // true
 * isCookieName('my sid') // false
 * ```
 */
export function isCookieName(name: string): boolean {
  if (typeof name !== 'string' || name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    if (!isTokenChar(name.charCodeAt(i))) return false;
  }
  return true;
}

function isTokenChar(c: number): boolean {
  // ALPHA / DIGIT / "!#$%&'*+-.^_`|~"
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x21 ||
    (c >= 0x23 && c <= 0x27) ||
    c === 0x2a ||
    c === 0x2b ||
    c === 0x2d ||
    c === 0x2e ||
    c === 0x5e ||
    c === 0x5f ||
    c === 0x60 ||
    c === 0x7c ||
    c === 0x7e
  );
}

/**
 * RFC 6265bis cookie-octets, unquoted: no CTLs, whitespace, DQUOTE, comma, semicolon or backslash.
 *
 * @example
 * ```ts
 * isCookieValue('abc.DEF_-') // true
 * isCookieValue('a;b') // false
 * ```
 */
export function isCookieValue(value: string): boolean {
  if (typeof value !== 'string') return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || c === 0x22 || c === 0x2c || c === 0x3b || c === 0x5c) return false;
  }
  return true;
}

/** What a server receives: one `Cookie` header, several (HTTP/2 may split it), or none. */
export type CookieHeaderInput = string | readonly string[] | null | undefined;

/**
 * Parses a `Cookie` request header strictly into name/value pairs, in order. Names are exact-case;
 * values are neither percent-decoded nor unquoted. Spaces and tabs around a name or a value are
 * optional whitespace and trimmed (RFC 6265bis section 5.6). Pairs without `=`, with an empty name,
 * with control or non-ASCII characters inside the name or value, or whose name and value exceed
 * 4096 bytes are skipped. Never throws, whatever it is given; runs in time linear in the input,
 * which is read up to 64 KiB: a pair crossing that limit is dropped, never returned cut short.
 *
 * @example
 * ```ts
 * parseCookieHeader('theme=dark; __Host-sid=abc') // [['theme', 'dark'], ['__Host-sid', 'abc']]
 * ```
 */
export function parseCookieHeader(header: CookieHeaderInput): Array<[name: string, value: string]> {
  const pairs: Array<[string, string]> = [];
  scanCookiePairs(header, (line, nameStart, nameEnd, valueStart, valueEnd) => {
    if (isVisibleAscii(line, nameStart, nameEnd) && isVisibleAscii(line, valueStart, valueEnd)) {
      pairs.push([line.slice(nameStart, nameEnd), line.slice(valueStart, valueEnd)]);
    }
    return true;
  });
  return pairs;
}

/**
 * The distinct values of cookie `name` (exact case) in order of first appearance, at most `limit`
 * of them, skipping empty ones. Same rules as {@link parseCookieHeader}. Duplicates are removed
 * before the limit applies, so repeating one value cannot push another out; ask for one more than
 * you will check to learn whether more values arrived than were checked.
 *
 * @example
 * ```ts
 * getCookieValues('__Host-sid=a; __host-sid=b; __Host-sid=a; __Host-sid=c', '__Host-sid') // ['a', 'c']
 * ```
 */
export function getCookieValues(header: CookieHeaderInput, name: string, limit = MAX_COOKIE_CANDIDATES): string[] {
  const values: string[] = [];
  if (!(limit >= 1) || header === null || header === undefined) return values;
  if (name !== lastTokenName && name !== otherTokenName && !isCookieName(name)) {
    // Names outside the token grammar take the general path (same answers, just slower).
    scanCookiePairs(header, (line, nameStart, nameEnd, valueStart, valueEnd) => {
      if (
        valueEnd > valueStart &&
        nameEnd - nameStart === name.length &&
        line.startsWith(name, nameStart) &&
        isVisibleAscii(line, nameStart, nameEnd) &&
        isVisibleAscii(line, valueStart, valueEnd)
      ) {
        const value = line.slice(valueStart, valueEnd);
        if (!values.includes(value)) values.push(value);
      }
      return values.length < limit;
    });
    return values;
  }
  // A manager asks for the same name on every request (hybrid mode for two): remember the last
  // two that were checked.
  if (name !== lastTokenName) {
    otherTokenName = lastTokenName;
    lastTokenName = name;
  }
  readCookieValues(header, name, limit, values);
  return values;
}

/**
 * Package-private: the values `getCookieValues(header, name, limit)` returns, written into `out`
 * from index 0 (growing it only past its length), and how many there are. `name` must be a cookie
 * name (see {@link isCookieName}), as a manager's always is. The read path reuses one `out` array
 * rather than allocating one per request.
 */
export function readCookieValues(header: CookieHeaderInput, name: string, limit: number, out: string[]): number {
  let count = 0;
  let budget = MAX_COOKIE_HEADER_LENGTH;
  const lines = typeof header === 'string' ? null : Array.isArray(header) ? (header as readonly unknown[]) : NO_LINES;
  const lineCount = lines === null ? 1 : lines.length;
  for (let index = 0; index < lineCount; index++) {
    const raw = lines === null ? header : lines[index];
    if (typeof raw !== 'string' || budget <= 0) return count;
    const line = raw.length > budget ? completePairs(raw, budget) : raw;
    budget -= raw.length;
    // Straight to each occurrence of the name (one native search skips the other cookies), kept
    // only where a pair starts: after the line's start or a ";", and optional whitespace.
    let at = line.indexOf(name);
    while (at !== -1) {
      let before = at - 1;
      while (before >= 0 && isWhitespace(line.charCodeAt(before))) before--;
      let end = line.indexOf(';', at);
      if (end === -1) end = line.length;
      if (before === -1 || line.charCodeAt(before) === 0x3b /* ; */) {
        // Spaces and tabs are optional whitespace around "=" (a token name holds neither).
        let eq = at + name.length;
        while (eq < end && isWhitespace(line.charCodeAt(eq))) eq++;
        if (eq < end && line.charCodeAt(eq) === 0x3d /* = */) {
          let e = end;
          while (e > eq + 1 && isWhitespace(line.charCodeAt(e - 1))) e--;
          let valueStart = eq + 1;
          while (valueStart < e && isWhitespace(line.charCodeAt(valueStart))) valueStart++;
          if (e > valueStart && name.length + (e - valueStart) <= MAX_COOKIE_NAME_VALUE_BYTES) {
            const value = line.slice(valueStart, e);
            if (VISIBLE_ASCII.test(value) && !holds(out, count, value)) {
              out[count++] = value;
              if (count >= limit) return count;
            }
          }
        }
      }
      // A name holds no ";": the next pair starts after this segment.
      at = end >= line.length ? -1 : line.indexOf(name, end + 1);
    }
  }
  return count;
}

const NO_LINES: readonly unknown[] = [];

/** Whether `value` is among the first `count` entries of `values` (at most a few: no Set). */
function holds(values: readonly string[], count: number, value: string): boolean {
  for (let i = 0; i < count; i++) if (values[i] === value) return true;
  return false;
}

/**
 * Whether the `Cookie` header is longer than {@link MAX_COOKIE_HEADER_LENGTH}, so that pairs past
 * the limit were never read: a caller then cannot tell that its cookie is absent or unique.
 */
export function isCookieHeaderCut(header: CookieHeaderInput): boolean {
  if (typeof header === 'string') return header.length > MAX_COOKIE_HEADER_LENGTH;
  if (!Array.isArray(header)) return false;
  let total = 0;
  for (const line of header as readonly unknown[]) {
    if (typeof line !== 'string') return false;
    total += line.length;
    if (total > MAX_COOKIE_HEADER_LENGTH) return true;
  }
  return false;
}

let lastTokenName = '__Host-sid';
let otherTokenName = '__Host-sjwt';

// Printable ASCII only; a native pattern is several times faster than a character loop here.
const VISIBLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * The part of `line` before the last ";" within `budget` characters: the pair crossing the limit
 * is dropped whole (a token cut short would read as malformed and get the cookie deleted).
 */
function completePairs(line: string, budget: number): string {
  return line.slice(0, Math.max(0, line.lastIndexOf(';', budget)));
}

/** Receives one well-formed pair as offsets into `line`; returns false to stop the scan. */
type PairVisitor = (line: string, nameStart: number, nameEnd: number, valueStart: number, valueEnd: number) => boolean;

function scanCookiePairs(header: CookieHeaderInput, visit: PairVisitor): void {
  // Typed callers pass a string or a list of strings; anything else (42, {}, true) has no pairs.
  const lines: readonly unknown[] = typeof header === 'string' ? [header] : Array.isArray(header) ? header : [];
  let budget = MAX_COOKIE_HEADER_LENGTH;
  for (const raw of lines) {
    if (typeof raw !== 'string' || budget <= 0) return;
    const line = raw.length > budget ? completePairs(raw, budget) : raw;
    budget -= raw.length;
    let start = 0;
    while (start < line.length) {
      let end = line.indexOf(';', start);
      if (end === -1) end = line.length;
      if (!visitPair(line, start, end, visit)) return;
      start = end + 1;
    }
  }
}

/**
 * Trims one `name=value` segment and finds its parts; segments without "=", with an empty name or
 * over the size limit are skipped (returns true). Characters are checked by the visitor, and only
 * for pairs it wants.
 */
function visitPair(line: string, start: number, end: number, visit: PairVisitor): boolean {
  let s = start;
  let e = end;
  while (s < e && isWhitespace(line.charCodeAt(s))) s++;
  while (e > s && isWhitespace(line.charCodeAt(e - 1))) e--;
  // Look for "=" inside this segment only: searching the rest of the line would make a header of
  // many "="-less segments cost quadratic time.
  let eq = s;
  while (eq < e && line.charCodeAt(eq) !== 0x3d /* = */) eq++;
  if (eq === e) return true;
  let nameEnd = eq;
  while (nameEnd > s && isWhitespace(line.charCodeAt(nameEnd - 1))) nameEnd--;
  if (nameEnd === s) return true;
  let valueStart = eq + 1;
  while (valueStart < e && isWhitespace(line.charCodeAt(valueStart))) valueStart++;
  // The browser limit counts name and value, not the "=" between them.
  if (nameEnd - s + (e - valueStart) > MAX_COOKIE_NAME_VALUE_BYTES) return true;
  return visit(line, s, nameEnd, valueStart, e);
}

/** No control characters, DEL or non-ASCII between `start` and `end`: such pairs are skipped. */
function isVisibleAscii(line: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = line.charCodeAt(i);
    if (c < 0x20 || c >= 0x7f) return false;
  }
  return true;
}

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

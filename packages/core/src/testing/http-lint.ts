import { type CookiePolicy, EPOCH_EXPIRES } from '../cookie.js';
import { errorCodes } from '../errors.js';
import { MAX_COOKIE_LIFETIME_SECONDS } from '../policy.js';

/**
 * The header-lint of the security checklist: one check run on every response of every HTTP test.
 * It is the passive part of a scanner (cookie flags, one Set-Cookie per name, caching, tokens in
 * bodies and redirects, error bodies), written once so that every adapter is held to the same rules.
 */

export interface HttpLintPolicy {
  /** The session cookie policy (`manager.cookie`): flags must be exactly these. */
  sessionCookie: CookiePolicy;
  /** Name of the CSRF pre-session cookie, when the app uses CSRF protection. */
  preSessionCookieName?: string;
  /** Values that must never appear in a body or a `Location` header (tokens the test knows). */
  secrets?: Iterable<string>;
}

/** What the lint looks at; `headers` without Set-Cookie is fine (it is passed separately). */
export interface HttpResponseSnapshot {
  status: number;
  headers: { get(name: string): string | null };
  setCookies: readonly string[];
  body: string;
}

interface ParsedSetCookie {
  name: string;
  value: string;
  attributes: Map<string, string | true>;
  duplicateAttribute: boolean;
}

const sameSiteLabel = { lax: 'Lax', strict: 'Strict', none: 'None' } as const;

/**
 * Checks one response and returns the problems found (empty when clean).
 *
 * @example
 * ```ts
 * const response = await fetch(url)
 * const problems = lintHttpResponse(
 *   { status: response.status, headers: response.headers, setCookies: response.headers.getSetCookie(), body: await response.text() },
 *   { sessionCookie: manager.cookie, preSessionCookieName: '__Host-pre' },
 * )
 * expect(problems).toEqual([])
 * ```
 */
export function lintHttpResponse(response: HttpResponseSnapshot, policy: HttpLintPolicy): string[] {
  const problems: string[] = [];
  const session = policy.sessionCookie;
  const seen = new Set<string>();
  const secrets = new Set([...(policy.secrets ?? [])].filter((s) => s.length >= 8));
  let setsManagedCookie = false;

  for (const line of response.setCookies) {
    const cookie = parseSetCookie(line);
    if (!cookie) {
      problems.push(`unparseable Set-Cookie: ${redact(line)}`);
      continue;
    }
    if (seen.has(cookie.name)) problems.push(`more than one Set-Cookie for ${cookie.name} (B5, SC-02)`);
    seen.add(cookie.name);
    if (cookie.duplicateAttribute) problems.push(`${cookie.name}: an attribute appears twice`);
    if (cookie.name === session.name) {
      setsManagedCookie = true;
      problems.push(
        ...checkFlags(cookie, {
          path: session.path,
          domain: session.domain,
          secure: session.secure,
          sameSite: sameSiteLabel[session.sameSite],
          partitioned: session.partitioned,
          mayPersist: true,
        }),
      );
    } else if (cookie.name === policy.preSessionCookieName) {
      setsManagedCookie = true;
      problems.push(
        ...checkFlags(cookie, {
          path: '/',
          domain: undefined,
          secure: session.secure,
          sameSite: 'Strict',
          partitioned: false,
          mayPersist: false,
        }),
      );
    }
    if (cookie.value.length >= 8 && (cookie.name === session.name || cookie.name === policy.preSessionCookieName)) {
      secrets.add(cookie.value);
    }
  }

  const cacheControl = response.headers.get('cache-control') ?? '';
  if (setsManagedCookie && !/(^|,)\s*no-store\s*(,|$)/i.test(cacheControl)) {
    problems.push('a session or CSRF cookie is set without Cache-Control: no-store (B8)');
  }

  const location = response.headers.get('location') ?? '';
  for (const secret of secrets) {
    if (response.body.includes(secret)) problems.push('a token appears in the body (B2)');
    if (location.includes(secret)) problems.push('a token appears in the Location header (A7)');
  }
  if (/[?&;](sid|session|jsessionid|token)=/i.test(location)) {
    problems.push('the Location header carries a session parameter (A7)');
  }

  problems.push(...checkErrorBody(response));
  return [...new Set(problems)];
}

function checkFlags(
  cookie: ParsedSetCookie,
  expected: {
    path: string;
    domain: string | undefined;
    secure: boolean;
    sameSite: string;
    partitioned: boolean;
    mayPersist: boolean;
  },
): string[] {
  const problems: string[] = [];
  const a = cookie.attributes;
  const name = cookie.name;
  const known = new Set(['path', 'domain', 'max-age', 'expires', 'secure', 'httponly', 'samesite', 'partitioned']);
  for (const attribute of a.keys())
    if (!known.has(attribute)) problems.push(`${name}: unexpected attribute ${attribute}`);
  if (a.get('path') !== expected.path) problems.push(`${name}: Path must be ${expected.path}`);
  if (expected.domain === undefined ? a.has('domain') : a.get('domain') !== expected.domain) {
    problems.push(`${name}: Domain must be ${expected.domain ?? 'absent (host-only)'}`);
  }
  if (a.has('secure') !== expected.secure)
    problems.push(`${name}: Secure must be ${expected.secure ? 'set' : 'absent'}`);
  if (a.get('httponly') !== true) problems.push(`${name}: HttpOnly is missing (B2)`);
  if (a.get('samesite') !== expected.sameSite) problems.push(`${name}: SameSite must be ${expected.sameSite} (B3)`);
  if (a.has('partitioned') !== expected.partitioned) problems.push(`${name}: Partitioned must match the policy`);

  const maxAge = a.get('max-age');
  if (cookie.value === '') {
    // A deletion: Max-Age=0 and the epoch Expires, same name, path and flags (B7).
    if (maxAge !== '0' || a.get('expires') !== EPOCH_EXPIRES) {
      problems.push(`${name}: a deletion needs Max-Age=0 and Expires=${EPOCH_EXPIRES} (B7)`);
    }
  } else {
    if (a.has('expires')) problems.push(`${name}: Expires on a live cookie (B6: Max-Age only)`);
    if (maxAge !== undefined) {
      const seconds = Number(maxAge);
      if (!expected.mayPersist) problems.push(`${name}: must not be persistent`);
      else if (!/^[1-9][0-9]*$/.test(String(maxAge)) || seconds > MAX_COOKIE_LIFETIME_SECONDS) {
        problems.push(`${name}: Max-Age must be a positive integer of at most 400 days (B6)`);
      }
    }
  }
  return problems;
}

/**
 * I4: an error body in our format is exactly `{ error: { code, message } }` with a known code, and
 * no JSON error body carries a stack. (A framework's own 404 body is not ours to shape.)
 */
function checkErrorBody(response: HttpResponseSnapshot): string[] {
  if (response.status < 400) return [];
  const contentType = response.headers.get('content-type') ?? '';
  if (!/^application\/json\b/i.test(contentType)) return [];
  let body: unknown;
  try {
    body = JSON.parse(response.body);
  } catch {
    return ['an error response declares JSON but its body is not JSON'];
  }
  if (typeof body !== 'object' || body === null) return ['an error body must be a JSON object'];
  const problems: string[] = [];
  if (/"stack"\s*:/.test(response.body)) problems.push('an error body carries a stack trace (I4)');
  const error = (body as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return problems;
  const fields = error as Record<string, unknown>;
  const shapeOk =
    Object.keys(body).length === 1 &&
    Object.keys(fields).sort().join(',') === 'code,message' &&
    typeof fields.code === 'string' &&
    typeof fields.message === 'string' &&
    (errorCodes as readonly string[]).includes(fields.code);
  if (!shapeOk) problems.push('an error body must be exactly { error: { code, message } } with a known code (I4)');
  return problems;
}

/** A lenient Set-Cookie reader for tests: name, value and attributes (names lower-cased). */
export function parseSetCookie(line: string): ParsedSetCookie | null {
  const parts = line.split(';');
  const first = parts.shift() ?? '';
  const eq = first.indexOf('=');
  if (eq <= 0) return null;
  const attributes = new Map<string, string | true>();
  let duplicateAttribute = false;
  for (const part of parts) {
    const trimmed = part.trim();
    if (trimmed === '') continue;
    const i = trimmed.indexOf('=');
    const key = (i === -1 ? trimmed : trimmed.slice(0, i)).trim().toLowerCase();
    if (attributes.has(key)) duplicateAttribute = true;
    attributes.set(key, i === -1 ? true : trimmed.slice(i + 1).trim());
  }
  return { name: first.slice(0, eq).trim(), value: first.slice(eq + 1).trim(), attributes, duplicateAttribute };
}

function redact(line: string): string {
  return line.length > 24 ? `${line.slice(0, 24)}…` : line;
}

export interface LintedRequest {
  method?: string;
  headers?: Record<string, string>;
  /** Cookies to send, as `name=value` pairs joined into one `Cookie` header. */
  cookies?: Record<string, string>;
  /** A JSON body (sets `Content-Type: application/json`). */
  json?: unknown;
  /** A form body (sets `Content-Type: application/x-www-form-urlencoded`). */
  form?: Record<string, string>;
  /** A raw body; set the content type yourself. */
  body?: string;
}

export interface LintedResponse {
  status: number;
  headers: Headers;
  setCookies: string[];
  text: string;
  /** The body parsed as JSON (throws when it is not JSON). */
  json<T = unknown>(): T;
  /** The value a Set-Cookie of this response gives `name` (`''` for a deletion), or undefined. */
  cookie(name: string): string | undefined;
}

export interface LintedClient {
  /** Sends a request with fetch, lints the response and throws on any problem. */
  request(path: string, init?: LintedRequest): Promise<LintedResponse>;
  /** Also never to appear in a body or Location, from now on. */
  addSecret(value: string): void;
  /** How many responses were linted. */
  readonly linted: number;
}

/**
 * A fetch client for HTTP tests that runs {@link lintHttpResponse} on every response and throws
 * when it finds a problem, so no test can forget the lint. Every session cookie value it sends
 * or receives becomes a secret that no later body or Location may contain.
 *
 * @example
 * ```ts
 * const client = createLintedClient(`http://127.0.0.1:${port}`, { sessionCookie: manager.cookie })
 * const res = await client.request('/me', { cookies: { '__Host-sid': token } })
 * ```
 */
export function createLintedClient(baseUrl: string, policy: HttpLintPolicy): LintedClient {
  const secrets = new Set(policy.secrets ?? []);
  let linted = 0;
  return {
    get linted() {
      return linted;
    },
    addSecret(value) {
      secrets.add(value);
    },
    async request(path, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      const pairs = Object.entries(init.cookies ?? {});
      if (pairs.length > 0) {
        const joined = pairs.map(([name, value]) => `${name}=${value}`).join('; ');
        headers.cookie = headers.cookie ? `${headers.cookie}; ${joined}` : joined;
        for (const [name, value] of pairs) if (name === policy.sessionCookie.name && value) secrets.add(value);
      }
      let body = init.body;
      if (init.json !== undefined) {
        headers['content-type'] ??= 'application/json';
        body = JSON.stringify(init.json);
      } else if (init.form !== undefined) {
        headers['content-type'] ??= 'application/x-www-form-urlencoded';
        body = new URLSearchParams(init.form).toString();
      }
      const response = await fetch(new URL(path, baseUrl), {
        method: init.method ?? (body === undefined ? 'GET' : 'POST'),
        headers,
        body,
        redirect: 'manual',
      });
      const text = await response.text();
      const setCookies = response.headers.getSetCookie();
      const problems = lintHttpResponse(
        { status: response.status, headers: response.headers, setCookies, body: text },
        { ...policy, secrets },
      );
      linted++;
      if (problems.length > 0) {
        throw new Error(`header-lint failed for ${init.method ?? 'GET'} ${path}:\n- ${problems.join('\n- ')}`);
      }
      for (const line of setCookies) {
        const cookie = parseSetCookie(line);
        if (cookie?.name === policy.sessionCookie.name && cookie.value) secrets.add(cookie.value);
      }
      return {
        status: response.status,
        headers: response.headers,
        setCookies,
        text,
        json: <T>() => JSON.parse(text) as T,
        cookie: (name: string) => {
          for (const line of setCookies) {
            const cookie = parseSetCookie(line);
            if (cookie?.name === name) return cookie.value;
          }
          return undefined;
        },
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The shared adapter suite: the [H] rows of the security checklist, run against a real server.
// ---------------------------------------------------------------------------------------------

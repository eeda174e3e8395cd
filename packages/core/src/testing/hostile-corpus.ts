/**
 * The runner-free half of the hostile HTTP corpus: a seeded byte generator, a raw HTTP/1.1 request
 * builder, the oracle every hostile answer must pass, and the report of inputs by class. The vitest
 * suite that drives them against an adapter is `runHostileHttpSuite` in `@org/session-core/testing/vitest`.
 */
import { errorCodes } from '../errors.js';

/** An answer read off a raw connection: status, raw head, body (chunked bodies decoded). */
export interface HostileResponse {
  status: number;
  head: string;
  body: string;
}

/** What a hostile answer must not do, and which statuses it may have. */
export interface HostileExpectation {
  /** Statuses accepted for this input (e.g. 400 from the HTTP parser, 401 from us). */
  statuses: readonly number[];
  /** Credentials sent with the request: none may appear in the answer's head or body. */
  credentials?: readonly string[];
  /** Cookie names that carry a session: a Set-Cookie giving one a value establishes a session. */
  sessionCookies: readonly string[];
}

/**
 * Checks a hostile answer and returns what is wrong with it (empty when it is fine): a status
 * outside the expected ones (a 500 never is), a 401/403/415 without one of core's error codes,
 * a Set-Cookie that establishes a session, an authenticated body, or an echoed credential.
 */
export function hostileResponseProblems(res: HostileResponse, expected: HostileExpectation): string[] {
  const problems: string[] = [];
  if (!expected.statuses.includes(res.status)) {
    problems.push(`status ${res.status}, expected one of ${expected.statuses.join('/')}`);
  }
  const json = parseJson(res.body);
  const code = (json as { error?: { code?: unknown } } | null)?.error?.code;
  // Our 4xx answers carry a stable code; the HTTP parser's own 400/431 have no JSON body.
  if ([401, 403, 415].includes(res.status) && !(typeof code === 'string' && errorCodes.includes(code as never))) {
    problems.push(`status ${res.status} without a stable error code (body ${JSON.stringify(res.body.slice(0, 120))})`);
  }
  // Only inputs that may legitimately carry a session (an unchanged token) may get a success.
  const successAllowed = expected.statuses.some((status) => status < 400);
  if (!successAllowed && (res.status < 400 || (json && typeof (json as { userId?: unknown }).userId === 'string'))) {
    problems.push(`an authenticated answer (${res.status} ${JSON.stringify(res.body.slice(0, 120))})`);
  }
  for (const line of setCookieLines(res.head)) {
    const [pair = ''] = line.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    if (eq > 0 && expected.sessionCookies.includes(name) && pair.slice(eq + 1).trim() !== '') {
      problems.push(`a session cookie is set: ${name}`);
    }
  }
  const text = `${res.head}\r\n\r\n${res.body}`;
  for (const credential of expected.credentials ?? []) {
    if (credential.length >= 8 && text.includes(credential)) problems.push('the answer echoes a sent credential');
  }
  return problems;
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return null;
  }
}

function setCookieLines(head: string): string[] {
  return head
    .split('\r\n')
    .filter((line) => /^set-cookie:/i.test(line))
    .map((line) => line.slice(line.indexOf(':') + 1).trim());
}

/** A header value given as text (sent as Latin-1, one byte per code unit) or as raw bytes. */
export type RawHeaderValue = string | Uint8Array;

/** Builds an HTTP/1.1 request with `Connection: close`, the header bytes exactly as given. */
export function buildRawRequest(request: {
  method: string;
  url: string;
  headers?: ReadonlyArray<readonly [string, RawHeaderValue]>;
  body?: RawHeaderValue;
}): Uint8Array {
  const { host, pathname, search } = new URL(request.url);
  const body = request.body === undefined ? undefined : latin1Bytes(request.body);
  const parts: Uint8Array[] = [latin1Bytes(`${request.method} ${pathname}${search} HTTP/1.1\r\nHost: ${host}\r\n`)];
  for (const [name, value] of request.headers ?? []) {
    parts.push(latin1Bytes(`${name}: `), latin1Bytes(value), latin1Bytes('\r\n'));
  }
  if (body) parts.push(latin1Bytes(`Content-Length: ${body.length}\r\n`));
  parts.push(latin1Bytes('Connection: close\r\n\r\n'));
  if (body) parts.push(body);
  return concatBytes(parts);
}

/** Decodes a chunked body when the head says so (raw answers are read as Latin-1 text). */
export function decodeRawBody(head: string, body: string): string {
  if (!/^transfer-encoding:\s*chunked/im.test(head)) return body;
  let out = '';
  let at = 0;
  // Bounded by the body's length: every step consumes at least one line.
  while (at < body.length) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd === -1) break;
    const size = Number.parseInt(body.slice(at, lineEnd), 16);
    if (!Number.isFinite(size) || size <= 0) break;
    out += body.slice(lineEnd + 2, lineEnd + 2 + size);
    at = lineEnd + 2 + size + 2;
  }
  return out;
}

export function latin1Bytes(value: RawHeaderValue): Uint8Array {
  if (typeof value !== 'string') return value;
  const bytes = new Uint8Array(value.length);
  for (let i = 0; i < value.length; i++) bytes[i] = value.charCodeAt(i) & 0xff;
  return bytes;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * A seeded generator (xorshift128+ over 32-bit halves), so a failing input is reproduced by its
 * seed and index. Not for secrets.
 */
export class SeededBytes {
  #s = new Uint32Array(4);

  constructor(seed: number) {
    // splitmix32 spreads the seed over the state; an all-zero state would stay zero.
    let x = seed >>> 0 || 0x9e3779b9;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.#s[i] = (z ^ (z >>> 16)) >>> 0 || 1;
    }
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const s = this.#s;
    let t = s[3] as number;
    const u = s[0] as number;
    s[3] = s[2] as number;
    s[2] = s[1] as number;
    s[1] = u;
    t ^= t << 11;
    t ^= t >>> 8;
    s[0] = (t ^ u ^ (u >>> 19)) >>> 0;
    return s[0] as number;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + (this.next() % (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)] as T;
  }

  /** Bytes drawn from `alphabet` (all 256 values by default), `min` to `max` of them. */
  bytes(min: number, max: number, alphabet?: readonly number[]): Uint8Array {
    const out = new Uint8Array(this.int(min, max));
    for (let i = 0; i < out.length; i++) out[i] = alphabet ? this.pick(alphabet) : this.next() & 0xff;
    return out;
  }
}

/** Every byte but CR and LF: inside a header value those would end the line at the client. */
export const HEADER_BYTES: readonly number[] = Array.from({ length: 256 }, (_, i) => i).filter(
  (b) => b !== 0x0d && b !== 0x0a,
);
/** Bytes an HTTP parser lets through to the app: tab, visible ASCII, space and obs-text (0x80-0xFF). */
export const REACHABLE_BYTES: readonly number[] = [
  0x09,
  ...Array.from({ length: 95 }, (_, i) => 0x20 + i),
  ...Array.from({ length: 128 }, (_, i) => 0x80 + i),
];
/** Visible ASCII plus space and tab: what a lenient client sends. */
export const VISIBLE_ASCII: readonly number[] = [0x09, ...Array.from({ length: 95 }, (_, i) => 0x20 + i)];
/** Invalid or unusual UTF-8 sequences: lone continuation, overlong '/', a surrogate, truncations, BOM, NUL. */
export const ODD_UTF8: readonly Uint8Array[] = [
  [0x80],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xe2, 0x82],
  [0xff, 0xfe],
  [0xef, 0xbb, 0xbf],
  [0xc3, 0xa9],
  [0xce, 0x97],
  [0x00],
  [0x7f],
].map((b) => new Uint8Array(b));

/** Outcomes by input class: how many inputs were tried and which statuses they got. */
export class HostileReport {
  readonly rows = new Map<string, { tried: number; statuses: Map<number, number>; problems: number }>();

  record(inputClass: string, status: number, problems = 0): void {
    let row = this.rows.get(inputClass);
    if (!row) {
      row = { tried: 0, statuses: new Map(), problems: 0 };
      this.rows.set(inputClass, row);
    }
    row.tried++;
    row.statuses.set(status, (row.statuses.get(status) ?? 0) + 1);
    row.problems += problems;
  }

  get total(): number {
    let n = 0;
    for (const row of this.rows.values()) n += row.tried;
    return n;
  }

  /** A Markdown table: class, inputs tried, statuses seen, problems (must be 0). */
  table(title: string): string {
    const lines = [
      `hostile corpus: ${title}`,
      '',
      '| input class | tried | statuses | problems |',
      '|---|---:|---|---:|',
    ];
    let problems = 0;
    for (const [name, row] of this.rows) {
      const statuses = [...row.statuses]
        .sort(([a], [b]) => a - b)
        .map(([status, count]) => `${status}×${count}`)
        .join(' ');
      lines.push(`| ${name} | ${row.tried} | ${statuses} | ${row.problems} |`);
      problems += row.problems;
    }
    lines.push(`| **total** | ${this.total} | | ${problems} |`);
    return lines.join('\n');
  }
}

import type { SessionData, ValidationResult } from '@org/session-core';

/**
 * The request header carrying the proxy's verdict to the page or route handler of the same
 * request. Its value is an opaque random id, never a claim: the verdict itself stays in this
 * process's memory, so a client sending the header (with any value) only makes the handler
 * validate as usual.
 */
export const PROXY_VERDICT_HEADER = 'x-org-session-verdict';

/** Long enough for a loaded server to reach the handler; an expired verdict only costs a store call. */
const VERDICT_TTL_MS = 10_000;
/** Bounds memory when handlers never take their verdicts (pages that read no session, static files). */
const MAX_VERDICTS = 10_000;

interface Verdict {
  // biome-ignore lint/suspicious/noExplicitAny: verdicts of any session data type share the registry.
  result: ValidationResult<any>;
  /** The `Cookie` header the proxy validated and forwarded: the handler must see the same one. */
  cookieHeader: string | null;
  /** The session cookie names of the sessions that validated it. */
  scope: string;
  expiresAt: number;
}

/**
 * Verdicts by id, for the whole process: Next builds `proxy.ts` and the app into separate bundles
 * with their own module instances (each its own `nextSessions`), which share only `globalThis`.
 */
function registry(): Map<string, Verdict> {
  const key = Symbol.for('@org/session-next/proxy-verdicts');
  const holder = globalThis as unknown as Record<symbol, Map<string, Verdict> | undefined>;
  let verdicts = holder[key];
  if (!verdicts) {
    verdicts = new Map();
    holder[key] = verdicts;
  }
  return verdicts;
}

const ID_BYTES = 32;
const IDS_PER_DRAW = 128;
let pool = new Uint8Array(0);
let poolOffset = 0;

/**
 * 256 random bits, base64url. Drawn from the system generator 128 ids at a time: one
 * `getRandomValues` call cost about 20 us per request in a CPU profile of `next start`.
 */
function randomId(): string {
  if (poolOffset + ID_BYTES > pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(ID_BYTES * IDS_PER_DRAW));
    poolOffset = 0;
  }
  const bytes = pool.subarray(poolOffset, poolOffset + ID_BYTES);
  poolOffset += ID_BYTES;
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export const proxyVerdicts = {
  /** Keeps the proxy's verdict for this request and returns its id (256 random bits). */
  put(result: ValidationResult<SessionData>, cookieHeader: string | null, scope: string): string {
    const verdicts = registry();
    const now = Date.now();
    // Insertion order is expiry order: drop the expired (and the oldest beyond the bound) from the front.
    for (const [id, verdict] of verdicts) {
      if (verdict.expiresAt > now && verdicts.size < MAX_VERDICTS) break;
      verdicts.delete(id);
    }
    const id = randomId();
    verdicts.set(id, { result, cookieHeader, scope, expiresAt: now + VERDICT_TTL_MS });
    return id;
  },

  /**
   * The verdict for `id`, once: only for the same `Cookie` header and the same session cookies,
   * and only while fresh. Anything else is null, and the handler validates as usual.
   */
  take<D extends SessionData>(id: string, cookieHeader: string | null, scope: string): ValidationResult<D> | null {
    const verdicts = registry();
    const verdict = verdicts.get(id);
    if (!verdict) return null;
    verdicts.delete(id);
    if (verdict.expiresAt <= Date.now() || verdict.cookieHeader !== cookieHeader || verdict.scope !== scope) {
      return null;
    }
    return verdict.result as ValidationResult<D>;
  },
};

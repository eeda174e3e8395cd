import { type Clock, systemClock } from '../clock.js';
import { SessionError } from '../errors.js';
import { isLoopbackHost } from '../http.js';
import type { JwtKeySource } from './key-set.js';
import {
  hasPrivateMembers,
  importJwtKey,
  type JwtAlgorithm,
  type JwtKey,
  jwkAllowsVerification,
  KID_PATTERN,
} from './keys.js';

/**
 * Default minimum age of the last JWKS fetch before a token naming an unknown `kid` triggers
 * another: short enough that a key published by `JwtKeySet.rotate` is picked up within seconds,
 * long enough that forged `kid`s cannot make a verifier storm the auth server.
 */
const DEFAULT_JWKS_COOLDOWN_MS = 5_000;

export interface RemoteJwksOptions {
  /** The JWKS URL. `https:` only, except loopback hosts or with `allowHttp`. */
  url: string | URL;
  /** Asymmetric algorithms accepted from this set (default EdDSA and ES256); HS256 never. */
  algorithms?: readonly ('EdDSA' | 'ES256')[];
  /** A fetched set is used for this long before it is fetched again (default 10 min). */
  cacheMaxAgeMs?: number;
  /**
   * A token naming an unknown `kid` triggers a refetch when the last fetch is at least this old
   * (default 5 s); younger than that, the token is refused without a fetch. Concurrent tokens
   * share one fetch, so a flood of forged `kid`s costs at most one fetch per interval.
   */
  cooldownMs?: number;
  /** After a failed fetch, no new attempt for this long (default 5 s): no storm on an outage. */
  failureBackoffMs?: number;
  /** Abort a fetch after this long (default 5 s). */
  timeoutMs?: number;
  /** Largest JWKS body read (default 64 KiB). */
  maxBytes?: number;
  /** For a JWKS on plain http inside a private network; off by default. */
  allowHttp?: boolean;
  /** The `fetch` used to download the set (for tests or a proxy). Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Source of the current time, for cache ages and backoff. Default: the system clock. */
  clock?: Clock;
}

/**
 * A JWKS fetched over HTTP(S) for a downstream verifier: fetched on first use, cached, refetched
 * when stale or when a token names an unknown `kid` and the last fetch is at least `cooldownMs`
 * (5 s) old, never following redirects. Concurrent tokens share one fetch. Only public EdDSA/ES256 keys with a valid `kid` are taken from it; entries with
 * private or symmetric members, other key types, or a `kid` used twice are ignored. An unreachable
 * or broken endpoint gives `JWKS_UNAVAILABLE` (503): verification fails closed.
 *
 * @example
 * ```ts
 * const verifier = createJwtVerifier({
 *   keys: createRemoteJwks({ url: 'https://auth.example.com/.well-known/jwks.json' }),
 *   issuer: 'https://auth.example.com', audience: 'orders',
 * })
 * ```
 */
export class RemoteJwks implements JwtKeySource {
  readonly url: URL;
  readonly algorithms: ReadonlySet<JwtAlgorithm>;
  private readonly cacheMaxAgeMs: number;
  private readonly cooldownMs: number;
  private readonly failureBackoffMs: number;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly fetchImpl: typeof fetch;
  private readonly clock: Clock;
  private keys = new Map<string, JwtKey>();
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private failedAt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | null = null;
  /** Completed fetches (successful or not), for monitoring and tests. */
  fetchCount = 0;

  /** @internal Use {@link createRemoteJwks}. */
  constructor(options: RemoteJwksOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new SessionError('CONFIG_INVALID', 'The JWKS url is not a valid URL');
    }
    const https = url.protocol === 'https:';
    const http = url.protocol === 'http:';
    if (!https && !(http && (options.allowHttp === true || isLoopbackHost(url.host)))) {
      throw new SessionError('CONFIG_INVALID', 'The JWKS url must use https (or loopback http, or allowHttp)');
    }
    this.url = url;
    const algorithms = options.algorithms ?? ['EdDSA', 'ES256'];
    if (algorithms.length === 0 || algorithms.some((alg) => alg !== 'EdDSA' && alg !== 'ES256')) {
      throw new SessionError('CONFIG_INVALID', 'A remote JWKS accepts EdDSA and ES256 keys only');
    }
    this.algorithms = new Set(algorithms);
    this.cacheMaxAgeMs = duration('cacheMaxAgeMs', options.cacheMaxAgeMs, 10 * 60_000);
    this.cooldownMs = duration('cooldownMs', options.cooldownMs, DEFAULT_JWKS_COOLDOWN_MS);
    this.failureBackoffMs = duration('failureBackoffMs', options.failureBackoffMs, 5_000);
    this.timeoutMs = duration('timeoutMs', options.timeoutMs, 5_000);
    this.maxBytes = duration('maxBytes', options.maxBytes, 64 * 1024);
    const fetchImpl = options.fetch ?? (globalThis as { fetch?: typeof fetch }).fetch;
    if (typeof fetchImpl !== 'function') throw new SessionError('CONFIG_INVALID', 'No fetch implementation available');
    this.fetchImpl = fetchImpl;
    this.clock = options.clock ?? systemClock;
  }

  /** The key for `kid` while the fetched set is fresh; a stale set answers nothing until refetched. */
  peek(kid: string): JwtKey | undefined {
    if (this.clock.now() - this.fetchedAt >= this.cacheMaxAgeMs) return undefined;
    return this.keys.get(kid);
  }

  /**
   * The key for `kid`, fetching the set first when it is stale, or again when `kid` is unknown and
   * the last fetch is at least `cooldownMs` old (a fetch under way is joined, never duplicated).
   */
  async resolve(kid: string): Promise<JwtKey> {
    const now = this.clock.now();
    if (now - this.fetchedAt >= this.cacheMaxAgeMs) await this.reload();
    let key = this.keys.get(kid);
    if (key) return key;
    if (this.inflight || this.clock.now() - this.fetchedAt >= this.cooldownMs) {
      await this.reload();
      key = this.keys.get(kid);
      if (key) return key;
    }
    throw new SessionError('JWT_KID_UNKNOWN', 'The JWT names no known key', { reason: 'kid_unknown' });
  }

  /** Fetches the set now (one fetch at a time); throws `JWKS_UNAVAILABLE` on failure or backoff. */
  reload(): Promise<void> {
    if (this.inflight) return this.inflight;
    if (this.clock.now() - this.failedAt < this.failureBackoffMs) {
      return Promise.reject(new SessionError('JWKS_UNAVAILABLE', undefined, { reason: 'backoff' }));
    }
    this.inflight = this.fetchKeys().finally(() => {
      this.inflight = null;
      this.fetchCount++;
    });
    return this.inflight;
  }

  private async fetchKeys(): Promise<void> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    try {
      const response = await this.fetchImpl(this.url.href, {
        method: 'GET',
        headers: { accept: 'application/jwk-set+json, application/json' },
        redirect: 'manual',
        signal: controller.signal,
      });
      if (response.status !== 200) {
        await response.body?.cancel().catch(() => {});
        throw new SessionError('JWKS_UNAVAILABLE', undefined, { reason: `status_${response.status}` });
      }
      const text = await readLimited(response, this.maxBytes);
      let document: unknown;
      try {
        document = JSON.parse(text);
      } catch {
        throw new SessionError('JWKS_UNAVAILABLE', undefined, { reason: 'not_json' });
      }
      const entries = (document as { keys?: unknown } | null)?.keys;
      if (!Array.isArray(entries)) throw new SessionError('JWKS_UNAVAILABLE', undefined, { reason: 'no_keys' });
      this.keys = await this.importEntries(entries);
      this.fetchedAt = this.clock.now();
    } catch (error) {
      this.failedAt = this.clock.now();
      if (error instanceof SessionError) throw error;
      throw new SessionError('JWKS_UNAVAILABLE', undefined, { reason: 'fetch_failed', cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  private async importEntries(entries: unknown[]): Promise<Map<string, JwtKey>> {
    const counts = new Map<string, number>();
    for (const entry of entries) {
      const kid = (entry as { kid?: unknown } | null)?.kid;
      if (typeof kid === 'string') counts.set(kid, (counts.get(kid) ?? 0) + 1);
    }
    const next = new Map<string, JwtKey>();
    for (const entry of entries) {
      const key = await this.importEntry(entry, counts);
      if (key) next.set(key.kid, key);
    }
    return next;
  }

  private async importEntry(entry: unknown, counts: Map<string, number>): Promise<JwtKey | null> {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return null;
    const jwk = entry as Record<string, unknown>;
    const kid = jwk.kid;
    if (typeof kid !== 'string' || !KID_PATTERN.test(kid) || counts.get(kid) !== 1) return null;
    if (hasPrivateMembers(jwk)) return null;
    if (!jwkAllowsVerification(jwk)) return null;
    const alg: 'EdDSA' | 'ES256' | null =
      jwk.kty === 'OKP' && jwk.crv === 'Ed25519' ? 'EdDSA' : jwk.kty === 'EC' && jwk.crv === 'P-256' ? 'ES256' : null;
    if (alg === null || !this.algorithms.has(alg)) return null;
    if (jwk.alg !== undefined && jwk.alg !== alg) return null;
    // Unchanged keys keep their object, so verified-token cache entries stay valid across refetches.
    const known = this.keys.get(kid);
    if (known?.publicJwk && known.alg === alg && known.publicJwk.x === jwk.x && known.publicJwk.y === jwk.y) {
      return known;
    }
    try {
      return await importJwtKey({ alg, kid, key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } as never });
    } catch {
      return null;
    }
  }
}

function duration(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isFinite(resolved) || resolved < 0) {
    throw new SessionError('CONFIG_INVALID', `${name} must be a non-negative number`);
  }
  return resolved;
}

async function readLimited(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw new SessionError('JWKS_UNAVAILABLE', undefined, { reason: 'too_large' });
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new SessionError('JWKS_UNAVAILABLE', undefined, { reason: 'too_large' });
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(body);
}

/**
 * Creates a {@link RemoteJwks}: the keys a downstream service fetches from an issuer's JWKS
 * endpoint; see its documentation.
 *
 * @example
 * ```ts
 * const keys = createRemoteJwks({ url: 'https://auth.example.com/.well-known/jwks.json' })
 * ```
 */
export function createRemoteJwks(options: RemoteJwksOptions): RemoteJwks {
  return new RemoteJwks(options);
}

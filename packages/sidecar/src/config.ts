/**
 * The sidecar's configuration: one JSON shape, read from a file (`--config sidecar.json`) or from
 * `SESSION_SIDECAR_*` environment variables, checked in full before anything starts. Every
 * refusal is a {@link SidecarConfigError} with a stable code and the path of the offending field;
 * no message ever repeats a value (a value may be a connection string with a password in it).
 */

/** Stable codes of configuration errors. They never change meaning between versions. */
export type SidecarConfigErrorCode =
  /** The config file could not be read. */
  | 'CONFIG_FILE_UNREADABLE'
  /** The config file is not JSON. */
  | 'CONFIG_JSON_INVALID'
  /** A field this version does not know (often a typo). */
  | 'CONFIG_UNKNOWN_FIELD'
  /** A `SESSION_SIDECAR_*` variable this version does not know. */
  | 'CONFIG_UNKNOWN_ENV'
  /** A required field is missing. */
  | 'CONFIG_REQUIRED'
  /** A field has the wrong type or an out-of-range value. */
  | 'CONFIG_INVALID_VALUE'
  /** Fields that cannot go together, or a mode without what it needs. */
  | 'CONFIG_CONFLICT'
  /** A mode this version does not implement (kept for compatibility: every mode is implemented now). */
  | 'CONFIG_MODE_UNSUPPORTED'
  /** A key file that cannot be read or imported. */
  | 'CONFIG_KEY_INVALID'
  /** No configuration given at all (neither `--config` nor any `SESSION_SIDECAR_*` variable). */
  | 'CONFIG_MISSING';

/**
 * A configuration refusal: `code` is stable, `path` names the field (`jwt.issuer`) or variable.
 *
 * @example
 * ```ts
 * try { parseSidecarConfig(json) } catch (e) { if (isSidecarConfigError(e)) console.error(e.code, e.path) }
 * ```
 */
export class SidecarConfigError extends Error {
  override readonly name = 'SidecarConfigError';
  readonly code: SidecarConfigErrorCode;
  readonly path: string;

  constructor(
    code: SidecarConfigErrorCode,
    path: string,
    message: string,
    options: {
      /** The underlying error (an unreadable file, a JSON syntax error), kept as `Error.cause`. Default: none. */
      cause?: unknown;
    } = {},
  ) {
    super(path ? `${path}: ${message}` : message, { cause: options.cause });
    this.code = code;
    this.path = path;
  }
}

/** True for a {@link SidecarConfigError}, by name and code (two copies of the package agree). */
export function isSidecarConfigError(value: unknown): value is SidecarConfigError {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { name?: unknown }).name === 'SidecarConfigError' &&
    typeof (value as { code?: unknown }).code === 'string'
  );
}

/** Stateless (JWT + JWKS), store (direct store lookups) or remote (the central session API). */
export type SidecarMode = 'stateless' | 'store' | 'remote';

/** What `X-Auth-Session-Id` carries. */
export type SessionIdHeaderMode = 'hash' | 'id' | 'none';

export interface SidecarJwtConfig {
  /** Accepted `iss` (and `iss` of the JWTs the token endpoint issues). */
  issuer: string;
  /** This service's audience(s); a token must name one. The token endpoint issues for all of them. */
  audience: string | string[];
  /** URL of the auth server's JWKS (https, or http on loopback). Stateless mode only. */
  jwksUrl?: string;
  /** A JWKS file (`{ "keys": [...] }`) with the public keys to accept. */
  jwksFile?: string;
  /**
   * A private JWK (ES256, EdDSA, or an HS256 `oct` key) with `alg` and `kid`, in a file. Store mode:
   * signs the token endpoint's JWTs, verifies JWTs, and its public half is served as the JWKS.
   */
  signingKeyFile?: string;
  /** Lifetime of issued JWTs in seconds (default 300). */
  ttlSeconds?: number;
  /** Default 30. */
  clockToleranceSeconds?: number;
}

export interface SidecarRedisStoreConfig {
  /** Selects the Redis store. */
  type: 'redis';
  /** `redis://` or `rediss://` URL. */
  url: string;
  /** Key prefix, as the auth server's store uses (default `sess:`). */
  prefix?: string;
  /** Bound on each store call in ms (default 1000). */
  commandTimeoutMs?: number;
}

export interface SidecarPostgresStoreConfig {
  /** Selects the PostgreSQL store. */
  type: 'postgres';
  /** `postgres://` connection string of the auth server's session database; required. */
  connectionString: string;
  /** Schema of the session tables (default `public`). */
  schema?: string;
  /** Default 1000. */
  statementTimeoutMs?: number;
}

export type SidecarStoreConfig = SidecarRedisStoreConfig | SidecarPostgresStoreConfig;

/**
 * Stateless mode: the auth server's revocation channel. A subscribed sidecar refuses a revoked
 * session's JWT within about a second instead of at its `exp`; while the channel is down it falls
 * back to that TTL bound (never open) and `/healthz` says `"revocation": "down"`.
 */
export type SidecarRevocationConfig =
  | { type: 'redis'; url: string; channel?: string }
  | { type: 'postgres'; connectionString: string; channel?: string };

/** What remote mode needs: the session API's address, this sidecar's caller id and key, the cache bounds. */
export interface ResolvedRemoteConfig {
  /** Base URL of the session API (its `basePath` included), https or loopback http. */
  url: string;
  /** This sidecar's caller id at the API. */
  callerId: string;
  /** The file holding this sidecar's API key. */
  apiKeyFile: string;
  /** How long an answer is reused: also the longest a revoked session stays allowed here. */
  cacheTtlMs: number;
  /** Most answers kept at once. */
  cacheSize: number;
  /** Bound on one call to the API; a slower API counts as down (deny). */
  timeoutMs: number;
}

export const DEFAULT_REMOTE_CACHE_TTL_MS = 5000;
export const DEFAULT_REMOTE_CACHE_SIZE = 10_000;
export const DEFAULT_REMOTE_TIMEOUT_MS = 1000;

/**
 * Remote mode: the central auth service's session API (`@org/session-auth-api`) that this sidecar
 * asks, as the caller `callerId` with the API key in `apiKeyFile`.
 */
export interface SidecarRemoteConfig {
  /** Base URL of the session API, mount path included (https, or http on loopback). */
  url: string;
  /** This sidecar's caller id at the API. */
  callerId: string;
  /** A file holding this sidecar's API key (one line). */
  apiKeyFile: string;
  /**
   * How long a positive answer is reused, in ms (default 5000, at most 60 000): also how long a
   * revoked session may stay allowed here. 0 disables the cache.
   */
  cacheTtlMs?: number;
  /** Most answers cached at once (default 10 000). */
  cacheSize?: number;
  /** Bound on one call to the API in ms (default 1000); a slower API is a deny. */
  timeoutMs?: number;
}

/** The configuration file's shape. Everything but `mode` has a default or belongs to a mode. */
export interface SidecarConfig {
  /** `stateless` (JWTs only), `store` (store lookups) or `remote` (the session API); required. */
  mode: SidecarMode;
  /** Where to listen (default `127.0.0.1:4180`). Keep it on loopback or a private network. */
  listen?: { host?: string; port?: number };
  /** Endpoint paths; see {@link DEFAULT_PATHS}. */
  paths?: { auth?: string; token?: string; jwks?: string; health?: string; ready?: string };
  /** Session cookie name (store mode; default `__Host-sid`). */
  cookieName?: string;
  /** A session-JWT cookie to accept (for example `__Host-sjwt`); none by default. */
  jwtCookieName?: string | null;
  /** Accept `Authorization: Bearer` (a session token, or a session JWT); default true. */
  bearer?: boolean;
  /** Session JWTs: required in stateless mode, optional in store mode. */
  jwt?: SidecarJwtConfig;
  /** The session store (store mode). */
  store?: SidecarStoreConfig;
  /** Revocation notices to subscribe to (stateless mode). */
  revocation?: SidecarRevocationConfig;
  /** The central session API (remote mode). */
  remote?: SidecarRemoteConfig;
  /**
   * The auth server's session policy, so that sliding renewal here matches it: a preset name
   * (`aal1`, `aal2` the default, `aal3`) or `{ idleTimeoutMs, absoluteTimeoutMs, touchIntervalMs }`.
   */
  policy?: string | Record<string, number | null>;
  /** `production` (default) or `development` (cookie names without the `__Host-` prefix). */
  cookieMode?: 'production' | 'development';
  /** What the sidecar tells the upstream about the caller (claims and session id headers). */
  identity?: {
    /** Claims (store mode: session data fields) sent as `X-Auth-Claim-<name>`. */
    claims?: string[];
    /** What `X-Auth-Session-Id` carries: a keyed hash (default), the session id, or nothing. */
    sessionId?: SessionIdHeaderMode;
    /** A file holding the hash key (32+ bytes, base64url): the same on every instance to correlate. */
    sessionIdKeyFile?: string;
  };
  /** Request header the client IP is read from for binding signals (default `x-real-ip`). */
  clientIpHeader?: string;
}

export const DEFAULT_PATHS = Object.freeze({
  auth: '/auth',
  token: '/token',
  jwks: '/.well-known/jwks.json',
  health: '/healthz',
  ready: '/readyz',
});

export const DEFAULT_PORT = 4180;
export const DEFAULT_HOST = '127.0.0.1';

/** The checked configuration, every default filled in. */
export interface ResolvedSidecarConfig {
  /** The configured mode. */
  mode: SidecarMode;
  /** Listening address; default `127.0.0.1:4180`. */
  listen: { host: string; port: number };
  /** Endpoint paths, {@link DEFAULT_PATHS} where not configured. */
  paths: { auth: string; token: string; jwks: string; health: string; ready: string };
  /** Session cookie name; default `__Host-sid` (`sid` in development mode). */
  cookieName: string;
  /** Session-JWT cookie name, or null (the default) for none. */
  jwtCookieName: string | null;
  /** Whether `Authorization: Bearer` is accepted; default true. */
  bearer: boolean;
  /** Session-JWT settings (audience as a list, files and URL null when absent), or null without `jwt`. */
  jwt:
    | (Required<Pick<SidecarJwtConfig, 'issuer'>> & {
        audience: string[];
        jwksUrl: string | null;
        jwksFile: string | null;
        signingKeyFile: string | null;
        ttlSeconds: number | undefined;
        clockToleranceSeconds: number | undefined;
      })
    | null;
  /** The session store (store mode), else null. */
  store: SidecarStoreConfig | null;
  /** The revocation channel (stateless mode), else null. */
  revocation: SidecarRevocationConfig | null;
  /** The session API with its cache bounds filled in (remote mode), else null. */
  remote: ResolvedRemoteConfig | null;
  /** The session policy as configured; undefined means the `aal2` preset. */
  policy: string | Record<string, number | null> | undefined;
  /** Cookie mode; default `production`. */
  cookieMode: 'production' | 'development';
  /** Claims to forward (default none), the session id header mode (default `hash`) and its key file. */
  identity: { claims: string[]; sessionId: SessionIdHeaderMode; sessionIdKeyFile: string | null };
  /** Header the client IP is read from, lower-cased; default `x-real-ip`. */
  clientIpHeader: string;
}

type Json = Record<string, unknown>;

const CLAIM_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const HEADER_NAME = /^[A-Za-z0-9-]{1,64}$/;
// What the sidecar itself produces; claims with these names would shadow its headers.
const RESERVED_CLAIMS = new Set(['iss', 'sub', 'aud', 'sid', 'jti', 'iat', 'nbf', 'exp', 'auth_time', 'sth']);

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function onlyKnown(value: Json, path: string, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new SidecarConfigError(
        'CONFIG_UNKNOWN_FIELD',
        path ? `${path}.${key}` : key,
        `unknown field (known here: ${known.join(', ')})`,
      );
    }
  }
}

function str(value: unknown, path: string, options: { required?: boolean; pattern?: RegExp } = {}): string | undefined {
  if (value === undefined) {
    if (options.required) throw new SidecarConfigError('CONFIG_REQUIRED', path, 'is required');
    return undefined;
  }
  if (typeof value !== 'string' || value.length === 0) {
    throw new SidecarConfigError('CONFIG_INVALID_VALUE', path, 'must be a non-empty string');
  }
  if (options.pattern && !options.pattern.test(value)) {
    throw new SidecarConfigError('CONFIG_INVALID_VALUE', path, `must match ${options.pattern}`);
  }
  return value;
}

function int(value: unknown, path: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    throw new SidecarConfigError('CONFIG_INVALID_VALUE', path, `must be a whole number from ${min} to ${max}`);
  }
  return value as number;
}

function bool(value: unknown, path: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new SidecarConfigError('CONFIG_INVALID_VALUE', path, 'must be true or false');
  return value;
}

function oneOf<T extends string>(value: unknown, path: string, choices: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !choices.includes(value as T)) {
    throw new SidecarConfigError('CONFIG_INVALID_VALUE', path, `must be one of ${choices.join(', ')}`);
  }
  return value as T;
}

function urlPath(value: unknown, path: string, fallback: string): string {
  const resolved = str(value, path) ?? fallback;
  if (!/^\/[A-Za-z0-9._~\-/]*$/.test(resolved) || resolved.includes('//')) {
    throw new SidecarConfigError('CONFIG_INVALID_VALUE', path, 'must be an absolute URL path such as /auth');
  }
  return resolved.length > 1 ? resolved.replace(/\/$/, '') : resolved;
}

/**
 * Checks a configuration object (the parsed JSON of a config file) and fills in the defaults.
 * Throws {@link SidecarConfigError} at the first problem.
 *
 * @example
 * ```ts
 * const config = parseSidecarConfig({ mode: 'stateless', jwt: { issuer, audience: 'orders', jwksUrl } })
 * ```
 */
export function parseSidecarConfig(input: unknown): ResolvedSidecarConfig {
  if (!isObject(input)) throw new SidecarConfigError('CONFIG_INVALID_VALUE', '', 'the configuration must be an object');
  onlyKnown(input, '', [
    '$schema',
    'mode',
    'listen',
    'paths',
    'cookieName',
    'jwtCookieName',
    'bearer',
    'jwt',
    'store',
    'revocation',
    'remote',
    'policy',
    'cookieMode',
    'identity',
    'clientIpHeader',
  ]);
  const mode = oneOf(input.mode, 'mode', ['stateless', 'store', 'remote'] as const);
  if (mode === undefined) {
    throw new SidecarConfigError('CONFIG_REQUIRED', 'mode', 'is required: stateless, store or remote');
  }

  const listen = input.listen === undefined ? {} : input.listen;
  if (!isObject(listen)) throw new SidecarConfigError('CONFIG_INVALID_VALUE', 'listen', 'must be an object');
  onlyKnown(listen, 'listen', ['host', 'port']);
  const host = str(listen.host, 'listen.host') ?? DEFAULT_HOST;
  const port = int(listen.port, 'listen.port', 0, 65535) ?? DEFAULT_PORT;

  const pathsInput = input.paths === undefined ? {} : input.paths;
  if (!isObject(pathsInput)) throw new SidecarConfigError('CONFIG_INVALID_VALUE', 'paths', 'must be an object');
  onlyKnown(pathsInput, 'paths', Object.keys(DEFAULT_PATHS));
  const paths = {
    auth: urlPath(pathsInput.auth, 'paths.auth', DEFAULT_PATHS.auth),
    token: urlPath(pathsInput.token, 'paths.token', DEFAULT_PATHS.token),
    jwks: urlPath(pathsInput.jwks, 'paths.jwks', DEFAULT_PATHS.jwks),
    health: urlPath(pathsInput.health, 'paths.health', DEFAULT_PATHS.health),
    ready: urlPath(pathsInput.ready, 'paths.ready', DEFAULT_PATHS.ready),
  };
  const all = Object.entries(paths);
  for (const [name, value] of all) {
    for (const [other, otherValue] of all) {
      // The auth path is a prefix (Envoy appends the original path): nothing may live under it.
      if (name !== other && (value === otherValue || (name === 'auth' && otherValue.startsWith(`${value}/`)))) {
        throw new SidecarConfigError('CONFIG_CONFLICT', `paths.${other}`, `collides with paths.${name}`);
      }
    }
  }

  const cookieName = str(input.cookieName, 'cookieName', { pattern: /^[!#$%&'*+\-.^_`|~A-Za-z0-9]{1,128}$/ });
  const jwtCookieName =
    input.jwtCookieName === null
      ? null
      : (str(input.jwtCookieName, 'jwtCookieName', { pattern: /^[!#$%&'*+\-.^_`|~A-Za-z0-9]{1,128}$/ }) ?? null);
  const bearer = bool(input.bearer, 'bearer') ?? true;
  const cookieMode = oneOf(input.cookieMode, 'cookieMode', ['production', 'development'] as const) ?? 'production';

  const jwt = parseJwt(input.jwt);
  const store = parseStore(input.store);
  const revocation = parseRevocation(input.revocation);
  const remote = parseRemote(input.remote);
  if (remote && mode !== 'remote') {
    throw new SidecarConfigError('CONFIG_CONFLICT', 'remote', 'only remote mode asks the session API: remove remote');
  }
  if (revocation && mode !== 'stateless') {
    throw new SidecarConfigError(
      'CONFIG_CONFLICT',
      'revocation',
      'only stateless mode subscribes to revocations: store mode sees them in the store at once',
    );
  }

  if (mode === 'stateless') {
    if (!jwt) throw new SidecarConfigError('CONFIG_REQUIRED', 'jwt', 'stateless mode verifies session JWTs: set jwt');
    if (store) throw new SidecarConfigError('CONFIG_CONFLICT', 'store', 'stateless mode uses no store: remove store');
    if (!jwt.jwksUrl && !jwt.jwksFile && !jwt.signingKeyFile) {
      throw new SidecarConfigError(
        'CONFIG_REQUIRED',
        'jwt.jwksUrl',
        'stateless mode needs jwt.jwksUrl or jwt.jwksFile',
      );
    }
    if (jwt.signingKeyFile) {
      throw new SidecarConfigError(
        'CONFIG_CONFLICT',
        'jwt.signingKeyFile',
        'stateless mode issues no JWTs (it cannot tell a live session): use store mode for the token endpoint',
      );
    }
    if (!bearer && !jwtCookieName) {
      throw new SidecarConfigError('CONFIG_CONFLICT', 'bearer', 'stateless mode needs bearer or jwtCookieName');
    }
    if (input.cookieName !== undefined) {
      throw new SidecarConfigError('CONFIG_CONFLICT', 'cookieName', 'stateless mode reads no session cookie');
    }
  } else if (mode === 'remote') {
    if (!remote)
      throw new SidecarConfigError('CONFIG_REQUIRED', 'remote', 'remote mode needs remote (the session API)');
    if (store) throw new SidecarConfigError('CONFIG_CONFLICT', 'store', 'remote mode uses no store: remove store');
    if (jwt) {
      throw new SidecarConfigError('CONFIG_CONFLICT', 'jwt', 'remote mode leaves JWTs to the session API: remove jwt');
    }
  } else {
    if (!store) throw new SidecarConfigError('CONFIG_REQUIRED', 'store', 'store mode needs store');
    if (jwt?.jwksUrl) {
      throw new SidecarConfigError(
        'CONFIG_CONFLICT',
        'jwt.jwksUrl',
        'store mode verifies JWTs with its own key set (jwt.signingKeyFile, plus jwt.jwksFile for older keys)',
      );
    }
    if (jwt && !jwt.signingKeyFile) {
      throw new SidecarConfigError('CONFIG_REQUIRED', 'jwt.signingKeyFile', 'store mode with jwt needs a signing key');
    }
    if (jwtCookieName && !jwt) {
      throw new SidecarConfigError('CONFIG_REQUIRED', 'jwt', 'jwtCookieName needs jwt to verify the cookie');
    }
  }

  const policy = input.policy;
  if (policy !== undefined && typeof policy !== 'string' && !isObject(policy)) {
    throw new SidecarConfigError('CONFIG_INVALID_VALUE', 'policy', 'must be a preset name or an object');
  }

  const identityInput = input.identity === undefined ? {} : input.identity;
  if (!isObject(identityInput)) throw new SidecarConfigError('CONFIG_INVALID_VALUE', 'identity', 'must be an object');
  onlyKnown(identityInput, 'identity', ['claims', 'sessionId', 'sessionIdKeyFile']);
  const claims = identityInput.claims ?? [];
  if (!Array.isArray(claims)) throw new SidecarConfigError('CONFIG_INVALID_VALUE', 'identity.claims', 'must be a list');
  const seen = new Set<string>();
  for (const [i, claim] of claims.entries()) {
    const path = `identity.claims[${i}]`;
    str(claim, path, { pattern: CLAIM_NAME });
    if (RESERVED_CLAIMS.has(claim) || ['__proto__', 'constructor', 'prototype'].includes(claim)) {
      throw new SidecarConfigError('CONFIG_INVALID_VALUE', path, 'names a registered claim; it has its own header');
    }
    if (seen.has(claim.toLowerCase())) {
      throw new SidecarConfigError('CONFIG_CONFLICT', path, 'listed twice (header names ignore case)');
    }
    seen.add(claim.toLowerCase());
  }

  return {
    mode,
    listen: { host, port },
    paths,
    cookieName: cookieName ?? (cookieMode === 'development' ? 'sid' : '__Host-sid'),
    jwtCookieName,
    bearer,
    jwt,
    store,
    revocation,
    remote,
    policy: policy as ResolvedSidecarConfig['policy'],
    cookieMode,
    identity: {
      claims: claims as string[],
      sessionId: oneOf(identityInput.sessionId, 'identity.sessionId', ['hash', 'id', 'none'] as const) ?? 'hash',
      sessionIdKeyFile: str(identityInput.sessionIdKeyFile, 'identity.sessionIdKeyFile') ?? null,
    },
    clientIpHeader: (
      str(input.clientIpHeader, 'clientIpHeader', { pattern: HEADER_NAME }) ?? 'x-real-ip'
    ).toLowerCase(),
  };
}

function parseJwt(value: unknown): ResolvedSidecarConfig['jwt'] {
  if (value === undefined) return null;
  if (!isObject(value)) throw new SidecarConfigError('CONFIG_INVALID_VALUE', 'jwt', 'must be an object');
  onlyKnown(value, 'jwt', [
    'issuer',
    'audience',
    'jwksUrl',
    'jwksFile',
    'signingKeyFile',
    'ttlSeconds',
    'clockToleranceSeconds',
  ]);
  const issuer = str(value.issuer, 'jwt.issuer', { required: true }) as string;
  const audienceInput = value.audience;
  if (audienceInput === undefined) throw new SidecarConfigError('CONFIG_REQUIRED', 'jwt.audience', 'is required');
  const audience = typeof audienceInput === 'string' ? [audienceInput] : audienceInput;
  if (!Array.isArray(audience) || audience.length === 0) {
    throw new SidecarConfigError('CONFIG_INVALID_VALUE', 'jwt.audience', 'must be a string or a non-empty list');
  }
  for (const [i, item] of audience.entries()) str(item, `jwt.audience[${i}]`, { required: true });
  const jwksUrl = str(value.jwksUrl, 'jwt.jwksUrl') ?? null;
  if (jwksUrl !== null) {
    let parsed: URL;
    try {
      parsed = new URL(jwksUrl);
    } catch (cause) {
      throw new SidecarConfigError('CONFIG_INVALID_VALUE', 'jwt.jwksUrl', 'is not a URL', { cause });
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
      throw new SidecarConfigError('CONFIG_INVALID_VALUE', 'jwt.jwksUrl', 'must be an https URL (http on loopback)');
    }
  }
  const jwksFile = str(value.jwksFile, 'jwt.jwksFile') ?? null;
  if (jwksUrl && jwksFile) {
    throw new SidecarConfigError('CONFIG_CONFLICT', 'jwt.jwksFile', 'give jwt.jwksUrl or jwt.jwksFile, not both');
  }
  return {
    issuer,
    audience: audience as string[],
    jwksUrl,
    jwksFile,
    signingKeyFile: str(value.signingKeyFile, 'jwt.signingKeyFile') ?? null,
    ttlSeconds: int(value.ttlSeconds, 'jwt.ttlSeconds', 1, 3600),
    clockToleranceSeconds: int(value.clockToleranceSeconds, 'jwt.clockToleranceSeconds', 0, 300),
  };
}

function parseRevocation(value: unknown): SidecarRevocationConfig | null {
  if (value === undefined) return null;
  if (!isObject(value)) throw new SidecarConfigError('CONFIG_INVALID_VALUE', 'revocation', 'must be an object');
  const type = oneOf(value.type, 'revocation.type', ['redis', 'postgres'] as const);
  if (type === undefined) {
    throw new SidecarConfigError('CONFIG_REQUIRED', 'revocation.type', 'is required: redis or postgres');
  }
  const channel = str(value.channel, 'revocation.channel');
  if (type === 'redis') {
    onlyKnown(value, 'revocation', ['type', 'url', 'channel']);
    const url = str(value.url, 'revocation.url', { required: true, pattern: /^rediss?:\/\// }) as string;
    return { type, url, ...(channel === undefined ? {} : { channel }) };
  }
  onlyKnown(value, 'revocation', ['type', 'connectionString', 'channel']);
  const connectionString = str(value.connectionString, 'revocation.connectionString', { required: true }) as string;
  return { type, connectionString, ...(channel === undefined ? {} : { channel }) };
}

function parseRemote(value: unknown): ResolvedRemoteConfig | null {
  if (value === undefined) return null;
  if (!isObject(value)) throw new SidecarConfigError('CONFIG_INVALID_VALUE', 'remote', 'must be an object');
  onlyKnown(value, 'remote', ['url', 'callerId', 'apiKeyFile', 'cacheTtlMs', 'cacheSize', 'timeoutMs']);
  const url = str(value.url, 'remote.url', { required: true }) as string;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new SidecarConfigError('CONFIG_INVALID_VALUE', 'remote.url', 'is not a URL', { cause });
  }
  // The API key travels in every call: never in clear text beyond this machine.
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname);
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && loopback)) {
    throw new SidecarConfigError('CONFIG_INVALID_VALUE', 'remote.url', 'must be an https URL (http on loopback)');
  }
  if (parsed.username || parsed.password || parsed.search || parsed.hash) {
    throw new SidecarConfigError('CONFIG_INVALID_VALUE', 'remote.url', 'must hold no credentials, query or fragment');
  }
  return {
    url: url.replace(/\/$/, ''),
    callerId: str(value.callerId, 'remote.callerId', { required: true, pattern: /^[A-Za-z0-9._-]{1,64}$/ }) as string,
    apiKeyFile: str(value.apiKeyFile, 'remote.apiKeyFile', { required: true }) as string,
    cacheTtlMs: int(value.cacheTtlMs, 'remote.cacheTtlMs', 0, 60_000) ?? DEFAULT_REMOTE_CACHE_TTL_MS,
    cacheSize: int(value.cacheSize, 'remote.cacheSize', 1, 1_000_000) ?? DEFAULT_REMOTE_CACHE_SIZE,
    timeoutMs: int(value.timeoutMs, 'remote.timeoutMs', 1, 60_000) ?? DEFAULT_REMOTE_TIMEOUT_MS,
  };
}

function parseStore(value: unknown): SidecarStoreConfig | null {
  if (value === undefined) return null;
  if (!isObject(value)) throw new SidecarConfigError('CONFIG_INVALID_VALUE', 'store', 'must be an object');
  const type = oneOf(value.type, 'store.type', ['redis', 'postgres'] as const);
  if (type === undefined)
    throw new SidecarConfigError('CONFIG_REQUIRED', 'store.type', 'is required: redis or postgres');
  if (type === 'redis') {
    onlyKnown(value, 'store', ['type', 'url', 'prefix', 'commandTimeoutMs']);
    const url = str(value.url, 'store.url', { required: true }) as string;
    if (!/^rediss?:\/\//.test(url)) {
      throw new SidecarConfigError('CONFIG_INVALID_VALUE', 'store.url', 'must start with redis:// or rediss://');
    }
    const prefix = value.prefix;
    if (prefix !== undefined && typeof prefix !== 'string') {
      throw new SidecarConfigError('CONFIG_INVALID_VALUE', 'store.prefix', 'must be a string');
    }
    return { type, url, prefix, commandTimeoutMs: int(value.commandTimeoutMs, 'store.commandTimeoutMs', 1, 60_000) };
  }
  onlyKnown(value, 'store', ['type', 'connectionString', 'schema', 'statementTimeoutMs']);
  const connectionString = str(value.connectionString, 'store.connectionString', { required: true }) as string;
  if (!/^postgres(ql)?:\/\//.test(connectionString)) {
    throw new SidecarConfigError(
      'CONFIG_INVALID_VALUE',
      'store.connectionString',
      'must start with postgres:// or postgresql://',
    );
  }
  return {
    type,
    connectionString,
    schema: str(value.schema, 'store.schema'),
    statementTimeoutMs: int(value.statementTimeoutMs, 'store.statementTimeoutMs', 1, 60_000),
  };
}

/**
 * `SESSION_SIDECAR_*` variables and the config field each one sets. Lists are comma-separated.
 * An unknown `SESSION_SIDECAR_*` variable is an error (`CONFIG_UNKNOWN_ENV`): typos do not pass
 * silently.
 */
export const ENVIRONMENT_VARIABLES: Readonly<Record<string, string>> = Object.freeze({
  SESSION_SIDECAR_MODE: 'mode',
  SESSION_SIDECAR_HOST: 'listen.host',
  SESSION_SIDECAR_PORT: 'listen.port',
  SESSION_SIDECAR_COOKIE_NAME: 'cookieName',
  SESSION_SIDECAR_JWT_COOKIE_NAME: 'jwtCookieName',
  SESSION_SIDECAR_BEARER: 'bearer',
  SESSION_SIDECAR_JWT_ISSUER: 'jwt.issuer',
  SESSION_SIDECAR_JWT_AUDIENCE: 'jwt.audience',
  SESSION_SIDECAR_JWKS_URL: 'jwt.jwksUrl',
  SESSION_SIDECAR_JWKS_FILE: 'jwt.jwksFile',
  SESSION_SIDECAR_SIGNING_KEY_FILE: 'jwt.signingKeyFile',
  SESSION_SIDECAR_JWT_TTL_SECONDS: 'jwt.ttlSeconds',
  SESSION_SIDECAR_REDIS_URL: 'store(redis).url',
  SESSION_SIDECAR_REDIS_PREFIX: 'store(redis).prefix',
  SESSION_SIDECAR_POSTGRES_URL: 'store(postgres).connectionString',
  SESSION_SIDECAR_POSTGRES_SCHEMA: 'store(postgres).schema',
  SESSION_SIDECAR_POLICY: 'policy',
  SESSION_SIDECAR_COOKIE_MODE: 'cookieMode',
  SESSION_SIDECAR_CLAIMS: 'identity.claims',
  SESSION_SIDECAR_SESSION_ID_HEADER: 'identity.sessionId',
  SESSION_SIDECAR_SESSION_ID_KEY_FILE: 'identity.sessionIdKeyFile',
  SESSION_SIDECAR_CLIENT_IP_HEADER: 'clientIpHeader',
  SESSION_SIDECAR_REMOTE_URL: 'remote.url',
  SESSION_SIDECAR_REMOTE_CALLER_ID: 'remote.callerId',
  SESSION_SIDECAR_REMOTE_API_KEY_FILE: 'remote.apiKeyFile',
  SESSION_SIDECAR_REMOTE_CACHE_TTL_MS: 'remote.cacheTtlMs',
  SESSION_SIDECAR_REVOCATION_REDIS_URL: 'revocation(redis).url',
  SESSION_SIDECAR_REVOCATION_POSTGRES_URL: 'revocation(postgres).connectionString',
  SESSION_SIDECAR_REVOCATION_CHANNEL: 'revocation.channel',
});

/**
 * Builds a configuration object from `SESSION_SIDECAR_*` variables (see
 * {@link ENVIRONMENT_VARIABLES}); returns null when none is set. Check the result with
 * {@link parseSidecarConfig}.
 *
 * @example
 * ```ts
 * const config = parseSidecarConfig(configFromEnvironment(process.env))
 * ```
 */
export function configFromEnvironment(
  env: Readonly<Record<string, string | undefined>>,
): Record<string, unknown> | null {
  const names = Object.keys(env).filter((name) => name.startsWith('SESSION_SIDECAR_') && env[name] !== undefined);
  if (names.length === 0) return null;
  const config: Json = {};
  const section = (name: string): Json => {
    config[name] ??= {};
    return config[name] as Json;
  };
  const list = (value: string) =>
    value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0);
  for (const name of names.sort()) {
    const value = env[name] as string;
    const number = (path: string) => {
      if (!/^\d{1,9}$/.test(value)) throw new SidecarConfigError('CONFIG_INVALID_VALUE', name, `${path}: not a number`);
      return Number(value);
    };
    switch (name) {
      case 'SESSION_SIDECAR_MODE':
        config.mode = value;
        break;
      case 'SESSION_SIDECAR_HOST':
        section('listen').host = value;
        break;
      case 'SESSION_SIDECAR_PORT':
        section('listen').port = number('listen.port');
        break;
      case 'SESSION_SIDECAR_COOKIE_NAME':
        config.cookieName = value;
        break;
      case 'SESSION_SIDECAR_JWT_COOKIE_NAME':
        config.jwtCookieName = value;
        break;
      case 'SESSION_SIDECAR_BEARER':
        if (value !== 'true' && value !== 'false') {
          throw new SidecarConfigError('CONFIG_INVALID_VALUE', name, 'must be true or false');
        }
        config.bearer = value === 'true';
        break;
      case 'SESSION_SIDECAR_JWT_ISSUER':
        section('jwt').issuer = value;
        break;
      case 'SESSION_SIDECAR_JWT_AUDIENCE':
        section('jwt').audience = list(value);
        break;
      case 'SESSION_SIDECAR_JWKS_URL':
        section('jwt').jwksUrl = value;
        break;
      case 'SESSION_SIDECAR_JWKS_FILE':
        section('jwt').jwksFile = value;
        break;
      case 'SESSION_SIDECAR_SIGNING_KEY_FILE':
        section('jwt').signingKeyFile = value;
        break;
      case 'SESSION_SIDECAR_JWT_TTL_SECONDS':
        section('jwt').ttlSeconds = number('jwt.ttlSeconds');
        break;
      case 'SESSION_SIDECAR_REDIS_URL':
        storeOf(config, name, 'redis').url = value;
        break;
      case 'SESSION_SIDECAR_REDIS_PREFIX':
        storeOf(config, name, 'redis').prefix = value;
        break;
      case 'SESSION_SIDECAR_POSTGRES_URL':
        storeOf(config, name, 'postgres').connectionString = value;
        break;
      case 'SESSION_SIDECAR_POSTGRES_SCHEMA':
        storeOf(config, name, 'postgres').schema = value;
        break;
      case 'SESSION_SIDECAR_POLICY':
        config.policy = value;
        break;
      case 'SESSION_SIDECAR_COOKIE_MODE':
        config.cookieMode = value;
        break;
      case 'SESSION_SIDECAR_CLAIMS':
        section('identity').claims = list(value);
        break;
      case 'SESSION_SIDECAR_SESSION_ID_HEADER':
        section('identity').sessionId = value;
        break;
      case 'SESSION_SIDECAR_SESSION_ID_KEY_FILE':
        section('identity').sessionIdKeyFile = value;
        break;
      case 'SESSION_SIDECAR_CLIENT_IP_HEADER':
        config.clientIpHeader = value;
        break;
      case 'SESSION_SIDECAR_REMOTE_URL':
        section('remote').url = value;
        break;
      case 'SESSION_SIDECAR_REMOTE_CALLER_ID':
        section('remote').callerId = value;
        break;
      case 'SESSION_SIDECAR_REMOTE_API_KEY_FILE':
        section('remote').apiKeyFile = value;
        break;
      case 'SESSION_SIDECAR_REMOTE_CACHE_TTL_MS':
        section('remote').cacheTtlMs = number('remote.cacheTtlMs');
        break;
      case 'SESSION_SIDECAR_REVOCATION_REDIS_URL':
        revocationOf(config, name, 'redis').url = value;
        break;
      case 'SESSION_SIDECAR_REVOCATION_POSTGRES_URL':
        revocationOf(config, name, 'postgres').connectionString = value;
        break;
      case 'SESSION_SIDECAR_REVOCATION_CHANNEL':
        section('revocation').channel = value;
        break;
      default:
        throw new SidecarConfigError(
          'CONFIG_UNKNOWN_ENV',
          name,
          `unknown variable (known: ${Object.keys(ENVIRONMENT_VARIABLES).join(', ')})`,
        );
    }
  }
  return config;
}

function revocationOf(config: Json, variable: string, type: 'redis' | 'postgres'): Json {
  const existing = config.revocation as Json | undefined;
  if (existing?.type !== undefined && existing.type !== type) {
    throw new SidecarConfigError(
      'CONFIG_CONFLICT',
      variable,
      'Redis and PostgreSQL revocation variables cannot be mixed',
    );
  }
  config.revocation = { ...existing, type };
  return config.revocation as Json;
}

function storeOf(config: Json, variable: string, type: 'redis' | 'postgres'): Json {
  const existing = config.store as Json | undefined;
  if (existing && existing.type !== type) {
    throw new SidecarConfigError('CONFIG_CONFLICT', variable, 'Redis and PostgreSQL variables cannot be mixed');
  }
  config.store = existing ?? { type };
  return config.store as Json;
}

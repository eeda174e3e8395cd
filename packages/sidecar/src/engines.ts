import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  createSessionManager,
  errorStatus,
  isSessionError,
  type RequestSignals,
  type RevocationChannel,
  type SessionData,
  SessionError,
  type SessionErrorCode,
  type SessionStore,
  type ValidationResult,
} from '@org/session-core';
import {
  base64urlDecode,
  defaultErrorMessage,
  getCookieValues,
  keyedIdHash,
  readBearerToken,
} from '@org/session-core/adapter';
import {
  createJwtKeySet,
  createJwtVerifier,
  createRemoteJwks,
  createRevocationList,
  createSessionJwt,
  importJwtKey,
  type JwtAlgorithm,
  type JwtKey,
  type JwtKeySet,
  type JwtKeySource,
  type RevocationList,
} from '@org/session-core/jwt';
import { type ResolvedSidecarConfig, SidecarConfigError } from './config.js';
import type { SidecarIdentity } from './identity.js';
import type { CredentialInput, Decision, Denial, SidecarEngine, TokenAnswer } from './server.js';

/** Core's one table decides every status; the body carries the code and its generic message. */
function denial(error: unknown): Denial {
  const code: SessionErrorCode = isSessionError(error) ? error.code : 'INTERNAL_ERROR';
  // An unexpected failure on the decision path is an outage, never a pass.
  const status = code === 'INTERNAL_ERROR' ? 503 : errorStatus[code];
  return { status, code, message: defaultErrorMessage(code) };
}

type Refusal = { allow: false; ok: false; denial: Denial; cookies: readonly string[] };

/** A refusal that serves as a forward-auth decision and as a token endpoint answer. */
function refuse(error: unknown, cookies: readonly string[] = []): Refusal {
  return { allow: false, ok: false, denial: denial(error), cookies };
}

const UNAUTHENTICATED = new SessionError('UNAUTHENTICATED');
const MALFORMED = new SessionError('TOKEN_MALFORMED');

/** A compact JWS has exactly two dots; a session token (`<id>.<secret>`) has one. */
function isJwtShaped(token: string): boolean {
  const first = token.indexOf('.');
  return first !== -1 && token.indexOf('.', first + 1) !== -1;
}

function signalsOf(input: CredentialInput): RequestSignals {
  return { userAgent: input.userAgent, ip: input.ip };
}

function identityFromClaims(claims: Readonly<Record<string, unknown>>): SidecarIdentity {
  const authTime = claims.auth_time;
  return {
    userId: claims.sub as string,
    sessionId: claims.sid as string,
    authTime: typeof authTime === 'number' ? authTime : null,
    claims,
  };
}

/** Reads a JSON file for a key or key set; failures name the field, never the content. */
async function readJsonFile(path: string, field: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new SidecarConfigError('CONFIG_KEY_INVALID', field, 'the file cannot be read', { cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new SidecarConfigError('CONFIG_KEY_INVALID', field, 'the file is not JSON', { cause });
  }
}

async function importKey(jwk: unknown, field: string): Promise<JwtKey> {
  if (typeof jwk !== 'object' || jwk === null) {
    throw new SidecarConfigError('CONFIG_KEY_INVALID', field, 'a key must be a JWK object');
  }
  const alg = (jwk as { alg?: unknown }).alg;
  if (alg !== 'ES256' && alg !== 'EdDSA' && alg !== 'HS256') {
    throw new SidecarConfigError('CONFIG_KEY_INVALID', field, 'each JWK needs "alg": ES256, EdDSA or HS256');
  }
  try {
    return await importJwtKey({ alg: alg as JwtAlgorithm, key: jwk as Parameters<typeof importJwtKey>[0]['key'] });
  } catch (cause) {
    const code = isSessionError(cause) ? cause.code : 'CONFIG_INVALID';
    // Core's messages never hold key material.
    const detail = isSessionError(cause) ? cause.message : 'the key cannot be imported';
    throw new SidecarConfigError('CONFIG_KEY_INVALID', field, `${code}: ${detail}`, { cause });
  }
}

/** Public keys from a JWKS file; a private or symmetric key there is refused (it is a verifier's file). */
async function loadPublicKeys(path: string): Promise<JwtKey[]> {
  const field = 'jwt.jwksFile';
  const jwks = await readJsonFile(path, field);
  const list = (jwks as { keys?: unknown })?.keys;
  if (!Array.isArray(list) || list.length === 0) {
    throw new SidecarConfigError('CONFIG_KEY_INVALID', field, 'expected { "keys": [ ...public JWKs ] }');
  }
  return Promise.all(
    list.map(async (jwk, i) => {
      const key = await importKey(jwk, `${field} keys[${i}]`);
      if (key.signingKey !== null) {
        throw new SidecarConfigError(
          'CONFIG_KEY_INVALID',
          `${field} keys[${i}]`,
          'holds a private or symmetric key: a JWKS file lists public keys only',
        );
      }
      return key;
    }),
  );
}

async function sessionIdValue(config: ResolvedSidecarConfig): Promise<((id: string) => string) | null> {
  const mode = config.identity.sessionId;
  if (mode === 'none') return null;
  if (mode === 'id') return (id) => id;
  let key: Uint8Array;
  if (config.identity.sessionIdKeyFile) {
    const field = 'identity.sessionIdKeyFile';
    let text: string;
    try {
      text = (await readFile(config.identity.sessionIdKeyFile, 'utf8')).trim();
    } catch (cause) {
      throw new SidecarConfigError('CONFIG_KEY_INVALID', field, 'the file cannot be read', { cause });
    }
    const decoded = base64urlDecode(text);
    if (decoded === null) throw new SidecarConfigError('CONFIG_KEY_INVALID', field, 'must hold base64url bytes');
    key = decoded;
    if (key.length < 32) throw new SidecarConfigError('CONFIG_KEY_INVALID', field, 'must hold 32 or more bytes');
  } else {
    // Hashes then correlate within this process only; a shared key file makes them agree everywhere.
    key = new Uint8Array(randomBytes(32));
  }
  return (id) => keyedIdHash(key, id);
}

/** The header options every engine shares. */
export async function identityOptions(config: ResolvedSidecarConfig) {
  return { claims: config.identity.claims, sessionIdValue: await sessionIdValue(config) };
}

/**
 * Stateless mode: session JWTs only, verified with the auth server's public keys (a JWKS URL or
 * file). No store, no token endpoint; a revoked session's JWT is accepted until its `exp`.
 */
export async function createStatelessEngine(config: ResolvedSidecarConfig): Promise<SidecarEngine> {
  const jwt = config.jwt as NonNullable<ResolvedSidecarConfig['jwt']>;
  let keys: JwtKeySource;
  let localKeys: JwtKeySet | null = null;
  if (jwt.jwksUrl) {
    try {
      keys = createRemoteJwks({ url: jwt.jwksUrl });
    } catch (cause) {
      throw new SidecarConfigError('CONFIG_INVALID_VALUE', 'jwt.jwksUrl', 'refused: https, or http on loopback', {
        cause,
      });
    }
  } else {
    localKeys = createJwtKeySet({ verifyOnly: await loadPublicKeys(jwt.jwksFile as string) });
    keys = localKeys;
  }
  const revocations = config.revocation ? await subscribeToRevocations(config) : null;
  const verifier = createJwtVerifier<Record<string, unknown>>({
    keys,
    issuer: jwt.issuer,
    audience: jwt.audience,
    maxTokenAgeSeconds: jwt.ttlSeconds,
    clockToleranceSeconds: jwt.clockToleranceSeconds,
    revocations: revocations?.list,
  });

  return {
    mode: 'stateless',
    async decide(input) {
      let token: string | null = null;
      if (config.bearer && input.authorization !== undefined) {
        token = readBearerToken(input.authorization);
        if (token === null || !isJwtShaped(token)) return refuse(MALFORMED);
      } else if (config.jwtCookieName) {
        const found = getCookieValues(input.cookie, config.jwtCookieName, 2);
        // Two JWT cookies: one may be planted by a sibling subdomain; take neither.
        if (found.length !== 1) return refuse(UNAUTHENTICATED);
        token = found[0] as string;
      }
      if (token === null) return refuse(UNAUTHENTICATED);
      try {
        const claims = await verifier.verify(token);
        return { allow: true, identity: identityFromClaims(claims), cookies: [] };
      } catch (error) {
        return refuse(error);
      }
    },
    jwks: () => (localKeys ? localKeys.exportJwks() : null),
    revocationStatus: revocations ? () => revocations.list.status : undefined,
    async ready() {
      if (localKeys) return true;
      try {
        await keys.resolve('sidecar-readiness-probe');
        return true;
      } catch (error) {
        // The set was fetched and lacks the probe's kid: the JWKS answers.
        return isSessionError(error, 'JWT_KID_UNKNOWN');
      }
    },
    async close() {
      await revocations?.close();
    },
  };
}

/**
 * The revocation list of a stateless sidecar, subscribed to the auth server's channel. Entries are
 * kept for the longest a JWT can still verify (TTL plus tolerance). Not awaited until up: the
 * sidecar serves from the start, on the TTL bound until the subscription is live.
 */
async function subscribeToRevocations(
  config: ResolvedSidecarConfig,
): Promise<{ list: RevocationList; close(): Promise<void> }> {
  const settings = config.revocation as NonNullable<ResolvedSidecarConfig['revocation']>;
  const jwt = config.jwt as NonNullable<ResolvedSidecarConfig['jwt']>;
  let channel: RevocationChannel & { close(): Promise<void> };
  try {
    if (settings.type === 'redis') {
      const { RedisRevocationChannel } = await import('@org/session-store-redis');
      channel = new RedisRevocationChannel({ url: settings.url, channel: settings.channel });
    } else {
      const { PostgresRevocationChannel } = await import('@org/session-store-postgres');
      channel = new PostgresRevocationChannel({
        connectionString: settings.connectionString,
        channel: settings.channel,
      });
    }
  } catch (cause) {
    if (isSessionError(cause)) {
      throw new SidecarConfigError('CONFIG_INVALID_VALUE', 'revocation', `${cause.code}: ${cause.message}`, { cause });
    }
    throw cause;
  }
  const list = createRevocationList({
    channel,
    retainSeconds: (jwt.ttlSeconds ?? 300) + (jwt.clockToleranceSeconds ?? 30),
    // One line per change of the channel, for the operator: the TTL bound applies while down.
    onEvent: (event) => {
      if (event.type !== 'revocation.list_full') console.warn(JSON.stringify(event));
    },
  });
  return {
    list,
    async close() {
      await list.close();
      await channel.close();
    },
  };
}

const READINESS_PROBE_ID = 'sidecar-readiness-probe';

async function openStore(config: ResolvedSidecarConfig): Promise<SessionStore> {
  const store = config.store as NonNullable<ResolvedSidecarConfig['store']>;
  try {
    if (store.type === 'redis') {
      const { RedisStore } = await import('@org/session-store-redis');
      return new RedisStore({ url: store.url, prefix: store.prefix, commandTimeoutMs: store.commandTimeoutMs });
    }
    const { PostgresStore } = await import('@org/session-store-postgres');
    return new PostgresStore({
      connectionString: store.connectionString,
      schema: store.schema,
      statementTimeoutMs: store.statementTimeoutMs,
    });
  } catch (cause) {
    if (isSessionError(cause)) {
      throw new SidecarConfigError('CONFIG_INVALID_VALUE', 'store', `${cause.code}: ${cause.message}`, { cause });
    }
    throw cause;
  }
}

/**
 * Store mode: session cookies and bearer session tokens looked up in the store the auth server
 * writes (revocation is immediate), session JWTs verified strictly (signature, then the session
 * must still be live). With `jwt`, a token endpoint exchanges a live session for a fresh JWT.
 * A store that does not answer is a deny (503), never an allow.
 */
export async function createStoreEngine(config: ResolvedSidecarConfig): Promise<SidecarEngine> {
  const jwt = config.jwt;
  // Keys first: a bad key file fails before any connection is opened.
  let keySet: JwtKeySet | null = null;
  if (jwt) {
    const signing = await importKey(
      await readJsonFile(jwt.signingKeyFile as string, 'jwt.signingKeyFile'),
      'jwt.signingKeyFile',
    );
    if (signing.signingKey === null) {
      throw new SidecarConfigError('CONFIG_KEY_INVALID', 'jwt.signingKeyFile', 'holds a public key: it cannot sign');
    }
    const older = jwt.jwksFile ? await loadPublicKeys(jwt.jwksFile) : [];
    try {
      keySet = createJwtKeySet({ active: signing, verifyOnly: older.filter((key) => key.kid !== signing.kid) });
    } catch (cause) {
      throw new SidecarConfigError(
        'CONFIG_KEY_INVALID',
        'jwt',
        'the signing key and the JWKS file do not fit together',
        {
          cause,
        },
      );
    }
  }

  const store = await openStore(config);
  const claimNames = config.identity.claims;
  let manager: ReturnType<typeof createSessionManager<SessionData>>;
  let jwts: ReturnType<typeof createSessionJwt<SessionData, Record<string, unknown>>> | null = null;
  try {
    manager = createSessionManager<SessionData>({
      store,
      policy: config.policy as Parameters<typeof createSessionManager>[0]['policy'],
      cookie: { name: config.cookieName } as Parameters<typeof createSessionManager>[0]['cookie'],
      mode: config.cookieMode,
    });
    if (jwt && keySet) {
      jwts = createSessionJwt<SessionData, Record<string, unknown>>({
        manager,
        keys: keySet,
        issuer: jwt.issuer,
        audience: jwt.audience,
        ttlSeconds: jwt.ttlSeconds,
        clockToleranceSeconds: jwt.clockToleranceSeconds,
        // Only the configured session data fields become claims: data may hold server-only values.
        claims: (session) => {
          const claims: Record<string, unknown> = {};
          for (const name of claimNames) {
            if (Object.hasOwn(session.data, name)) claims[name] = (session.data as Record<string, unknown>)[name];
          }
          return claims;
        },
      });
    }
  } catch (cause) {
    await store.close?.().catch(() => {});
    if (isSessionError(cause)) {
      throw new SidecarConfigError('CONFIG_INVALID_VALUE', 'policy', `${cause.code}: ${cause.message}`, { cause });
    }
    throw cause;
  }

  const fromResult = (result: ValidationResult<SessionData>): Decision => {
    if (result.status !== 'valid') return refuse(result.error, result.cookies);
    const session = result.session;
    return {
      allow: true,
      identity: {
        userId: session.userId,
        sessionId: session.id,
        authTime: Math.floor(session.authenticatedAt / 1000),
        claims: session.data as Record<string, unknown>,
      },
      cookies: result.cookies,
    };
  };

  const verifyJwt = async (token: string): Promise<Decision> => {
    if (!jwts) return refuse(UNAUTHENTICATED);
    try {
      // Strict: the signature, then the store must still hold the session (revocation at once).
      return { allow: true, identity: identityFromClaims(await jwts.verify(token, { strict: true })), cookies: [] };
    } catch (error) {
      return refuse(error);
    }
  };

  /** The live session behind a session token or cookie, for both endpoints. */
  const validate = async (
    input: CredentialInput,
    allowJwt: boolean,
  ): Promise<{ result: ValidationResult<SessionData> | null; decision: Decision | null; viaCookie: boolean }> => {
    if (config.bearer && input.authorization !== undefined) {
      const token = readBearerToken(input.authorization);
      if (token === null) return { result: null, decision: refuse(MALFORMED), viaCookie: false };
      if (isJwtShaped(token)) {
        return { result: null, decision: allowJwt ? await verifyJwt(token) : refuse(MALFORMED), viaCookie: false };
      }
      return { result: await manager.validateToken(token, signalsOf(input)), decision: null, viaCookie: false };
    }
    if (allowJwt && config.jwtCookieName && getCookieValues(input.cookie, config.cookieName, 1).length === 0) {
      const found = getCookieValues(input.cookie, config.jwtCookieName, 2);
      if (found.length === 1) return { result: null, decision: await verifyJwt(found[0] as string), viaCookie: true };
    }
    return { result: await manager.validateCookie(input.cookie, signalsOf(input)), decision: null, viaCookie: true };
  };

  const engine: SidecarEngine = {
    mode: 'store',
    async decide(input) {
      const { result, decision } = await validate(input, true);
      return decision ?? fromResult(result as ValidationResult<SessionData>);
    },
    jwks: () => (keySet ? keySet.exportJwks() : null),
    async ready() {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), 1000);
      });
      try {
        await Promise.race([store.get(READINESS_PROBE_ID, Date.now()), deadline]);
        return true;
      } catch {
        return false;
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      await store.close?.();
    },
  };
  if (jwts) {
    const issuer = jwts;
    engine.issue = async (input): Promise<TokenAnswer> => {
      const { result, viaCookie } = await validate(input, false);
      if (viaCookie && input.fetchSite === 'cross-site') {
        // A cross-site page cannot read the answer, but it need not make the session slide either.
        return refuse(new SessionError('CSRF_REJECTED'));
      }
      if (!result) return refuse(MALFORMED);
      if (result.status !== 'valid') return refuse(result.error, result.cookies);
      try {
        const issued = await issuer.issue(result.session);
        return {
          ok: true,
          body: {
            jwt: issued.token,
            tokenType: 'session+jwt',
            expiresAt: issued.expiresAt,
            expiresIn: issued.expiresIn,
          },
          cookies: result.cookies,
        };
      } catch (error) {
        // SESSION_EXPIRED here: the session ends within the clock tolerance, so no JWT is issued.
        return refuse(error, result.cookies);
      }
    };
  }
  return engine;
}

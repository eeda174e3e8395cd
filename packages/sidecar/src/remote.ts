import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { errorStatus, isSessionError, SessionError, type SessionErrorCode } from '@org/session-core';
import { defaultErrorMessage, getCookieValues, readBearerToken } from '@org/session-core/adapter';
import { type ResolvedRemoteConfig, type ResolvedSidecarConfig, SidecarConfigError } from './config.js';
import type { SidecarIdentity } from './identity.js';
import type { CredentialInput, Decision, Denial, SidecarEngine, TokenAnswer } from './server.js';

type Credential = { field: 'session_token' | 'session_jwt'; value: string };

type ApiAnswer =
  | { ok: true; identity: SidecarIdentity; expiresAt: number; jwt: string | null; jwtExpiresAt: number | null }
  | { ok: false; error: SessionError };

/** A compact JWS has exactly two dots; a session token (`<id>.<secret>`) has one. */
function isJwtShaped(token: string): boolean {
  const first = token.indexOf('.');
  return first !== -1 && token.indexOf('.', first + 1) !== -1;
}

function denial(error: unknown): Denial {
  const code: SessionErrorCode = isSessionError(error) ? error.code : 'STORE_UNAVAILABLE';
  return { status: errorStatus[code], code, message: defaultErrorMessage(code) };
}

function refuse(error: unknown): { allow: false; ok: false; denial: Denial; cookies: readonly string[] } {
  return { allow: false, ok: false, denial: denial(error), cookies: [] };
}

/** The API is down, slow, refuses this sidecar, or answers nonsense: all deny (503), never allow. */
function apiDown(reason: string): SessionError {
  return new SessionError('STORE_UNAVAILABLE', 'The session API did not give an answer', { reason });
}

/**
 * Codes the API may answer that are about the presented credential; anything else (caller
 * refused, rate limited, server trouble) is this sidecar's problem and a 503 deny.
 */
function credentialError(status: number, body: unknown): SessionError {
  const code = (body as { error?: { code?: unknown } })?.error?.code;
  if (typeof code === 'string' && Object.hasOwn(errorStatus, code)) {
    const known = code as SessionErrorCode;
    const status4xx = errorStatus[known];
    if (status === status4xx && status4xx < 500 && known !== 'CALLER_UNAUTHENTICATED' && known !== 'RATE_LIMITED') {
      return new SessionError(known);
    }
  }
  return apiDown(`status_${status}`);
}

/**
 * Remote mode: every decision asks the central session API (`POST /sessions/authenticate`), so a
 * service is protected without any access to the session store. Positive answers are cached for
 * `cacheTtlMs` (never past the session's own deadline), keyed by a hash of the credential, at most
 * `cacheSize` of them (oldest out first): a revocation reaches this sidecar within `cacheTtlMs`.
 * Refusals are not cached. An API that is down, slow, refuses this sidecar's key or rate-limits it
 * is a 503 deny, never an allow; once it answers again, so does the sidecar, with no restart.
 */
export async function createRemoteEngine(config: ResolvedSidecarConfig): Promise<SidecarEngine> {
  const remote = config.remote as ResolvedRemoteConfig;
  let key: string;
  try {
    key = (await readFile(remote.apiKeyFile, 'utf8')).trim();
  } catch (cause) {
    throw new SidecarConfigError('CONFIG_KEY_INVALID', 'remote.apiKeyFile', 'the file cannot be read', { cause });
  }
  if (key.length < 32 || key.length > 512 || /\s/.test(key)) {
    throw new SidecarConfigError('CONFIG_KEY_INVALID', 'remote.apiKeyFile', 'must hold one API key of 32+ characters');
  }
  const authorization = `Basic ${Buffer.from(`${remote.callerId}:${key}`, 'utf8').toString('base64')}`;
  const base = remote.url.replace(/\/$/, '');
  const claimNames = config.identity.claims;
  const cache = new Map<string, { identity: SidecarIdentity; until: number }>();

  const cacheKey = (credential: Credential) =>
    `${credential.field}:${createHash('sha256').update(credential.value).digest('base64url')}`;

  const ask = async (credential: Credential, input: CredentialInput): Promise<ApiAnswer> => {
    let response: Response;
    try {
      response = await fetch(`${base}/sessions/authenticate`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ [credential.field]: credential.value, user_agent: input.userAgent, ip: input.ip }),
        signal: AbortSignal.timeout(remote.timeoutMs),
        redirect: 'error',
      });
    } catch {
      return { ok: false, error: apiDown('unreachable') };
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      return { ok: false, error: apiDown('not_json') };
    }
    if (response.status !== 200) return { ok: false, error: credentialError(response.status, body) };
    const session = (body as { session?: Record<string, unknown> }).session;
    const userId = session?.user_id;
    const sessionId = session?.session_id;
    const expiresAt = Date.parse(String(session?.expires_at));
    const authTime = Date.parse(String(session?.authenticated_at));
    if (typeof userId !== 'string' || typeof sessionId !== 'string' || !Number.isFinite(expiresAt)) {
      return { ok: false, error: apiDown('bad_answer') };
    }
    const data = session?.data;
    const claims: Record<string, unknown> = {};
    if (typeof data === 'object' && data !== null) {
      for (const name of claimNames) if (Object.hasOwn(data, name)) claims[name] = (data as Json)[name];
    }
    const jwt = (body as { session_jwt?: unknown }).session_jwt;
    const jwtExpiresAt = Date.parse(String((body as { session_jwt_expires_at?: unknown }).session_jwt_expires_at));
    return {
      ok: true,
      identity: {
        userId,
        sessionId,
        authTime: Number.isFinite(authTime) ? Math.floor(authTime / 1000) : null,
        claims,
      },
      expiresAt,
      jwt: typeof jwt === 'string' ? jwt : null,
      jwtExpiresAt: Number.isFinite(jwtExpiresAt) ? jwtExpiresAt : null,
    };
  };

  /** The one credential of a request: a bearer token or JWT, the session cookie, else the JWT cookie. */
  const credentialOf = (input: CredentialInput): Credential | SessionError => {
    if (config.bearer && input.authorization !== undefined) {
      const token = readBearerToken(input.authorization);
      if (token === null) return new SessionError('TOKEN_MALFORMED');
      return { field: isJwtShaped(token) ? 'session_jwt' : 'session_token', value: token };
    }
    const tokens = getCookieValues(input.cookie, config.cookieName, 2);
    // Two session cookies: one may be planted by a sibling subdomain; take neither.
    if (tokens.length > 1) return new SessionError('UNAUTHENTICATED', undefined, { reason: 'ambiguous' });
    if (tokens.length === 1) return { field: 'session_token', value: tokens[0] as string };
    if (config.jwtCookieName) {
      const jwts = getCookieValues(input.cookie, config.jwtCookieName, 2);
      if (jwts.length === 1) return { field: 'session_jwt', value: jwts[0] as string };
    }
    return new SessionError('UNAUTHENTICATED');
  };

  const remember = (id: string, identity: SidecarIdentity, expiresAt: number) => {
    const until = Math.min(Date.now() + remote.cacheTtlMs, expiresAt);
    if (until <= Date.now()) return;
    cache.delete(id);
    cache.set(id, { identity, until });
    // Oldest first out: a Map iterates in insertion order.
    while (cache.size > remote.cacheSize) cache.delete(cache.keys().next().value as string);
  };

  const engine: SidecarEngine = {
    mode: 'remote',
    async decide(input): Promise<Decision> {
      const credential = credentialOf(input);
      if (credential instanceof SessionError) return refuse(credential);
      const id = cacheKey(credential);
      const hit = cache.get(id);
      if (hit) {
        if (hit.until > Date.now()) return { allow: true, identity: hit.identity, cookies: [] };
        cache.delete(id);
      }
      const answer = await ask(credential, input);
      if (!answer.ok) return refuse(answer.error);
      remember(id, answer.identity, answer.expiresAt);
      return { allow: true, identity: answer.identity, cookies: [] };
    },
    async issue(input): Promise<TokenAnswer> {
      const credential = credentialOf(input);
      if (credential instanceof SessionError) return refuse(credential);
      // A JWT is not exchanged for another here, as in store mode: the token endpoint serves sessions.
      if (credential.field === 'session_jwt') return refuse(new SessionError('TOKEN_MALFORMED'));
      const viaCookie = !(config.bearer && input.authorization !== undefined);
      if (viaCookie && input.fetchSite === 'cross-site') return refuse(new SessionError('CSRF_REJECTED'));
      const answer = await ask(credential, input);
      if (!answer.ok) return refuse(answer.error);
      if (answer.jwt === null || answer.jwtExpiresAt === null) return refuse(new SessionError('SESSION_EXPIRED'));
      return {
        ok: true,
        body: {
          jwt: answer.jwt,
          tokenType: 'session+jwt',
          expiresAt: answer.jwtExpiresAt,
          expiresIn: Math.max(0, Math.floor((answer.jwtExpiresAt - Date.now()) / 1000)),
        },
        cookies: [],
      };
    },
    jwks: () => null,
    async ready() {
      try {
        const response = await fetch(`${base}/.well-known/jwks.json`, {
          signal: AbortSignal.timeout(remote.timeoutMs),
          redirect: 'error',
        });
        await response.body?.cancel();
        return response.status === 200;
      } catch {
        return false;
      }
    },
    async close() {
      cache.clear();
    },
  };
  return engine;
}

type Json = Record<string, unknown>;

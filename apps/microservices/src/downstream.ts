import { errorStatus, isSessionError, type RevocationEvent } from '@org/session-core';
import { readBearerToken } from '@org/session-core/adapter';
import {
  createJwtVerifier,
  createRemoteJwks,
  createRevocationList,
  type RemoteJwks,
  type RevocationList,
} from '@org/session-core/jwt';
import { RedisRevocationChannel } from '@org/session-store-redis';
import { type RunningService, sendJson, serve } from './http.js';

export interface DownstreamOptions {
  /** Service name: its routes live under `/<name>/`, and its JWT audience is the name. */
  name: string;
  port?: number;
  issuer: string;
  /** The auth service's JWKS, through nginx. */
  jwksUrl: string;
  /** JWKS refetch cooldown on an unknown `kid` (the stack waits this long before a new key signs). */
  jwksCooldownMs: number;
  ttlSeconds: number;
  /** Subscribe to revocations here (Redis URL + channel); none: JWTs live until their `exp`. */
  revocation?: { redisUrl: string; channel: string };
  onEvent?: (event: RevocationEvent) => void;
}

export interface Downstream extends RunningService {
  jwks: RemoteJwks;
  revocations: RevocationList | null;
}

/**
 * A service that does not talk to the session store: it verifies session JWTs locally with the
 * auth service's public keys (fetched from the JWKS) and, when subscribed, refuses revoked
 * sessions as soon as the notice arrives. `GET /<name>/me` answers who is calling.
 */
export async function startDownstream(options: DownstreamOptions): Promise<Downstream> {
  const jwks = createRemoteJwks({ url: options.jwksUrl, cooldownMs: options.jwksCooldownMs });
  let channel: RedisRevocationChannel | null = null;
  let revocations: RevocationList | null = null;
  if (options.revocation) {
    channel = new RedisRevocationChannel({ url: options.revocation.redisUrl, channel: options.revocation.channel });
    revocations = createRevocationList({
      channel,
      // Entries outlive every JWT issued before the revocation (no clock tolerance in this stack).
      retainSeconds: options.ttlSeconds,
      onEvent: options.onEvent,
    });
  }
  const verifier = createJwtVerifier({
    keys: jwks,
    issuer: options.issuer,
    audience: options.name,
    maxTokenAgeSeconds: options.ttlSeconds,
    clockToleranceSeconds: 0,
    revocations: revocations ?? undefined,
  });
  const service = await serve(options.name, options.port ?? 0, async (req, res, url) => {
    if (url.pathname === `/${options.name}/healthz`) {
      return sendJson(res, 200, { status: 'ok', revocation: revocations?.status ?? 'not_subscribed' });
    }
    if (url.pathname !== `/${options.name}/me` || req.method !== 'GET')
      return sendJson(res, 404, { code: 'NOT_FOUND' });
    const token = readBearerToken(req.headers.authorization);
    if (!token) return sendJson(res, 401, { code: 'UNAUTHENTICATED' });
    try {
      const claims = await verifier.verify(token);
      return sendJson(res, 200, { service: options.name, userId: claims.sub, sessionId: claims.sid });
    } catch (error) {
      const code = isSessionError(error) ? error.code : 'INTERNAL_ERROR';
      return sendJson(res, code === 'INTERNAL_ERROR' ? 500 : errorStatus[code], { code });
    }
  });
  return {
    ...service,
    jwks,
    revocations,
    async close() {
      await service.close();
      await revocations?.close();
      await channel?.close();
    },
  };
}

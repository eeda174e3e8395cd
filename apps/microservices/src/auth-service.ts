import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type ApiCaller, createSessionApi } from '@org/session-auth-api';
import { toNodeHandler } from '@org/session-auth-api/node';
import { createSessionManager, errorStatus, isSessionError, type SessionManager } from '@org/session-core';
import {
  createJwtKeySet,
  createSessionAuthority,
  createSessionJwt,
  importJwtKey,
  type JwtKeySet,
  type SessionJwt,
} from '@org/session-core/jwt';
import { RedisRevocationChannel, RedisStore } from '@org/session-store-redis';
import { decoyPasswordHash, verifyPassword } from 'demo-shared/passwords';
import { type RunningService, readJson, sendJson, serve } from './http.js';

/** A private JWK as `exportSigningJwk` gives it (ES256 here), with its `kid`. */
export type PrivateJwk = Record<string, unknown> & { kid: string };

export interface AuthServiceOptions {
  /** Instance name, sent back in `x-instance` (the tests tell A from B by it). */
  name: string;
  port?: number;
  redisUrl: string;
  /** Key prefix in Redis, shared by every instance (and the sidecar). */
  prefix: string;
  /** The revocation channel, shared by every instance and every subscribed verifier. */
  channel: string;
  issuer: string;
  audience: string[];
  ttlSeconds: number;
  /** Signing keys, the first one active. Every instance gets the same keys. */
  keys: PrivateJwk[];
  /** User name -> password hash (demo-shared's scrypt format). */
  users: ReadonlyMap<string, string>;
  /** Guards the key-rotation endpoint; only the stack's operator knows it. */
  adminToken: string;
  /** Services allowed to call the session API (`/auth/sessions/...`), by API key hash. */
  apiCallers: ApiCaller[];
}

export interface AuthService extends RunningService {
  manager: SessionManager;
  jwts: SessionJwt;
  keys: JwtKeySet;
}

/**
 * One instance of the auth service: login (a session cookie plus a session JWT), the session
 * check, a JWT for the live session, logout and "log out everywhere" (both published on the
 * revocation channel), the JWKS, and a loopback admin endpoint that the stack drives to rotate
 * keys on every instance in step. Instances share nothing but Redis and the keys.
 */
export async function startAuthService(options: AuthServiceOptions): Promise<AuthService> {
  const [first, ...older] = await Promise.all(options.keys.map((jwk) => importKey(jwk)));
  if (!first) throw new Error('the auth service needs a signing key');
  const keys = createJwtKeySet({ active: first, verifyOnly: older });
  const store = new RedisStore({ url: options.redisUrl, prefix: options.prefix });
  const channel = new RedisRevocationChannel({ client: store.client, channel: options.channel });
  // Plain http on loopback: the explicit development cookie mode (no __Host- prefix, no Secure).
  const manager = createSessionManager({
    store,
    mode: 'development',
    cookie: { name: 'sid' },
    revocation: { channel },
  });
  const jwts = createSessionJwt({
    manager,
    keys,
    issuer: options.issuer,
    audience: options.audience,
    ttlSeconds: options.ttlSeconds,
    clockToleranceSeconds: 0,
  });
  // The central session API, for services in any language: authenticate a session token or JWT
  // (one expired within a minute too), revoke (published like every revocation), list, JWKS.
  const sessionApi = toNodeHandler(
    createSessionApi({
      authority: createSessionAuthority({ jwt: jwts, exchangeWindowSeconds: 60 }),
      callers: options.apiCallers,
      basePath: '/auth',
    }),
  );
  const instance = { 'x-instance': options.name };
  const admin = Buffer.from(options.adminToken);

  const denied = (error: unknown) => {
    const code = isSessionError(error) ? error.code : 'UNAUTHENTICATED';
    return { status: errorStatus[code], body: { code } };
  };

  const session = async (req: IncomingMessage) => {
    const result = await manager.validateCookie(req.headers.cookie, {
      userAgent: req.headers['user-agent'],
      ip: req.socket.remoteAddress,
    });
    return result;
  };

  const service = await serve(options.name, options.port ?? 0, async (req, res, url) => {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    if (path === '/auth/sessions' || path.startsWith('/auth/sessions/')) {
      res.setHeader('x-instance', options.name);
      return sessionApi(req, res);
    }
    if (method === 'GET' && path === '/.well-known/jwks.json') {
      return sendJson(res, 200, jwts.jwks(), instance);
    }
    if (method === 'GET' && path === '/auth/session') {
      const result = await session(req);
      if (result.status !== 'valid') {
        const { status, body } = denied(result.error);
        return sendJson(res, status, body, { ...instance, 'set-cookie': result.cookies });
      }
      return sendJson(
        res,
        200,
        { userId: result.session.userId, sessionId: result.session.id },
        { ...instance, 'set-cookie': result.cookies },
      );
    }
    if (method !== 'POST') return sendJson(res, 404, { code: 'NOT_FOUND' }, instance);
    const body = await readJson(req);
    if (body === null) return sendJson(res, 415, { code: 'CONTENT_TYPE_REJECTED' }, instance);

    if (path === '/auth/login') {
      const user = typeof body.username === 'string' ? body.username : '';
      const hash = options.users.get(user);
      const password = typeof body.password === 'string' ? body.password : '';
      // The same work for unknown users as for known ones.
      const ok = await verifyPassword(password, hash ?? (await decoyPasswordHash()));
      if (!hash || !ok) return sendJson(res, 401, { code: 'UNAUTHENTICATED' }, instance);
      const current = await session(req);
      const issued = await manager.create({
        userId: user,
        replaces: current.status === 'valid' ? current.session.id : null,
        metadata: { userAgent: req.headers['user-agent'] ?? null, ip: req.socket.remoteAddress ?? null },
      });
      const jwt = await jwts.issue(issued.session);
      return sendJson(
        res,
        200,
        { userId: user, sessionId: issued.session.id, jwt: jwt.token, expiresIn: jwt.expiresIn },
        { ...instance, 'set-cookie': issued.cookies },
      );
    }
    if (path === '/auth/token') {
      const result = await session(req);
      if (result.status !== 'valid')
        return sendJson(res, denied(result.error).status, denied(result.error).body, instance);
      const jwt = await jwts.issue(result.session);
      return sendJson(res, 200, { jwt: jwt.token, expiresIn: jwt.expiresIn }, instance);
    }
    if (path === '/auth/logout' || path === '/auth/logout-everywhere') {
      const result = await session(req);
      let revoked = 0;
      if (result.status === 'valid') {
        revoked =
          path === '/auth/logout'
            ? Number(await manager.revoke(result.session.id, { reason: 'logout' }))
            : await manager.revokeAll(result.session.userId);
      }
      return sendJson(res, 200, { revoked }, { ...instance, 'set-cookie': manager.deletionCookie() });
    }
    if (path === '/admin/keys') {
      const token = Buffer.from(String(req.headers['x-admin-token'] ?? ''));
      if (token.length !== admin.length || !timingSafeEqual(token, admin)) {
        return sendJson(res, 401, { code: 'UNAUTHENTICATED' }, instance);
      }
      // Rotation in three steps, each sent to every instance by the stack: publish the next key,
      // make it sign once every verifier can have it, retire the old one once its JWTs expired.
      if (body.stage === 'publish') keys.add(await importKey(body.jwk as PrivateJwk));
      else if (body.stage === 'activate') keys.activate(String(body.kid));
      else if (body.stage === 'retire') keys.retire(String(body.kid));
      else return sendJson(res, 400, { code: 'INPUT_INVALID' }, instance);
      return sendJson(res, 200, { active: keys.active.kid, kids: keys.list().map((k) => k.kid) }, instance);
    }
    return sendJson(res, 404, { code: 'NOT_FOUND' }, instance);
  });

  return {
    ...service,
    manager,
    jwts,
    keys,
    async close() {
      await service.close();
      await manager.close();
    },
  };
}

async function importKey(jwk: PrivateJwk) {
  return importJwtKey({ alg: 'ES256', kid: jwk.kid, key: jwk as never });
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertDpopBinding,
  assertSessionDpopBinding,
  createDpopVerifier,
  type DpopAuthentication,
  type DpopVerifier,
  dpopErrorResponse,
} from '../dpop.js';
import { SessionError } from '../errors.js';
import type { SessionEvent } from '../events.js';
import { createJwtKeySet } from '../jwt/key-set.js';
import { generateSigningKey } from '../jwt/keys.js';
import { createSessionJwt } from '../jwt/session-jwt.js';
import { createSessionManager } from '../manager.js';
import { MemoryStore } from '../memory-store.js';
import { createRefreshTokens } from '../refresh.js';

/**
 * DPoP over real HTTP, the same for every adapter: each adapter mounts its DPoP middleware on four
 * routes and hands the request's `DpopAuthentication` to the handlers here, which are app code
 * built from core's helpers. Proofs come from the `dpop` client library the adapter's test passes.
 */

/** The parts of the `dpop` package the suite uses. */
export interface DpopClientLibrary {
  generateKeyPair(alg: 'ES256'): Promise<CryptoKeyPair>;
  generateProof(keys: CryptoKeyPair, htu: string, htm: string, nonce?: string, accessToken?: string): Promise<string>;
  calculateThumbprint(publicKey: CryptoKey): Promise<string>;
}

export interface DpopAnswer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** App handlers: what each route does with the verified request. */
export interface DpopHandlers {
  token(auth: DpopAuthentication | undefined, body: { userId?: string }): Promise<DpopAnswer>;
  refresh(auth: DpopAuthentication | undefined, body: { refresh_token?: string }): Promise<DpopAnswer>;
  /** Token revocation (RFC 7009): a DPoP-bound refresh token is revoked only with a proof from its key. */
  revoke(auth: DpopAuthentication | undefined, body: { token?: string }): Promise<DpopAnswer>;
  me(auth: DpopAuthentication | undefined, ip: string | null): Promise<DpopAnswer>;
  jwt(auth: DpopAuthentication | undefined): Promise<DpopAnswer>;
}

export interface DpopServerInput {
  /** The suite's verifier, for the adapter's DPoP middleware on all four routes. */
  verifier: DpopVerifier;
  /** What each route answers; the adapter calls these with the request's authentication. */
  handlers: DpopHandlers;
}

export interface DpopSuiteOptions {
  /** The adapter's name, prefixed to the suite's `describe` title. */
  name: string;
  /** The `dpop` client library, to make keys and sign proofs like a real client. */
  client: DpopClientLibrary;
  /** Where the app mounts the routes below, for an app whose own routes take the root ones. Default `''`. */
  basePath?: string;
  /**
   * Starts the adapter's app: POST /token, POST /token/refresh and POST /token/revoke behind the
   * DPoP middleware as a token endpoint, GET /api/me and GET /api/jwt behind it as a resource; each route answers what
   * its handler returns (status, headers, JSON body).
   */
  start(input: DpopServerInput): Promise<{ url: string; close(): Promise<void> }>;
}

export function runDpopHttpSuite(options: DpopSuiteOptions): void {
  describe(`${options.name}: DPoP over HTTP (RFC 9449)`, () => {
    const events: SessionEvent[] = [];
    const store = new MemoryStore();
    const manager = createSessionManager({ store, onEvent: (event) => events.push(event) });
    let server: { url: string; close(): Promise<void> };
    let verifier: DpopVerifier;
    let refresh: ReturnType<typeof createRefreshTokens>;
    const client = options.client;

    const answer = (error: unknown, tokenEndpoint = false): DpopAnswer => {
      if (!(error instanceof SessionError)) throw error;
      const { status, headers, body } = dpopErrorResponse(error, verifier, { tokenEndpoint });
      return { status, headers, body };
    };

    beforeAll(async () => {
      const jwt = createSessionJwt({
        manager,
        keys: createJwtKeySet({ active: await generateSigningKey('ES256') }),
        issuer: 'https://auth.example.test',
        audience: 'api',
      });
      refresh = createRefreshTokens({ jwt, secret: crypto.getRandomValues(new Uint8Array(32)) });
      verifier = createDpopVerifier({ replay: store });
      const handlers: DpopHandlers = {
        async token(auth, body) {
          try {
            if (!auth?.proof) throw new SessionError('DPOP_PROOF_INVALID', undefined, { reason: 'missing' });
            const issued = await manager.create({
              userId: body.userId ?? 'user',
              metadata: { dpopJkt: auth.proof.jkt },
            });
            const pair = await refresh.issue(issued.session, { dpop: auth.proof });
            return {
              status: 200,
              headers: { 'cache-control': 'no-store' },
              body: {
                access_token: pair.accessToken,
                token_type: pair.tokenType,
                refresh_token: pair.refreshToken,
                session_token: issued.token,
              },
            };
          } catch (error) {
            return answer(error, true);
          }
        },
        async refresh(auth, body) {
          try {
            const pair = await refresh.refresh(body.refresh_token, { dpop: auth?.proof ?? null });
            return {
              status: 200,
              headers: { 'cache-control': 'no-store' },
              body: { access_token: pair.accessToken, token_type: pair.tokenType, refresh_token: pair.refreshToken },
            };
          } catch (error) {
            return answer(error, true);
          }
        },
        async revoke(auth, body) {
          try {
            // RFC 7009: 200 whether or not the token was known; refused only when its key is not proven.
            await refresh.revoke(body.token ?? '', { dpop: auth?.proof ?? null });
            return { status: 200, headers: { 'cache-control': 'no-store' }, body: {} };
          } catch (error) {
            return answer(error, true);
          }
        },
        async me(auth, ip) {
          try {
            const { session } = await manager.validateToken(auth?.token);
            if (!session) throw new SessionError('UNAUTHENTICATED');
            assertSessionDpopBinding(manager, session, auth?.proof ?? null, { ip });
            return { status: 200, headers: {}, body: { userId: session.userId, bound: !!session.metadata.dpopJkt } };
          } catch (error) {
            return answer(error);
          }
        },
        async jwt(auth) {
          try {
            const claims = await jwt.verify(auth?.token ?? '');
            assertDpopBinding(claims.cnf?.jkt, auth?.proof ?? null);
            return { status: 200, headers: {}, body: { userId: claims.sub, jkt: claims.cnf?.jkt ?? null } };
          } catch (error) {
            return answer(error);
          }
        },
      };
      server = await options.start({ verifier, handlers });
    });
    afterAll(async () => {
      await server?.close();
      await manager.close();
    });

    /** The URL the client calls and names in its proofs. */
    const at = (path: string) => `${server.url}${options.basePath ?? ''}${path}`;
    const post = (path: string, body: unknown, headers: Record<string, string>) =>
      fetch(at(path), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
    const get = (path: string, headers: Record<string, string>) =>
      fetch(at(path), { headers, signal: AbortSignal.timeout(15_000) });

    async function login(keys: CryptoKeyPair) {
      const response = await post(
        '/token',
        { userId: 'alice' },
        {
          dpop: await client.generateProof(keys, at('/token'), 'POST'),
        },
      );
      expect(response.status).toBe(200);
      return (await response.json()) as {
        access_token: string;
        token_type: string;
        refresh_token: string;
        session_token: string;
      };
    }

    it('a token request with a proof gets DPoP-bound tokens; the JWT carries cnf.jkt', async () => {
      const keys = await client.generateKeyPair('ES256');
      const tokens = await login(keys);
      expect(tokens.token_type).toBe('DPoP');
      const response = await get('/api/jwt', {
        authorization: `DPoP ${tokens.access_token}`,
        dpop: await client.generateProof(keys, at('/api/jwt'), 'GET', undefined, tokens.access_token),
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ userId: 'alice', jkt: await client.calculateThumbprint(keys.publicKey) });
    });

    it('the session token works with a proof from its key, and is refused as a bearer token or with another key', async () => {
      const keys = await client.generateKeyPair('ES256');
      const thief = await client.generateKeyPair('ES256');
      const { session_token: token } = await login(keys);
      const owner = await get('/api/me', {
        authorization: `DPoP ${token}`,
        dpop: await client.generateProof(keys, at('/api/me'), 'GET', undefined, token),
      });
      expect(owner.status).toBe(200);
      expect(await owner.json()).toEqual({ userId: 'alice', bound: true });

      const bearer = await get('/api/me', { authorization: `Bearer ${token}` });
      expect(bearer.status).toBe(401);
      expect(bearer.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_token"/);
      expect(((await bearer.json()) as { error: string }).error).toBe('invalid_token');

      const stolen = await get('/api/me', {
        authorization: `DPoP ${token}`,
        dpop: await client.generateProof(thief, at('/api/me'), 'GET', undefined, token),
      });
      expect(stolen.status).toBe(401);
      expect(events.filter((e) => e.type === 'session.dpop_mismatch').map((e) => e.reason)).toEqual([
        'proof_missing',
        'key_mismatch',
      ]);
    });

    it('tampered and replayed proofs: 401 invalid_dpop_proof with the accepted algorithms', async () => {
      const keys = await client.generateKeyPair('ES256');
      const { session_token: token } = await login(keys);
      const proof = await client.generateProof(keys, at('/api/me'), 'GET', undefined, token);
      expect((await get('/api/me', { authorization: `DPoP ${token}`, dpop: proof })).status).toBe(200);
      const replay = await get('/api/me', { authorization: `DPoP ${token}`, dpop: proof });
      expect(replay.status).toBe(401);
      expect(replay.headers.get('www-authenticate')).toBe(
        'DPoP error="invalid_dpop_proof", error_description="The DPoP proof was already used", algs="ES256 EdDSA Ed25519"',
      );
      const wrongUrl = await get('/api/me', {
        authorization: `DPoP ${token}`,
        dpop: await client.generateProof(keys, at('/api/other'), 'GET', undefined, token),
      });
      expect(wrongUrl.status).toBe(401);
      const noAth = await get('/api/me', {
        authorization: `DPoP ${token}`,
        dpop: await client.generateProof(keys, at('/api/me'), 'GET'),
      });
      expect(noAth.status).toBe(401);
      const noProof = await get('/api/me', { authorization: `DPoP ${token}` });
      expect(noProof.status).toBe(401);
      expect(noProof.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_dpop_proof"/);
      // Two DPoP headers are refused, whatever they hold.
      const two = new Headers({ authorization: `DPoP ${token}` });
      two.append('dpop', await client.generateProof(keys, at('/api/me'), 'GET', undefined, token));
      two.append('dpop', await client.generateProof(keys, at('/api/me'), 'GET', undefined, token));
      expect((await fetch(at('/api/me'), { headers: two, signal: AbortSignal.timeout(15_000) })).status).toBe(401);
    });

    it('refresh with the key rotates and keeps the binding; a stolen refresh token is refused at the token endpoint', async () => {
      const keys = await client.generateKeyPair('ES256');
      const thief = await client.generateKeyPair('ES256');
      const tokens = await login(keys);
      const stolen = await post(
        '/token/refresh',
        { refresh_token: tokens.refresh_token },
        {
          dpop: await client.generateProof(thief, at('/token/refresh'), 'POST'),
        },
      );
      // OAuth answers a grant bound to another key with 400 invalid_grant.
      expect(stolen.status).toBe(400);
      expect(((await stolen.json()) as { error: string }).error).toBe('invalid_grant');
      const bare = await post('/token/refresh', { refresh_token: tokens.refresh_token }, {});
      expect(bare.status).toBe(400);
      expect(events.filter((e) => e.type === 'refresh.dpop_mismatch').map((e) => e.reason)).toEqual([
        'key_mismatch',
        'proof_missing',
      ]);
      const badProof = await post(
        '/token/refresh',
        { refresh_token: tokens.refresh_token },
        {
          dpop: await client.generateProof(keys, at('/token'), 'POST'),
        },
      );
      expect(badProof.status).toBe(400);
      expect(await badProof.json()).toMatchObject({ error: 'invalid_dpop_proof' });

      const rotated = await post(
        '/token/refresh',
        { refresh_token: tokens.refresh_token },
        {
          dpop: await client.generateProof(keys, at('/token/refresh'), 'POST'),
        },
      );
      expect(rotated.status).toBe(200);
      const next = (await rotated.json()) as { access_token: string; token_type: string };
      expect(next.token_type).toBe('DPoP');
      const use = await get('/api/jwt', {
        authorization: `DPoP ${next.access_token}`,
        dpop: await client.generateProof(keys, at('/api/jwt'), 'GET', undefined, next.access_token),
      });
      expect(await use.json()).toEqual({ userId: 'alice', jkt: await client.calculateThumbprint(keys.publicKey) });
    });

    it('revocation of a bound refresh token needs a proof from its key; the thief cannot log the owner out', async () => {
      const keys = await client.generateKeyPair('ES256');
      const thief = await client.generateKeyPair('ES256');
      const tokens = await login(keys);
      const mismatchesBefore = events.filter((e) => e.type === 'refresh.dpop_mismatch').length;
      const bare = await post('/token/revoke', { token: tokens.refresh_token }, {});
      expect(bare.status).toBe(400);
      expect(((await bare.json()) as { error: string }).error).toBe('invalid_grant');
      const stolen = await post(
        '/token/revoke',
        { token: tokens.refresh_token },
        { dpop: await client.generateProof(thief, at('/token/revoke'), 'POST') },
      );
      expect(stolen.status).toBe(400);
      expect(((await stolen.json()) as { error: string }).error).toBe('invalid_grant');
      expect(
        events
          .filter((e) => e.type === 'refresh.dpop_mismatch')
          .slice(mismatchesBefore)
          .map((e) => e.reason),
      ).toEqual(['proof_missing', 'key_mismatch']);
      // Nothing was revoked: the owner's session token still works.
      const stillLive = await get('/api/me', {
        authorization: `DPoP ${tokens.session_token}`,
        dpop: await client.generateProof(keys, at('/api/me'), 'GET', undefined, tokens.session_token),
      });
      expect(stillLive.status).toBe(200);

      const owner = await post(
        '/token/revoke',
        { token: tokens.refresh_token },
        { dpop: await client.generateProof(keys, at('/token/revoke'), 'POST') },
      );
      expect(owner.status).toBe(200);
      const after = await post(
        '/token/refresh',
        { refresh_token: tokens.refresh_token },
        { dpop: await client.generateProof(keys, at('/token/refresh'), 'POST') },
      );
      expect(after.status).not.toBe(200);
      expect(((await after.json()) as { error: string }).error).toBe('invalid_grant');
      const ended = await get('/api/me', {
        authorization: `DPoP ${tokens.session_token}`,
        dpop: await client.generateProof(keys, at('/api/me'), 'GET', undefined, tokens.session_token),
      });
      expect(ended.status).toBe(401);
    });
  });
}

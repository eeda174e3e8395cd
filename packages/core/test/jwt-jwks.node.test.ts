/// <reference types="node" />
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionJwt, exportSigningJwk, generateSigningKey, type PublicJwks } from '../src/entries/jwt.js';
import { MemoryStore } from '../src/index.js';
import { JwtKeySet } from '../src/jwt/key-set.js';
import { RemoteJwks } from '../src/jwt/remote.js';
import { JwtVerifier } from '../src/jwt/verify.js';
import { SessionManager } from '../src/manager.js';
import { createTestClock, type TestClock } from '../src/testing/index.js';
import { AUDIENCE, codeOf, ISSUER, signRaw } from './jwt-support.js';

/**
 * A downstream service verifying our session JWTs with our JWKS, served by a real node:http server
 * on 127.0.0.1: first fetch, caching, refetch on an unknown kid within a cooldown, rotation, and
 * failing closed when the endpoint is unreachable or serves something unfit.
 */

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface Loopback {
  url: string;
  requests: string[];
  setHandler(handler: Handler): void;
  close(): Promise<void>;
}

async function listen(initial: Handler): Promise<Loopback> {
  let handler = initial;
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setHandler: (next) => {
      handler = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const json =
  (body: unknown, status = 200): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

describe('JWKS over a real HTTP server on loopback', () => {
  let server: Loopback;
  let clock: TestClock;
  let manager: SessionManager;
  let keys: JwtKeySet;
  let auth: ReturnType<typeof createSessionJwt>;
  const jwksHandler: Handler = (req, res) => {
    if (req.url === '/.well-known/jwks.json') return json(keys.exportJwks())(req, res);
    res.writeHead(404).end();
  };
  const issueToken = async (userId = 'user-1') => (await auth.issue((await manager.create({ userId })).session)).token;
  const downstream = (options: Partial<ConstructorParameters<typeof RemoteJwks>[0]> = {}) => {
    const remote = new RemoteJwks({ url: `${server.url}/.well-known/jwks.json`, clock, ...options });
    return { remote, verifier: new JwtVerifier({ keys: remote, issuer: ISSUER, audience: AUDIENCE, clock }) };
  };

  beforeAll(async () => {
    server = await listen(jwksHandler);
  });
  afterAll(async () => {
    await server.close();
  });

  const reset = async () => {
    clock = createTestClock(Date.now());
    manager = new SessionManager({ store: new MemoryStore(), clock });
    keys = new JwtKeySet({ active: await generateSigningKey('EdDSA') });
    auth = createSessionJwt({ manager, keys, issuer: ISSUER, audience: AUDIENCE });
    server.setHandler(jwksHandler);
    server.requests.length = 0;
  };

  it('a downstream verifier fetches the JWKS once and verifies many tokens', async () => {
    await reset();
    const { verifier } = downstream();
    for (let i = 0; i < 5; i++) {
      expect((await verifier.verify(await issueToken(`user-${i}`))).sub).toBe(`user-${i}`);
    }
    expect(server.requests).toEqual(['/.well-known/jwks.json']);
  });

  it('jose createRemoteJWKSet + jwtVerify (an independent downstream verifier) accepts our tokens', async () => {
    await reset();
    const jwks = createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`));
    const token = await issueToken('user-9');
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: ISSUER,
      audience: AUDIENCE,
      typ: 'session+jwt',
      algorithms: ['EdDSA'],
      currentDate: new Date(clock.now()),
    });
    expect(payload.sub).toBe('user-9');
    expect(protectedHeader.kid).toBe(keys.active.kid);
  });

  it('the verifier accepts a JWKS URL string directly', async () => {
    await reset();
    const verifier = new JwtVerifier({
      keys: `${server.url}/.well-known/jwks.json`,
      issuer: ISSUER,
      audience: AUDIENCE,
    });
    const now = Math.floor(Date.now() / 1000);
    const token = await signRaw(
      { alg: 'EdDSA', kid: keys.active.kid, typ: 'session+jwt' },
      { iss: ISSUER, aud: AUDIENCE, sub: 'u', sid: 's', jti: 'j', iat: now, nbf: now, exp: now + 60 },
      keys.active,
    );
    expect((await verifier.verify(token)).sub).toBe('u');
  });

  it('F11: rotation with no logout: the new kid is fetched after the cooldown, old tokens keep verifying', async () => {
    await reset();
    const { verifier } = downstream({ cacheMaxAgeMs: 60_000 });
    const oldToken = await issueToken();
    expect((await verifier.verify(oldToken)).sub).toBe('user-1');

    keys.rotate(await generateSigningKey('EdDSA'));
    const newToken = await issueToken();
    // Within the 5 s cooldown an unknown kid does not refetch.
    expect(await codeOf(verifier.verify(newToken))).toBe('JWT_KID_UNKNOWN');
    expect(server.requests).toHaveLength(1);
    clock.advance(5_000);
    expect((await verifier.verify(newToken)).sub).toBe('user-1');
    expect(server.requests).toHaveLength(2);
    expect((await verifier.verify(oldToken)).sub).toBe('user-1');

    // Retiring the old key: once the cached JWKS is refreshed, its tokens (cached ones too) are gone.
    const oldKid = keys.list()[1]?.kid as string;
    keys.retire(oldKid);
    clock.advance(60_000);
    expect(await codeOf(verifier.verify(oldToken))).toBe('JWT_KID_UNKNOWN');
    expect(server.requests).toHaveLength(3);
  });

  it('item 13: an unknown kid refetches once the last fetch is 5 s old, and concurrent tokens share that fetch', async () => {
    await reset();
    const { verifier, remote } = downstream();
    const oldToken = await issueToken();
    expect((await verifier.verify(oldToken)).sub).toBe('user-1');
    expect(server.requests).toHaveLength(1);

    // The auth server rotates at once (add and activate together), as `keys.rotate` does.
    keys.rotate(await generateSigningKey());
    const fresh = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((user) => issueToken(user)));
    // Less than 5 s after the last fetch: refused without a fetch.
    clock.advance(4_999);
    expect(await codeOf(verifier.verify(fresh[0] as string))).toBe('JWT_KID_UNKNOWN');
    expect(server.requests).toHaveLength(1);
    // From 5 s on, the first tokens naming the new key fetch it: five at once, one request.
    clock.advance(1);
    const claims = await Promise.all(fresh.map((token) => verifier.verify(token)));
    expect(claims.map((c) => c.sub)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(server.requests).toHaveLength(2);
    expect(remote.fetchCount).toBe(2);
    expect((await verifier.verify(oldToken)).sub).toBe('user-1');

    // A forged kid right after that fetch costs nothing; 5 s later it costs one fetch, then none.
    const stranger = await generateSigningKey();
    const now = Math.floor(clock.now() / 1000);
    const forged = await signRaw(
      { alg: stranger.alg, kid: 'not-ours', typ: 'session+jwt' },
      { iss: ISSUER, aud: AUDIENCE, sub: 'u', sid: 's', jti: 'j', iat: now, nbf: now, exp: now + 60 },
      stranger,
    );
    expect(await codeOf(verifier.verify(forged))).toBe('JWT_KID_UNKNOWN');
    expect(server.requests).toHaveLength(2);
    clock.advance(5_000);
    await Promise.all([1, 2, 3].map(() => codeOf(verifier.verify(forged))));
    expect(await codeOf(verifier.verify(forged))).toBe('JWT_KID_UNKNOWN');
    expect(server.requests).toHaveLength(3);
  });

  it('JW-07: a flood of unknown kids causes at most one refetch per cooldown', async () => {
    await reset();
    const { verifier, remote } = downstream();
    await verifier.verify(await issueToken());
    const stranger = await generateSigningKey('EdDSA');
    const forged = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        signRaw(
          { alg: 'EdDSA', kid: `unknown-${i}`, typ: 'session+jwt' },
          { iss: ISSUER, aud: AUDIENCE, sub: 'u', sid: 's', jti: `${i}`, iat: 0, nbf: 0, exp: 1 },
          stranger,
        ),
      ),
    );
    const codes = await Promise.all(forged.map((token) => codeOf(verifier.verify(token))));
    expect(new Set(codes)).toEqual(new Set(['JWT_KID_UNKNOWN']));
    expect(server.requests).toHaveLength(1);
    clock.advance(5_000);
    await Promise.all(forged.map((token) => codeOf(verifier.verify(token))));
    await Promise.all(forged.map((token) => codeOf(verifier.verify(token))));
    expect(server.requests).toHaveLength(2);
    expect(remote.fetchCount).toBe(2);
  });

  it('an unreachable endpoint is JWKS_UNAVAILABLE (503), with a backoff instead of a retry storm', async () => {
    await reset();
    server.setHandler(json({ error: 'down' }, 500));
    const { verifier } = downstream();
    const token = await issueToken();
    const error = await verifier.verify(token).catch((e: unknown) => e);
    expect((error as { code: string; status: number }).code).toBe('JWKS_UNAVAILABLE');
    expect((error as { status: number }).status).toBe(503);
    for (let i = 0; i < 10; i++) expect(await codeOf(verifier.verify(token))).toBe('JWKS_UNAVAILABLE');
    expect(server.requests).toHaveLength(1);
    server.setHandler(jwksHandler);
    clock.advance(5_000);
    expect((await verifier.verify(token)).sub).toBe('user-1');
    expect(server.requests).toHaveLength(2);
  });

  it('a closed port is JWKS_UNAVAILABLE', async () => {
    const closed = await listen(json({ keys: [] }));
    const url = `${closed.url}/jwks.json`;
    await closed.close();
    await reset();
    const verifier = new JwtVerifier({
      keys: new RemoteJwks({ url, clock }),
      issuer: ISSUER,
      audience: AUDIENCE,
      clock,
    });
    expect(await codeOf(verifier.verify(await issueToken()))).toBe('JWKS_UNAVAILABLE');
  });

  it('a redirect is not followed, an oversized, non-JSON or slow answer is refused', async () => {
    await reset();
    const token = await issueToken();
    const cases: Array<[Handler, Partial<ConstructorParameters<typeof RemoteJwks>[0]>]> = [
      [(_req, res) => res.writeHead(302, { location: '/.well-known/other.json' }).end(), {}],
      [(_req, res) => res.writeHead(200).end('x'.repeat(70 * 1024)), {}],
      [(_req, res) => res.writeHead(200).end('{"keys":'), {}],
      [json({ keys: 'none' }), {}],
      [() => {}, { timeoutMs: 100 }],
    ];
    for (const [handler, options] of cases) {
      server.setHandler(handler);
      const { verifier } = downstream(options);
      expect(await codeOf(verifier.verify(token))).toBe('JWKS_UNAVAILABLE');
    }
    expect(server.requests).not.toContain('/.well-known/other.json');
  });

  it('JWKS entries with private or symmetric members, another use or key_ops, a clashing alg or a duplicate kid are ignored', async () => {
    await reset();
    const signing = await generateSigningKey('EdDSA', { extractable: true, kid: 'leaky' });
    const privateJwk = await exportSigningJwk(signing);
    const publicJwk = signing.publicJwk as NonNullable<typeof signing.publicJwk>;
    const served: PublicJwks | { keys: unknown[] } = {
      keys: [
        { ...publicJwk, d: privateJwk.d },
        { kty: 'oct', kid: 'hmac', k: 'AAAA', alg: 'HS256' },
        { ...publicJwk, kid: 'enc-key', use: 'enc' },
        { ...publicJwk, kid: 'enc-ops', key_ops: ['encrypt'] },
        { ...publicJwk, kid: 'sign-ops', key_ops: ['sign', 'verify'] },
        { ...publicJwk, kid: 'wrong-alg', alg: 'ES256' },
        { ...publicJwk, kid: 'twice' },
        { ...publicJwk, kid: 'twice' },
        { ...publicJwk, kid: '../etc/passwd' },
      ],
    };
    server.setHandler(json(served));
    const { verifier, remote } = downstream();
    const now = Math.floor(clock.now() / 1000);
    const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'u', sid: 's', jti: 'j', iat: now, nbf: now, exp: now + 60 };
    for (const kid of ['leaky', 'hmac', 'enc-key', 'enc-ops', 'sign-ops', 'wrong-alg', 'twice']) {
      const token = await signRaw({ alg: 'EdDSA', kid, typ: 'session+jwt' }, claims, signing);
      expect(await codeOf(verifier.verify(token))).toBe('JWT_KID_UNKNOWN');
    }
    expect(remote.peek('leaky')).toBeUndefined();
  });

  it('JW-05: jku and x5u pointing at a loopback listener are refused and the listener sees 0 requests', async () => {
    await reset();
    const trap = await listen(json({ keys: [] }));
    try {
      const { verifier } = downstream();
      const now = Math.floor(clock.now() / 1000);
      const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'u', sid: 's', jti: 'j', iat: now, nbf: now, exp: now + 60 };
      for (const extra of [{ jku: `${trap.url}/jwks.json` }, { x5u: `${trap.url}/cert.pem` }]) {
        const token = await signRaw(
          { alg: 'EdDSA', kid: keys.active.kid, typ: 'session+jwt', ...extra },
          claims,
          keys.active,
        );
        expect(await codeOf(verifier.verify(token))).toBe('JWT_HEADER_REJECTED');
      }
      expect(trap.requests).toEqual([]);
      expect(server.requests).toEqual([]);
    } finally {
      await trap.close();
    }
  });

  it('refuses a plain-http JWKS URL outside loopback unless allowHttp is set', () => {
    expect(() => new RemoteJwks({ url: 'http://auth.internal/jwks.json' })).toThrowError(/https/);
    expect(new RemoteJwks({ url: 'http://auth.internal/jwks.json', allowHttp: true }).url.host).toBe('auth.internal');
    expect(() => new RemoteJwks({ url: 'ftp://example.com/jwks' })).toThrowError(/https/);
    expect(() => new RemoteJwks({ url: 'https://example.com/jwks', algorithms: ['HS256' as never] })).toThrowError(
      /EdDSA and ES256/,
    );
  });
});

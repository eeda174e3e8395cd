import { createServer, type Server } from 'node:http';
import { createSessionManager, MemoryStore } from '@org/session-core';
import { keyedIdHash } from '@org/session-core/adapter';
import {
  createJwtKeySet,
  createSessionJwt,
  exportSigningJwk,
  generateSigningKey,
  type JwtKeySet,
} from '@org/session-core/jwt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSidecar, isSidecarConfigError } from '../src/index.js';
import type { Sidecar } from '../src/server.js';
import { findNginx, httpRequest, inCI, type RunningNginx, startEchoUpstream, startNginx, tempDir } from './support.js';

const nginx = findNginx();
if (!nginx && inCI) throw new Error('nginx is required under CI=true (.ci/run installs it)');

describe('stateless mode (JWT + JWKS only)', () => {
  const manager = createSessionManager({ store: new MemoryStore() });
  let keys: JwtKeySet;
  let jwts: ReturnType<typeof createSessionJwt<Record<string, unknown>, { role: unknown }>>;
  let jwksServer: Server;
  let jwksFetches = 0;
  let jwksUrl = '';
  let sidecar: Sidecar;
  let base = '';
  const files = tempDir('stateless');

  beforeAll(async () => {
    keys = createJwtKeySet({ active: await generateSigningKey('ES256') });
    jwts = createSessionJwt({
      manager,
      keys,
      issuer: 'https://auth.test',
      audience: ['orders', 'billing'],
      claims: (session) => ({ role: session.data.role }),
    });
    // The auth server's JWKS endpoint, on loopback (http is allowed there).
    jwksServer = createServer((_req, res) => {
      jwksFetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(jwts.jwks()));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}/.well-known/jwks.json`;
    sidecar = await createSidecar({
      mode: 'stateless',
      jwt: { issuer: 'https://auth.test', audience: 'orders', jwksUrl },
      jwtCookieName: '__Host-sjwt',
      identity: { claims: ['role'] },
    });
    base = (await sidecar.listen(0, '127.0.0.1')).url;
  });

  afterAll(async () => {
    await sidecar?.close();
    await new Promise<void>((resolve) => jwksServer?.close(() => resolve()));
    files.remove();
  });

  const issue = async (role = 'admin') => {
    const { session, token } = await manager.create({ userId: 'jwt-user', data: { role } });
    return { session, token, jwt: (await jwts.issue(session)).token };
  };

  it('allows a bearer JWT or a JWT cookie, with the claims as headers', async () => {
    const { session, jwt } = await issue();
    const variants: Record<string, string>[] = [
      { authorization: `Bearer ${jwt}` },
      { cookie: `other=1; __Host-sjwt=${jwt}` },
    ];
    for (const headers of variants) {
      const answer = await httpRequest(`${base}/auth`, { headers });
      expect(answer.status).toBe(200);
      expect(answer.headers['x-auth-user-id']).toBe('jwt-user');
      expect(answer.headers['x-auth-claim-role']).toBe('admin');
      expect(answer.headers['x-auth-time']).toBe(String(Math.floor(session.authenticatedAt / 1000)));
      expect(answer.headers['x-auth-session-id']).toMatch(/^[0-9a-f]{16}$/);
    }
    expect(jwksFetches).toBe(1);
  });

  it('refuses what is not a valid session JWT for this audience', async () => {
    const { jwt, token } = await issue();
    const [header, payload, signature] = jwt.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url');
    const other = await generateSigningKey('ES256');
    const foreign = createSessionJwt({
      manager,
      keys: createJwtKeySet({ active: other }),
      issuer: 'https://auth.test',
      audience: 'orders',
    });
    const { session } = await manager.create({ userId: 'x' });
    const billingOnly = createSessionJwt({ manager, keys, issuer: 'https://auth.test', audience: 'billing' });
    const cases: Array<[string, Record<string, string>]> = [
      ['no credential', {}],
      ['a session token (needs a store)', { authorization: `Bearer ${token}` }],
      ['a forged payload', { authorization: `Bearer ${header}.${forged}.${signature}` }],
      ['alg none', { authorization: `Bearer ${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.` }],
      ['another key', { authorization: `Bearer ${(await foreign.issue(session)).token}` }],
      ['another audience', { authorization: `Bearer ${(await billingOnly.issue(session)).token}` }],
      ['two JWT cookies', { cookie: `__Host-sjwt=${jwt}; __Host-sjwt=${(await issue()).jwt}` }],
      ['a Basic header', { authorization: 'Basic dXNlcjpwYXNz' }],
    ];
    for (const [label, headers] of cases) {
      const answer = await httpRequest(`${base}/auth`, { headers });
      expect(answer.status, label).toBe(401);
      expect(answer.headers['www-authenticate'], label).toBe('Session');
      expect(answer.headers['x-auth-user-id'], label).toBeUndefined();
    }
  });

  it('keeps accepting a revoked session until the JWT expires (the documented stateless bound)', async () => {
    const { session, jwt } = await issue();
    await manager.revoke(session.id);
    expect((await httpRequest(`${base}/auth`, { headers: { authorization: `Bearer ${jwt}` } })).status).toBe(200);
  });

  it('serves no JWKS with remote keys, is ready while the JWKS answers, and has no token endpoint', async () => {
    expect((await httpRequest(`${base}/.well-known/jwks.json`)).status).toBe(404);
    expect((await httpRequest(`${base}/token`, { method: 'POST' })).status).toBe(404);
    expect((await httpRequest(`${base}/readyz`)).status).toBe(200);
  });

  it('denies (503) when the JWKS cannot be fetched', async () => {
    const { jwt } = await issue();
    const unreachable = await createSidecar({
      mode: 'stateless',
      jwt: { issuer: 'https://auth.test', audience: 'orders', jwksUrl: 'http://127.0.0.1:9/jwks.json' },
    });
    const url = (await unreachable.listen(0, '127.0.0.1')).url;
    try {
      const answer = await httpRequest(`${url}/auth`, { headers: { authorization: `Bearer ${jwt}` } });
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.body).error.code).toBe('JWKS_UNAVAILABLE');
      expect((await httpRequest(`${url}/readyz`)).status).toBe(503);
    } finally {
      await unreachable.close();
    }
  });

  it('verifies with a JWKS file and serves exactly its public keys', async () => {
    const file = files.file('jwks.json', JSON.stringify(jwts.jwks()));
    const local = await createSidecar({
      mode: 'stateless',
      jwt: { issuer: 'https://auth.test', audience: ['orders'], jwksFile: file },
    });
    const url = (await local.listen(0, '127.0.0.1')).url;
    try {
      const { jwt } = await issue();
      expect((await httpRequest(`${url}/auth`, { headers: { authorization: `Bearer ${jwt}` } })).status).toBe(200);
      const served = JSON.parse((await httpRequest(`${url}/.well-known/jwks.json`)).body);
      expect(served).toEqual(jwts.jwks());
    } finally {
      await local.close();
    }
  });

  it('refuses key files that do not hold what they should', async () => {
    const signing = await generateSigningKey('ES256', { extractable: true });
    const privateJwks = files.file('private.json', JSON.stringify({ keys: [await exportSigningJwk(signing)] }));
    const cases: Array<[string, string]> = [
      [privateJwks, 'holds a private or symmetric key'],
      [files.file('empty.json', '{"keys":[]}'), 'expected { "keys"'],
      [files.file('text.json', 'not json'), 'not JSON'],
      [`${files.path}/missing.json`, 'cannot be read'],
      [files.file('noalg.json', JSON.stringify({ keys: [{ ...jwts.jwks().keys[0], alg: undefined }] })), 'needs "alg"'],
    ];
    for (const [jwksFile, message] of cases) {
      const error = await createSidecar({
        mode: 'stateless',
        jwt: { issuer: 'https://auth.test', audience: 'orders', jwksFile },
      }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isSidecarConfigError(error), jwksFile).toBe(true);
      expect((error as { code: string }).code).toBe('CONFIG_KEY_INVALID');
      expect((error as Error).message).toContain(message);
      expect((error as Error).message).not.toMatch(/"d"|"x":/);
    }
  });

  it('hashes the session id with the configured key, as core hashes it in events', async () => {
    const base64urlEncode = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
    const key = new Uint8Array(32).map((_, i) => (i * 37 + 11) % 256);
    const jwksFile = files.file('hash-jwks.json', JSON.stringify(jwts.jwks()));
    const config = (sessionIdKeyFile: string) => ({
      mode: 'stateless' as const,
      jwt: { issuer: 'https://auth.test', audience: 'orders', jwksFile },
      identity: { sessionIdKeyFile },
    });
    const hashing = await createSidecar(config(files.file('sid.key', `${base64urlEncode(key)}\n`)));
    const url = (await hashing.listen(0, '127.0.0.1')).url;
    try {
      const { session, jwt } = await issue();
      const answer = await httpRequest(`${url}/auth`, { headers: { authorization: `Bearer ${jwt}` } });
      expect(answer.headers['x-auth-session-id']).toBe(keyedIdHash(key, session.id));
    } finally {
      await hashing.close();
    }
    const short = await createSidecar(config(files.file('short.key', base64urlEncode(key.subarray(0, 16))))).catch(
      (e: unknown) => e,
    );
    expect((short as { code?: string }).code).toBe('CONFIG_KEY_INVALID');
    const text = await createSidecar(config(files.file('text.key', 'not base64url!'))).catch((e: unknown) => e);
    expect((text as { code?: string }).code).toBe('CONFIG_KEY_INVALID');
  });

  describe.skipIf(!nginx)('through nginx auth_request', () => {
    let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
    let proxy: RunningNginx;

    beforeAll(async () => {
      upstream = await startEchoUpstream();
      proxy = await startNginx(nginx as string, {
        sidecarPort: Number(new URL(base).port),
        upstreamPort: upstream.port,
      });
    });
    afterAll(async () => {
      await proxy?.stop();
      await upstream?.close();
    });

    it('allows a valid JWT, refuses none, and replaces client identity headers', async () => {
      const { jwt } = await issue('viewer');
      const answer = await httpRequest(`http://127.0.0.1:${proxy.port}/reports`, {
        headers: { authorization: `Bearer ${jwt}`, 'x-auth-user-id': 'admin', 'x-auth-claim-role': 'admin' },
      });
      expect(answer.status).toBe(200);
      const seen = JSON.parse(answer.body).headers;
      expect(seen['x-auth-user-id']).toBe('jwt-user');
      expect(seen['x-auth-claim-role']).toBe('viewer');
      const denied = await httpRequest(`http://127.0.0.1:${proxy.port}/reports`, {
        headers: { 'x-auth-user-id': 'admin' },
      });
      expect(denied.status).toBe(401);
    });
  });
});

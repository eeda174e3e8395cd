import type { PostgresStore } from '@org/session-store-postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSidecar } from '../src/index.js';
import type { Sidecar } from '../src/server.js';
import {
  type AuthServer,
  cookiePair,
  freePort,
  httpRequest,
  PG_URL,
  postgresUnreachable,
  serviceAvailable,
  startPostgresAuthServer,
} from './support.js';

const hasPostgres = serviceAvailable(await postgresUnreachable(), "the sidecar's PostgreSQL tests");

describe.skipIf(!hasPostgres)('store mode on PostgreSQL (real HTTP on loopback)', () => {
  let authServer: AuthServer<PostgresStore> & { schema: string };
  let auth: AuthServer<PostgresStore>['manager'];
  let sidecar: Sidecar;
  let base = '';

  beforeAll(async () => {
    authServer = await startPostgresAuthServer();
    auth = authServer.manager;
    sidecar = await createSidecar({
      mode: 'store',
      store: { type: 'postgres', connectionString: PG_URL, schema: authServer.schema },
      identity: { claims: ['role', 'teams'] },
    });
    base = (await sidecar.listen(0, '127.0.0.1')).url;
  });

  afterAll(async () => {
    await sidecar?.close();
    await authServer?.close();
  });

  it('allows a live session, denies after logout and after revoke-all', async () => {
    const { session, cookies, token } = await auth.create({
      userId: 'pg-user',
      data: { role: 'editor', teams: ['a', 'b'] },
    });
    const cookie = cookiePair(cookies[0] as string);
    const allowed = await httpRequest(`${base}/auth`, { headers: { cookie } });
    expect(allowed.status).toBe(200);
    expect(allowed.headers['x-auth-user-id']).toBe('pg-user');
    expect(allowed.headers['x-auth-claim-role']).toBe('editor');
    expect(allowed.headers['x-auth-claim-teams']).toBe('["a","b"]');
    // The default session id header is a keyed hash, never the id itself.
    expect(allowed.headers['x-auth-session-id']).toMatch(/^[0-9a-f]{16}$/);
    expect(allowed.headers['x-auth-session-id']).not.toBe(session.id);
    expect((await httpRequest(`${base}/auth`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);

    await auth.revoke(session.id);
    expect((await httpRequest(`${base}/auth`, { headers: { cookie } })).status).toBe(401);

    const second = await auth.create({ userId: 'pg-user', data: {} });
    expect((await httpRequest(`${base}/auth`, { headers: { authorization: `Bearer ${second.token}` } })).status).toBe(
      200,
    );
    await auth.revokeAll('pg-user');
    expect((await httpRequest(`${base}/auth`, { headers: { authorization: `Bearer ${second.token}` } })).status).toBe(
      401,
    );
    // No signing key configured: no token endpoint and no JWKS.
    expect((await httpRequest(`${base}/token`, { method: 'POST' })).status).toBe(404);
    expect((await httpRequest(`${base}/.well-known/jwks.json`)).status).toBe(404);
    expect((await httpRequest(`${base}/readyz`)).status).toBe(200);
  });

  it('denies (503) and is not ready when the database cannot be reached', async () => {
    const port = await freePort();
    const unreachable = await createSidecar({
      mode: 'store',
      store: {
        type: 'postgres',
        connectionString: `postgres://postgres@127.0.0.1:${port}/test`,
        schema: authServer.schema,
      },
    });
    const url = (await unreachable.listen(0, '127.0.0.1')).url;
    try {
      const { cookies } = await auth.create({ userId: 'pg-user-2' });
      const answer = await httpRequest(`${url}/auth`, { headers: { cookie: cookiePair(cookies[0] as string) } });
      expect(answer.status).toBe(503);
      expect(answer.headers['x-auth-user-id']).toBeUndefined();
      expect(answer.body).not.toContain(String(port));
      expect((await httpRequest(`${url}/readyz`)).status).toBe(503);
    } finally {
      await unreachable.close();
    }
  });
});

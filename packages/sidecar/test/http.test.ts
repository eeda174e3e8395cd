import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headerValue } from '../src/identity.js';
import { serveStub } from './stub.js';
import { httpRequest } from './support.js';

describe('HTTP layer (stub engine, real HTTP on loopback)', () => {
  const { engine, sidecar } = serveStub();
  let base = '';
  beforeAll(async () => {
    base = (await sidecar.listen(0, '127.0.0.1')).url;
  });
  afterAll(() => sidecar.close());

  it('allows with identity headers and no body', async () => {
    const answer = await httpRequest(`${base}/auth`, { headers: { authorization: 'Bearer good-u1' } });
    expect(answer.status).toBe(200);
    expect(answer.headers['x-auth-user-id']).toBe('u1');
    expect(answer.headers['x-auth-session-id']).toBe('h(sid-1)');
    expect(answer.headers['x-auth-time']).toBe('1700000000');
    expect(answer.headers['x-auth-claim-role']).toBe('admin');
    expect(answer.headers['x-auth-claim-tenant']).toBe('t1');
    // Only configured claims are sent.
    expect(answer.headers['x-auth-claim-groups']).toBeUndefined();
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(answer.body).toBe('');
  });

  it('answers any method, and any path below the auth path (Envoy ext_authz appends the original path)', async () => {
    for (const [method, path] of [
      ['POST', '/auth'],
      ['DELETE', '/auth/orders/42?x=1'],
      ['GET', '/auth?rd=/x'],
    ] as const) {
      const answer = await httpRequest(`${base}${path}`, { method, headers: { authorization: 'Bearer good-u2' } });
      expect(answer.status, `${method} ${path}`).toBe(200);
      expect(answer.headers['x-auth-user-id']).toBe('u2');
    }
    expect((await httpRequest(`${base}/authx`, { headers: { authorization: 'Bearer good-u2' } })).status).toBe(404);
  });

  it('denies with 401 and WWW-Authenticate, and never echoes client-sent identity headers', async () => {
    const answer = await httpRequest(`${base}/auth`, {
      headers: {
        authorization: 'Bearer nope',
        'x-auth-user-id': 'admin',
        'x-auth-session-id': 'forged',
        'x-auth-claim-role': 'admin',
      },
    });
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toBe('Session');
    expect(answer.headers['x-auth-user-id']).toBeUndefined();
    expect(answer.headers['x-auth-claim-role']).toBeUndefined();
    expect(JSON.parse(answer.body)).toEqual({ error: { code: 'UNAUTHENTICATED', message: 'No valid session' } });
    // With a valid credential, the identity is the engine's, whatever the client claimed.
    const allowed = await httpRequest(`${base}/auth`, {
      headers: { authorization: 'Bearer good-u3', 'x-auth-user-id': 'admin', 'x-auth-claim-role': 'root' },
    });
    expect(allowed.headers['x-auth-user-id']).toBe('u3');
    expect(allowed.headers['x-auth-claim-role']).toBe('admin');
  });

  it('passes the engine only credentials and signals, never X-Auth-* input', async () => {
    engine.seen.length = 0;
    await httpRequest(`${base}/auth`, {
      headers: { cookie: 'a=b', 'user-agent': 'UA/1', 'x-real-ip': '203.0.113.9', 'x-auth-user-id': 'admin' },
    });
    expect(engine.seen).toEqual([
      { cookie: 'a=b', authorization: undefined, userAgent: 'UA/1', ip: '203.0.113.9', fetchSite: null },
    ]);
  });

  it('turns an outage into a 503 deny, and an engine that throws into a 503 that names nothing', async () => {
    const down = await httpRequest(`${base}/auth`, { headers: { authorization: 'Bearer down' } });
    expect(down.status).toBe(503);
    expect(down.headers['x-auth-user-id']).toBeUndefined();
    const thrown = await httpRequest(`${base}/auth`, { headers: { authorization: 'Bearer throw' } });
    expect(thrown.status).toBe(503);
    expect(thrown.body).not.toContain('db.internal');
    expect(JSON.parse(thrown.body).error.code).toBe('SIDECAR_UNAVAILABLE');
  });

  it('serves health, readiness, the JWKS, and 404/405 elsewhere', async () => {
    expect((await httpRequest(`${base}/healthz`)).status).toBe(200);
    expect((await httpRequest(`${base}/readyz`)).status).toBe(200);
    engine.outage = true;
    const notReady = await httpRequest(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(JSON.parse(notReady.body)).toEqual({ ready: false });
    engine.outage = false;
    const jwks = await httpRequest(`${base}/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    expect(JSON.parse(jwks.body)).toEqual({ keys: [] });
    expect((await httpRequest(`${base}/.well-known/jwks.json`, { method: 'POST' })).status).toBe(405);
    expect((await httpRequest(`${base}/healthz`, { method: 'PUT' })).status).toBe(405);
    // The stub engine has no token endpoint.
    expect((await httpRequest(`${base}/token`, { method: 'POST' })).status).toBe(404);
    expect((await httpRequest(`${base}/`)).status).toBe(404);
  });
});

describe('header values', () => {
  it('sends plain printable strings as they are and everything else as ASCII JSON', () => {
    expect(headerValue('admin')).toBe('admin');
    expect(headerValue('a b')).toBe('a b');
    expect(headerValue(' padded')).toBe('" padded"');
    expect(headerValue('"quoted"')).toBe('"\\"quoted\\""');
    expect(headerValue('line\r\nX-Auth-User-Id: admin')).toBe('"line\\r\\nX-Auth-User-Id: admin"');
    expect(headerValue('café')).toBe('"caf\\u00e9"');
    expect(headerValue(42)).toBe('42');
    expect(headerValue(true)).toBe('true');
    expect(headerValue(Number.NaN)).toBeUndefined();
    expect(headerValue(['a', 'b'])).toBe('["a","b"]');
    expect(headerValue({ a: 1 })).toBe('{"a":1}');
    expect(headerValue(null)).toBe('null');
    expect(headerValue(undefined)).toBeUndefined();
    expect(headerValue('')).toBe('""');
    for (const value of ['\u0000', '\u007f', 'é', '\u2028', 'x\ty']) {
      expect(headerValue(value)).toMatch(/^[\x20-\x7e]*$/);
    }
  });

  it('always gives a header-safe value that decodes back to the claim (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const header = headerValue(value);
        if (header === undefined) return;
        expect(header).toMatch(/^[\x20-\x7e]*$/);
        expect(header).not.toMatch(/^\s|\s$/);
        // A string sent as is reads back as itself; anything else is JSON of the value.
        const plain = typeof value === 'string' && header === value;
        // (What JSON itself cannot tell apart, such as -0 and 0, reads back as JSON does.)
        if (!plain) expect(JSON.parse(header)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (value) => {
        const header = headerValue(value) as string;
        expect(header).toMatch(/^[\x20-\x7e]*$/);
        if (header !== value) expect(JSON.parse(header)).toBe(value);
      }),
      { numRuns: 500 },
    );
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { base64urlDecode, fromHex } from '../src/encoding.js';
import { createSessionJwt, generateSigningKey, type JwtAlgorithm } from '../src/entries/jwt.js';
import { isSessionError } from '../src/errors.js';
import { MemoryStore, type SessionEvent } from '../src/index.js';
import { JwtKeySet } from '../src/jwt/key-set.js';
import { JwtVerifier } from '../src/jwt/verify.js';
import { SessionManager } from '../src/manager.js';
import { createTestClock, instrumentStore } from '../src/testing/index.js';
import { AUDIENCE, b64, codeOf, ISSUER } from './jwt-support.js';

type Data = { role: string; email: string };

async function setup(alg: JwtAlgorithm = 'EdDSA', extra: { ttlSeconds?: number; cacheSize?: number } = {}) {
  const clock = createTestClock();
  const probe = instrumentStore(new MemoryStore<Data>());
  const events: SessionEvent[] = [];
  const manager = new SessionManager<Data>({ store: probe.store, clock, onEvent: (e) => events.push(e) });
  const keys = new JwtKeySet({ active: await generateSigningKey(alg) });
  const jwts = createSessionJwt({
    manager,
    keys,
    issuer: ISSUER,
    audience: AUDIENCE,
    claims: (session) => ({ role: session.data.role }),
    ...extra,
  });
  const login = () => manager.create({ userId: 'user-1', data: { role: 'admin', email: 'a@example.test' } });
  return { clock, probe, manager, keys, jwts, events, login };
}

const decode = (segment: string) => JSON.parse(new TextDecoder().decode(base64urlDecode(segment) as Uint8Array));

let signatureChecks: ReturnType<typeof vi.spyOn>;
beforeEach(() => {
  signatureChecks = vi.spyOn(crypto.subtle, 'verify');
});
afterEach(() => {
  signatureChecks.mockRestore();
});

describe('issuing session JWTs', () => {
  it('F12/F13: exactly the minimal claims plus typed custom ones, an explicit typ, a 5-minute TTL', async () => {
    const { jwts, login, clock, keys } = await setup();
    const { session } = await login();
    const issued = await jwts.issue(session);
    const [header, payload] = issued.token.split('.') as [string, string];
    expect(decode(header)).toEqual({ alg: 'EdDSA', kid: keys.active.kid, typ: 'session+jwt' });
    const claims = decode(payload);
    expect(Object.keys(claims).sort()).toEqual(
      ['aud', 'auth_time', 'exp', 'iat', 'iss', 'jti', 'nbf', 'role', 'sid', 'sub'].sort(),
    );
    const now = Math.floor(clock.now() / 1000);
    expect(claims).toMatchObject({ iss: ISSUER, aud: AUDIENCE, sub: 'user-1', sid: session.id, role: 'admin' });
    expect(claims.iat).toBe(now);
    expect(claims.nbf).toBe(now);
    expect(claims.exp - claims.iat).toBe(300);
    expect(claims.auth_time).toBe(Math.floor(session.authenticatedAt / 1000));
    expect(claims.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(JSON.stringify(claims)).not.toContain('a@example.test');
    expect(issued.expiresIn).toBe(300);
    expect(issued.expiresAt).toBe(claims.exp * 1000);
    const second = await jwts.issue(session);
    expect(decode(second.token.split('.')[1] as string).jti).not.toBe(claims.jti);
  });

  it('a JWT never outlives its session, and none is issued for an expired session', async () => {
    const { jwts, probe, clock } = await setup();
    const short = new SessionManager<Data>({
      store: probe.store,
      clock,
      policy: { idleTimeoutMs: 120_000, absoluteTimeoutMs: 600_000, touchIntervalMs: 0 },
    });
    const { session } = await short.create({ userId: 'u', data: { role: 'r', email: 'e' } });
    // The idle deadline, less the 30 s clock tolerance (item 12).
    expect((await jwts.issue(session)).expiresIn).toBe(90);
    clock.advance(120_000);
    expect(await codeOf(jwts.issue(session))).toBe('SESSION_EXPIRED');
  });

  it("item 12: exp is at most the session's deadline minus the clock tolerance, so no lax verify outlives the session", async () => {
    const { jwts, probe, clock } = await setup();
    const short = new SessionManager<Data>({
      store: probe.store,
      clock,
      policy: { idleTimeoutMs: 600_000, absoluteTimeoutMs: 600_000, touchIntervalMs: 0 },
    });
    const { session, token } = await short.create({ userId: 'u', data: { role: 'r', email: 'e' } });
    const deadline = session.absoluteExpiresAt;
    clock.advance(500_000);
    const issued = await jwts.issue(session);
    expect(jwts.verifier.clockToleranceSeconds).toBe(30);
    expect(issued.claims.exp).toBe(Math.floor(deadline / 1000) - 30);
    expect(issued.expiresIn).toBe(70);

    // Accepted up to exp plus the tolerance, which is the session's deadline, and not after it.
    clock.set(deadline - 1000);
    expect((await jwts.verify(issued.token)).sid).toBe(session.id);
    clock.set(deadline);
    expect(await codeOf(jwts.verify(issued.token))).toBe('JWT_EXPIRED');
    clock.set(deadline + 29_000);
    expect(await codeOf(jwts.verify(issued.token))).toBe('JWT_EXPIRED');

    // Within the tolerance of the deadline no JWT is issued; authenticate answers without one.
    clock.set(deadline - 20_000);
    expect(await codeOf(jwts.issue(session))).toBe('SESSION_EXPIRED');
    const result = await jwts.authenticate(token);
    expect(result.status).toBe('valid');
    expect(result.jwt).toBeNull();
  });

  it('custom claims may not override registered claims', async () => {
    const { manager, keys, login } = await setup();
    const jwts = createSessionJwt({
      manager,
      keys,
      issuer: ISSUER,
      audience: AUDIENCE,
      claims: () => ({ sub: 'root' }),
    });
    const { session } = await login();
    expect(await codeOf(jwts.issue(session))).toBe('CONFIG_INVALID');
  });

  it('refuses TTLs over an hour, tolerances over 300 s and missing issuer or audience', async () => {
    const { manager, keys } = await setup();
    const bad = [
      { ttlSeconds: 3601 },
      { ttlSeconds: 0 },
      { clockToleranceSeconds: 301 },
      { clockToleranceSeconds: -1 },
      { issuer: '' },
      { audience: [] },
    ];
    for (const options of bad) {
      const error = (() => {
        try {
          createSessionJwt({ manager, keys, issuer: ISSUER, audience: AUDIENCE, ...options });
        } catch (e) {
          return e;
        }
      })();
      expect(isSessionError(error, 'CONFIG_INVALID')).toBe(true);
    }
  });
});

describe('authenticate: a fresh JWT only for a live session', () => {
  it('returns a JWT for a live session, none for a revoked, expired, unknown or malformed one', async () => {
    const { jwts, manager, login, clock } = await setup();
    const { session, token } = await login();
    const live = await jwts.authenticate(token);
    expect(live.status).toBe('valid');
    expect(live.jwt?.claims.sid).toBe(session.id);
    expect((await jwts.verify(live.jwt?.token)).sub).toBe('user-1');

    await manager.revoke(session.id);
    const revoked = await jwts.authenticate(token);
    expect(revoked.jwt).toBeNull();
    expect(revoked.session).toBeNull();

    const other = await login();
    clock.advance(manager.policy.idleTimeoutMs as number);
    expect((await jwts.authenticate(other.token)).jwt).toBeNull();
    expect((await jwts.authenticate('not-a-token')).status).toBe('malformed');
    expect((await jwts.authenticate(undefined)).status).toBe('absent');
  });

  it('a store outage gives status unavailable and no JWT', async () => {
    const { jwts, login, probe } = await setup();
    const { token } = await login();
    probe.fail('error');
    const result = await jwts.authenticate(token);
    expect(result.status).toBe('unavailable');
    expect(result.jwt).toBeNull();
  });
});

describe('E2 / JW-17: revocation reaches JWT verifiers within the TTL, or at once in strict mode', () => {
  it('lax mode accepts a revoked session until exp; strict mode rejects it at once (JWT_REVOKED)', async () => {
    const { jwts, manager, login, clock, events } = await setup();
    const { session } = await login();
    const { token } = await jwts.issue(session);
    expect((await jwts.verify(token, { strict: true })).sid).toBe(session.id);
    await manager.revoke(session.id);
    expect((await jwts.verify(token)).sid).toBe(session.id);
    expect(await codeOf(jwts.verify(token, { strict: true }))).toBe('JWT_REVOKED');
    expect(events.some((e) => e.type === 'jwt.rejected' && e.reason === 'session_ended')).toBe(true);
    clock.advance(299_000);
    expect((await jwts.verify(token)).sid).toBe(session.id);
    clock.advance(1_000);
    // exp reached: the cache no longer answers; the tolerance covers other verifiers' clocks only.
    expect(await codeOf(jwts.verify(token, { strict: true }))).toBe('JWT_REVOKED');
    clock.advance(31_000);
    expect(await codeOf(jwts.verify(token))).toBe('JWT_EXPIRED');
  });

  it('a malleated copy of a revoked ES256 JWT (s -> n - s) still verifies, and strict mode still denies it', async () => {
    const { jwts, manager, login } = await setup('ES256');
    const { session } = await login();
    const { token } = await jwts.issue(session);
    const [h, p, s] = token.split('.') as [string, string, string];
    const signature = base64urlDecode(s) as Uint8Array;
    const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
    const sValue = BigInt(`0x${Array.from(signature.slice(32), (b) => b.toString(16).padStart(2, '0')).join('')}`);
    const flipped = (n - sValue).toString(16).padStart(64, '0');
    const malleated = Uint8Array.from([...signature.slice(0, 32), ...(fromHex(flipped) as Uint8Array)]);
    const copy = `${h}.${p}.${b64(malleated)}`;
    expect(copy).not.toBe(token);
    // A denylist keyed on the token's hash would miss this copy: it is a different, valid token.
    expect((await jwts.verify(copy)).sid).toBe(session.id);
    await manager.revoke(session.id);
    expect(await codeOf(jwts.verify(copy, { strict: true }))).toBe('JWT_REVOKED');
    expect(await codeOf(jwts.verify(token, { strict: true }))).toBe('JWT_REVOKED');
  });

  it('strict mode fails closed on a store outage (STORE_UNAVAILABLE), lax mode does not need the store', async () => {
    const { jwts, login, probe } = await setup();
    const { session } = await login();
    const { token } = await jwts.issue(session);
    probe.fail('error');
    expect((await jwts.verify(token)).sid).toBe(session.id);
    expect(await codeOf(jwts.verify(token, { strict: true }))).toBe('STORE_UNAVAILABLE');
  });

  it('a downstream isSessionLive that does not answer fails strict verification closed at isSessionLiveTimeoutMs', async () => {
    const { jwts, login, clock } = await setup();
    const { token } = await jwts.issue((await login()).session);
    const options = { keys: jwts.keys, issuer: ISSUER, audience: AUDIENCE, clock, strict: true };
    const hung = new JwtVerifier({
      ...options,
      isSessionLive: () => new Promise<boolean>(() => {}),
      isSessionLiveTimeoutMs: 50,
    });
    const error = await hung.verify(token).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE', reason: 'timeout' });
    // A check that answers in time decides as before; a lax verification never asks.
    const live = new JwtVerifier({ ...options, isSessionLive: async () => true, isSessionLiveTimeoutMs: 50 });
    expect((await live.verify(token)).sid).toBeTypeOf('string');
    expect((await hung.verify(token, { strict: false })).sid).toBeTypeOf('string');
    for (const isSessionLiveTimeoutMs of [0, -1, Number.NaN, '5' as unknown as number]) {
      expect(() => new JwtVerifier({ ...options, isSessionLiveTimeoutMs }), String(isSessionLiveTimeoutMs)).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID' }),
      );
    }
  });

  it('a verifier without isSessionLive cannot be strict', async () => {
    const key = await generateSigningKey('EdDSA');
    const verifier = new JwtVerifier({ keys: new JwtKeySet({ active: key }), issuer: ISSUER, audience: AUDIENCE });
    expect(await codeOf(verifier.verify('x.y.z', { strict: true }))).toBe('JWT_MALFORMED');
    const { jwts, login, clock } = await setup();
    const { token } = await jwts.issue((await login()).session);
    const downstream = new JwtVerifier({
      keys: jwts.keys,
      issuer: ISSUER,
      audience: AUDIENCE,
      clock,
      strict: true,
    });
    expect(await codeOf(downstream.verify(token))).toBe('CONFIG_INVALID');
  });
});

describe('the verified-token cache', () => {
  it('has no public write: nothing outside the package can plant claims in it', async () => {
    const { jwts } = await setup();
    expect('remember' in jwts.verifier).toBe(false);
    expect(Object.keys(jwts.verifier)).not.toContain('cache');
  });

  it('a repeated token costs no signature check; a just-issued token is already cached', async () => {
    const { jwts, login, clock } = await setup();
    const { token } = await jwts.issue((await login()).session);
    for (let i = 0; i < 100; i++) expect((await jwts.verify(token)).sub).toBe('user-1');
    expect(signatureChecks).not.toHaveBeenCalled();
    const downstream = new JwtVerifier({
      keys: jwts.keys,
      issuer: ISSUER,
      audience: AUDIENCE,
      clock,
    });
    for (let i = 0; i < 100; i++) expect((await downstream.verify(token)).sub).toBe('user-1');
    expect(signatureChecks).toHaveBeenCalledTimes(1);
  });

  it('is keyed by the exact string, never serves past exp, and strict mode still asks the store each time', async () => {
    const { jwts, login, clock, probe } = await setup();
    const { token } = await jwts.issue((await login()).session);
    probe.reset();
    await jwts.verify(token, { strict: true });
    await jwts.verify(token, { strict: true });
    expect(probe.calls.get).toBe(2);
    clock.advance(300_000);
    expect(jwts.verifier.peek(token)).toBeUndefined();
    expect((await jwts.verify(token)).sub).toBe('user-1');
    expect(signatureChecks).toHaveBeenCalledTimes(1);
  });

  it('is bounded: the least recently used token is evicted first', async () => {
    const { jwts, login } = await setup('HS256', { cacheSize: 2 });
    const { session } = await login();
    const [a, b, c] = [await jwts.issue(session), await jwts.issue(session), await jwts.issue(session)];
    expect(jwts.verifier.cacheEntries).toBe(2);
    expect(jwts.verifier.peek(a.token)).toBeUndefined();
    expect(jwts.verifier.peek(b.token)?.jti).toBe(b.claims.jti);
    // b was used after c, so verifying a again evicts c.
    await jwts.verify(a.token);
    expect(signatureChecks).toHaveBeenCalledTimes(1);
    expect(jwts.verifier.peek(c.token)).toBeUndefined();
    expect(jwts.verifier.peek(b.token)?.jti).toBe(b.claims.jti);
    expect(jwts.verifier.peek(a.token)?.jti).toBe(a.claims.jti);
  });

  it('cached claims are frozen: no caller can change what the next one sees', async () => {
    const { jwts, login } = await setup();
    const { token } = await jwts.issue((await login()).session);
    const claims = await jwts.verify(token);
    expect(Object.isFrozen(claims)).toBe(true);
    expect(() => {
      (claims as { sub: string }).sub = 'root';
    }).toThrow();
  });

  it('cacheSize 0 disables it', async () => {
    const { jwts, login } = await setup('HS256', { cacheSize: 0 });
    const { token } = await jwts.issue((await login()).session);
    await jwts.verify(token);
    await jwts.verify(token);
    expect(signatureChecks).toHaveBeenCalledTimes(2);
  });
});

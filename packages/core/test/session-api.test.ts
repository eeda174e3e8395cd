import { describe, expect, it } from 'vitest';
import { base64urlDecode } from '../src/encoding.js';
import {
  createJwtKeySet,
  createSessionAuthority,
  createSessionJwt,
  generateSigningKey,
  type SessionAuthorityOptions,
} from '../src/entries/jwt.js';
import { isSessionError } from '../src/errors.js';
import { MemoryStore } from '../src/index.js';
import { SessionManager } from '../src/manager.js';
import { createTestClock, instrumentStore } from '../src/testing/index.js';
import { AUDIENCE, b64, codeOf, ISSUER } from './jwt-support.js';

type Data = { role: string };

async function setup(options: Partial<SessionAuthorityOptions<Data, { role: string }>> = {}) {
  const clock = createTestClock();
  const probe = instrumentStore(new MemoryStore<Data>());
  const manager = new SessionManager<Data>({ store: probe.store, clock });
  const keys = createJwtKeySet({ active: await generateSigningKey('EdDSA') });
  const jwts = createSessionJwt({
    manager,
    keys,
    issuer: ISSUER,
    audience: AUDIENCE,
    claims: (session) => ({ role: session.data.role }),
  });
  const authority = createSessionAuthority({ jwt: jwts, ...options });
  const login = () => manager.create({ userId: 'user-1', data: { role: 'admin' } });
  return { clock, probe, manager, keys, jwts, authority, login };
}

const claimsOf = (jwt: string) =>
  JSON.parse(new TextDecoder().decode(base64urlDecode(jwt.split('.')[1] as string) as Uint8Array));

/** Past `exp` and past the 30 s clock tolerance: the plain verifier refuses it. */
const EXPIRED_BY_MS = (300 + 31) * 1000;

describe('authenticate with a session token', () => {
  it('answers the live session and a fresh JWT that verifies', async () => {
    const { authority, login, jwts } = await setup();
    const { session, token } = await login();
    const answer = await authority.authenticate({ sessionToken: token });
    expect(answer.via).toBe('session_token');
    expect(answer.session.id).toBe(session.id);
    expect(answer.jwt).not.toBeNull();
    const claims = await jwts.verify(answer.jwt?.token);
    expect(claims).toMatchObject({ sid: session.id, sub: 'user-1', role: 'admin' });
  });

  it('refuses an unknown token with UNAUTHENTICATED and a revoked one likewise', async () => {
    const { authority, login, manager } = await setup();
    const { session, token } = await login();
    expect(await codeOf(authority.authenticate({ sessionToken: 'junk' }))).toBe('UNAUTHENTICATED');
    await manager.revoke(session.id);
    expect(await codeOf(authority.authenticate({ sessionToken: token }))).toBe('UNAUTHENTICATED');
  });

  it('needs exactly one credential', async () => {
    const { authority, login } = await setup();
    const { token } = await login();
    const issued = await authority.authenticate({ sessionToken: token });
    expect(await codeOf(authority.authenticate({}))).toBe('UNAUTHENTICATED');
    expect(await codeOf(authority.authenticate({ sessionToken: token, sessionJwt: issued.jwt?.token as string }))).toBe(
      'UNAUTHENTICATED',
    );
  });
});

describe('authenticate with a session JWT', () => {
  it('exchanges a valid JWT for a new one of the same session', async () => {
    const { authority, login, jwts, clock } = await setup();
    const { session } = await login();
    const first = await jwts.issue(session);
    clock.advance(60_000);
    const answer = await authority.authenticate({ sessionJwt: first.token });
    expect(answer.via).toBe('session_jwt');
    expect(answer.jwt?.claims.sid).toBe(session.id);
    expect(answer.jwt?.claims.jti).not.toBe(first.claims.jti);
    expect(answer.jwt?.claims.exp).toBe(first.claims.exp + 60);
  });

  it('exchanges a genuine JWT that expired within the window while its session lives', async () => {
    const { authority, login, jwts, clock } = await setup();
    const { session } = await login();
    const old = await jwts.issue(session);
    clock.advance(EXPIRED_BY_MS);
    expect(await codeOf(jwts.verify(old.token))).toBe('JWT_EXPIRED');
    const answer = await authority.authenticate({ sessionJwt: old.token });
    expect(answer.via).toBe('expired_session_jwt');
    expect(answer.session.id).toBe(session.id);
    const fresh = answer.jwt?.token as string;
    expect((await jwts.verify(fresh)).exp * 1000).toBeGreaterThan(clock.now());
    // The exchange counted as activity: the idle deadline slid.
    expect(answer.session.idleExpiresAt).toBeGreaterThan(session.idleExpiresAt as number);
  });

  it('refuses a JWT expired beyond the window with JWT_EXPIRED (beyond_exchange_window)', async () => {
    const { authority, login, jwts, clock } = await setup({ exchangeWindowSeconds: 120 });
    const { session } = await login();
    const old = await jwts.issue(session);
    clock.advance((300 + 120) * 1000);
    expect((await authority.authenticate({ sessionJwt: old.token })).via).toBe('expired_session_jwt');
    clock.advance(1001);
    const error = await authority.authenticate({ sessionJwt: old.token }).catch((e: unknown) => e);
    expect(isSessionError(error, 'JWT_EXPIRED')).toBe(true);
    expect((error as { reason?: string }).reason).toBe('beyond_exchange_window');
  });

  it('a window of 0 refuses every JWT past exp and its tolerance', async () => {
    const { authority, login, jwts, clock } = await setup({ exchangeWindowSeconds: 0 });
    const { session } = await login();
    const old = await jwts.issue(session);
    clock.advance(EXPIRED_BY_MS);
    expect(await codeOf(authority.authenticate({ sessionJwt: old.token }))).toBe('JWT_EXPIRED');
  });

  it('refuses a tampered expired JWT by its signature, never by its age', async () => {
    const { authority, login, jwts, clock } = await setup();
    const { session } = await login();
    const old = await jwts.issue(session);
    clock.advance(EXPIRED_BY_MS);
    const [header, payload, signature] = old.token.split('.') as [string, string, string];
    // A later exp written into the payload under the original signature.
    const forged = `${header}.${b64(JSON.stringify({ ...claimsOf(old.token), exp: old.claims.exp + 3600 }))}.${signature}`;
    expect(await codeOf(authority.authenticate({ sessionJwt: forged }))).toBe('JWT_SIGNATURE_INVALID');
    const flipped = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
    expect(await codeOf(authority.authenticate({ sessionJwt: `${header}.${payload}.${flipped}` }))).toBe(
      'JWT_SIGNATURE_INVALID',
    );
  });

  it('refuses an expired JWT signed by a key this service does not hold', async () => {
    const { authority, login, manager, clock } = await setup();
    const { session } = await login();
    const stranger = createSessionJwt({
      manager,
      keys: createJwtKeySet({ active: await generateSigningKey('EdDSA') }),
      issuer: ISSUER,
      audience: AUDIENCE,
    });
    const foreign = await stranger.issue(session);
    clock.advance(EXPIRED_BY_MS);
    expect(await codeOf(authority.authenticate({ sessionJwt: foreign.token }))).toBe('JWT_KID_UNKNOWN');
  });

  it('refuses a genuine JWT whose session was revoked (SESSION_REVOKED) or has expired (SESSION_EXPIRED)', async () => {
    const { authority, login, jwts, manager, clock } = await setup({ exchangeWindowSeconds: 3600 });
    const a = await login();
    const b = await login();
    const jwtA = await jwts.issue(a.session);
    const jwtB = await jwts.issue(b.session);
    await manager.revoke(a.session.id);
    expect(await codeOf(authority.authenticate({ sessionJwt: jwtA.token }))).toBe('SESSION_REVOKED');
    // 31 minutes without activity: past the 30-minute idle timeout, JWT expired 26 minutes ago.
    clock.advance(31 * 60_000);
    expect(await codeOf(authority.authenticate({ sessionJwt: jwtB.token }))).toBe('SESSION_EXPIRED');
  });

  it('a store outage is STORE_UNAVAILABLE, never a session', async () => {
    const { authority, login, jwts, probe, clock } = await setup();
    const { session, token } = await login();
    const old = await jwts.issue(session);
    clock.advance(EXPIRED_BY_MS);
    probe.fail('error');
    expect(await codeOf(authority.authenticate({ sessionJwt: old.token }))).toBe('STORE_UNAVAILABLE');
    expect(await codeOf(authority.authenticate({ sessionToken: token }))).toBe('STORE_UNAVAILABLE');
    probe.fail(null);
    expect((await authority.authenticate({ sessionJwt: old.token })).session.id).toBe(session.id);
  });
});

describe('extending without changing the token', () => {
  it('pushes the idle deadline; the same token keeps working', async () => {
    const { authority, login, manager, clock } = await setup();
    const { token } = await login();
    clock.advance(60_000);
    const answer = await authority.authenticate({ sessionToken: token }, { extendMinutes: 120 });
    expect(answer.session.idleExpiresAt).toBe(clock.now() + 120 * 60_000);
    clock.advance(90 * 60_000);
    const later = await manager.validateToken(token);
    expect(later.status).toBe('valid');
  });

  it('refuses a bad extendMinutes with INPUT_INVALID before any write', async () => {
    const { authority, login, probe } = await setup();
    const { token } = await login();
    probe.reset();
    for (const bad of [0, -5, 1.5, Number.NaN, 100 * 24 * 60]) {
      expect(await codeOf(authority.authenticate({ sessionToken: token }, { extendMinutes: bad }))).toBe(
        'INPUT_INVALID',
      );
    }
    expect(probe.total()).toBe(0);
  });
});

describe('revoke', () => {
  it('by session id, by session token and by a JWT expired within the window', async () => {
    const { authority, login, jwts, manager, clock } = await setup();
    const byId = await login();
    const byToken = await login();
    const byJwt = await login();
    const jwt = await jwts.issue(byJwt.session);
    clock.advance(EXPIRED_BY_MS);
    expect(await authority.revoke({ sessionId: byId.session.id })).toBe(true);
    expect(await authority.revoke({ sessionToken: byToken.token })).toBe(true);
    expect(await authority.revoke({ sessionJwt: jwt.token })).toBe(true);
    for (const { token } of [byId, byToken, byJwt]) {
      expect((await manager.validateToken(token)).status).toBe('invalid');
    }
    expect(await authority.revoke({ sessionId: byId.session.id })).toBe(false);
  });

  it('a token with the right id but a wrong secret revokes nothing', async () => {
    const { authority, login, manager } = await setup();
    const { session, token } = await login();
    const other = await login();
    const wrong = `${session.id}.${other.token.split('.')[1]}`;
    expect(await authority.revoke({ sessionToken: wrong })).toBe(false);
    expect((await manager.validateToken(token)).status).toBe('valid');
  });

  it('a JWT beyond the window revokes nothing and says JWT_EXPIRED', async () => {
    const { authority, login, jwts, manager, clock } = await setup({ exchangeWindowSeconds: 60 });
    const { session, token } = await login();
    const jwt = await jwts.issue(session);
    await manager.validateToken(token);
    clock.advance((300 + 61) * 1000);
    expect(await codeOf(authority.revoke({ sessionJwt: jwt.token }))).toBe('JWT_EXPIRED');
    expect((await manager.validateToken(token)).status).toBe('valid');
  });

  it('needs exactly one of id, token or JWT', async () => {
    const { authority, login } = await setup();
    const { session, token } = await login();
    expect(await codeOf(authority.revoke({}))).toBe('UNAUTHENTICATED');
    expect(await codeOf(authority.revoke({ sessionId: session.id, sessionToken: token }))).toBe('UNAUTHENTICATED');
  });
});

describe('list and configuration', () => {
  it('lists a user sessions without secrets', async () => {
    const { authority, login } = await setup();
    await login();
    await login();
    const sessions = await authority.list('user-1');
    expect(sessions).toHaveLength(2);
    for (const session of sessions) expect(Object.keys(session)).not.toContain('secretHash');
    expect(await authority.list('nobody')).toEqual([]);
    expect(await codeOf(authority.list(''))).toBe('INPUT_INVALID');
  });

  it('refuses an exchange window outside 0..3600 with CONFIG_INVALID', async () => {
    for (const bad of [-1, 3601, 1.5]) {
      const error = await setup({ exchangeWindowSeconds: bad }).catch((e: unknown) => e);
      expect(isSessionError(error, 'CONFIG_INVALID')).toBe(true);
    }
  });
});

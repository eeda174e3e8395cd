import * as dpopClient from 'dpop';
import { describe, expect, it } from 'vitest';
import { assertSessionDpopBinding, createDpopVerifier, type DpopVerifier } from '../src/entries/dpop.js';
import { createSessionJwt, generateSigningKey } from '../src/entries/jwt.js';
import { createRefreshTokens } from '../src/entries/refresh.js';
import { MemoryStore, type SessionEvent } from '../src/index.js';
import { JwtKeySet } from '../src/jwt/key-set.js';
import { runtimeOf, SessionManager } from '../src/manager.js';
import { createTestClock } from '../src/testing/index.js';
import { AUDIENCE, codeOf, ISSUER } from './jwt-support.js';

/**
 * DPoP binding of sessions, refresh families and session JWTs: bound at issue from the login's
 * proof, kept on rotation, refused (and reported) without the key.
 */
const TOKEN_URL = 'https://api.example.test/token';

async function setup() {
  const clock = createTestClock(Date.now());
  const store = new MemoryStore();
  const events: SessionEvent[] = [];
  const manager = new SessionManager({ store, clock, onEvent: (e) => events.push(e) });
  const jwt = createSessionJwt({
    manager,
    keys: new JwtKeySet({ active: await generateSigningKey('ES256') }),
    issuer: ISSUER,
    audience: AUDIENCE,
  });
  const refresh = createRefreshTokens({ jwt, secret: crypto.getRandomValues(new Uint8Array(32)) });
  const dpop = createDpopVerifier({ replay: store, clock });
  const keys = await dpopClient.generateKeyPair('ES256');
  const thief = await dpopClient.generateKeyPair('ES256');
  const prove = (verifier: DpopVerifier, pair = keys) =>
    dpopClient
      .generateProof(pair, TOKEN_URL, 'POST')
      .then((proof) => verifier.verify(proof, { method: 'POST', url: TOKEN_URL }));
  /** An API login with a proof: the session is created bound to the proof's key. */
  const login = async () => {
    const proof = await prove(dpop);
    const issued = await manager.create({ userId: 'user-1', metadata: { dpopJkt: proof.jkt } });
    return { ...issued, proof, pair: await refresh.issue(issued.session, { dpop: proof }) };
  };
  return { clock, store, events, manager, jwt, refresh, dpop, keys, thief, prove, login };
}

describe('DPoP-bound refresh tokens', () => {
  it('binds at issue: DPoP token type, cnf.jkt in the JWT, the thumbprint kept with the session', async () => {
    const { login, jwt, store, clock } = await setup();
    const { session, proof, pair } = await login();
    expect(pair.tokenType).toBe('DPoP');
    expect((await jwt.verify(pair.accessToken)).cnf).toEqual({ jkt: proof.jkt });
    expect((await store.get(session.id, clock.now()))?.metadata.dpopJkt).toBe(proof.jkt);
  });

  it('rotation with a proof from the key works and keeps the binding', async () => {
    const { login, refresh, dpop, prove, jwt } = await setup();
    const { pair, proof } = await login();
    const next = await refresh.refresh(pair.refreshToken, { dpop: await prove(dpop) });
    expect(next.tokenType).toBe('DPoP');
    expect((await jwt.verify(next.accessToken)).cnf?.jkt).toBe(proof.jkt);
    const third = await refresh.refresh(next.refreshToken, { dpop: await prove(dpop) });
    expect((await jwt.verify(third.accessToken)).cnf?.jkt).toBe(proof.jkt);
  });

  it('a stolen refresh token is refused without the key and with another key, and reported', async () => {
    const { login, refresh, dpop, prove, thief, events, manager, store, clock } = await setup();
    const { pair, session } = await login();
    const before = await store.getRefreshFamily(pair.refreshToken.split('.')[0] as string, clock.now());
    expect(await codeOf(refresh.refresh(pair.refreshToken))).toBe('DPOP_KEY_MISMATCH');
    expect(await codeOf(refresh.refresh(pair.refreshToken, { dpop: await prove(dpop, thief) }))).toBe(
      'DPOP_KEY_MISMATCH',
    );
    const mismatches = events.filter((e) => e.type === 'refresh.dpop_mismatch');
    expect(mismatches).toEqual([
      {
        type: 'refresh.dpop_mismatch',
        at: clock.now(),
        sidHash: runtimeOf(manager).sidHash(session.id),
        userId: 'user-1',
        reason: 'proof_missing',
      },
      expect.objectContaining({ reason: 'key_mismatch' }),
    ]);
    // Nothing rotated: the owner's next refresh still works.
    expect(await store.getRefreshFamily(before?.id as string, clock.now())).toEqual(before);
    expect((await refresh.refresh(pair.refreshToken, { dpop: await prove(dpop) })).tokenType).toBe('DPoP');
  });

  it('the duplicate-in-grace path checks the key too', async () => {
    const { login, refresh, dpop, prove } = await setup();
    const { pair } = await login();
    await refresh.refresh(pair.refreshToken, { dpop: await prove(dpop) });
    expect(await codeOf(refresh.refresh(pair.refreshToken))).toBe('DPOP_KEY_MISMATCH');
    expect((await refresh.refresh(pair.refreshToken, { dpop: await prove(dpop) })).tokenType).toBe('DPoP');
  });

  it('unbound sessions stay bearer; a proof for an unbound session is refused at issue', async () => {
    const { manager, refresh, dpop, prove } = await setup();
    const { session } = await manager.create({ userId: 'user-2' });
    const pair = await refresh.issue(session);
    expect(pair.tokenType).toBe('Bearer');
    expect((await refresh.refresh(pair.refreshToken)).tokenType).toBe('Bearer');
    expect(await codeOf(refresh.issue(session, { dpop: await prove(dpop) }))).toBe('CONFIG_INVALID');
  });
});

describe('revoking a DPoP-bound refresh family', () => {
  it('without a proof or with another key: DPOP_KEY_MISMATCH, reported, family and session unchanged', async () => {
    const { login, refresh, dpop, prove, thief, events, manager, store, clock } = await setup();
    const { pair, session, token } = await login();
    const familyId = pair.refreshToken.split('.')[0] as string;
    const before = await store.getRefreshFamily(familyId, clock.now());
    expect(await codeOf(refresh.revoke(pair.refreshToken))).toBe('DPOP_KEY_MISMATCH');
    expect(await codeOf(refresh.revoke(pair.refreshToken, { dpop: await prove(dpop, thief) }))).toBe(
      'DPOP_KEY_MISMATCH',
    );
    // keepSession changes nothing: the family alone is the owner's too.
    expect(await codeOf(refresh.revoke(pair.refreshToken, { keepSession: true }))).toBe('DPOP_KEY_MISMATCH');
    expect(events.filter((e) => e.type === 'refresh.dpop_mismatch')).toEqual([
      {
        type: 'refresh.dpop_mismatch',
        at: clock.now(),
        sidHash: runtimeOf(manager).sidHash(session.id),
        userId: 'user-1',
        reason: 'proof_missing',
      },
      expect.objectContaining({ reason: 'key_mismatch' }),
      expect.objectContaining({ reason: 'proof_missing' }),
    ]);
    expect(await store.getRefreshFamily(familyId, clock.now())).toEqual(before);
    expect(events.some((e) => e.type === 'session.revoked')).toBe(false);
    expect((await manager.validateToken(token)).session).not.toBeNull();
    // The owner's token still rotates: nothing was revoked.
    expect((await refresh.refresh(pair.refreshToken, { dpop: await prove(dpop) })).tokenType).toBe('DPoP');
  });

  it('with a proof from its key: the family and the session are revoked', async () => {
    const { login, refresh, dpop, prove, manager, store, clock, events } = await setup();
    const { pair, session, token } = await login();
    expect(await refresh.revoke(pair.refreshToken, { dpop: await prove(dpop) })).toBe(true);
    const family = await store.getRefreshFamily(pair.refreshToken.split('.')[0] as string, clock.now());
    expect(family?.revokedAt).toBe(clock.now());
    expect((await manager.validateToken(token)).session).toBeNull();
    expect(events.filter((e) => e.type === 'session.revoked').map((e) => 'sidHash' in e && e.sidHash)).toEqual([
      runtimeOf(manager).sidHash(session.id),
    ]);
    expect(await codeOf(refresh.refresh(pair.refreshToken, { dpop: await prove(dpop) }))).toBe('REFRESH_INVALID');
  });

  it('a revoked family kept its session (keepSession): a later revocation without the key cannot end the session', async () => {
    const { login, refresh, dpop, prove, manager } = await setup();
    const { pair, token } = await login();
    expect(await refresh.revoke(pair.refreshToken, { dpop: await prove(dpop), keepSession: true })).toBe(true);
    expect(await codeOf(refresh.revoke(pair.refreshToken))).toBe('DPOP_KEY_MISMATCH');
    expect((await manager.validateToken(token)).session).not.toBeNull();
  });

  it('an unbound family revokes without a proof; a bound family whose session ended needs none', async () => {
    const { login, refresh, manager } = await setup();
    const { session } = await manager.create({ userId: 'user-2' });
    const unbound = await refresh.issue(session);
    expect(await refresh.revoke(unbound.refreshToken)).toBe(true);
    const bound = await login();
    await manager.revoke(bound.session.id);
    expect(await refresh.revoke(bound.pair.refreshToken)).toBe(true);
  });
});

describe('DPoP-bound session tokens', () => {
  it('session rotation keeps the binding, even with new metadata', async () => {
    const { login, manager } = await setup();
    const { session, proof } = await login();
    const rotated = await manager.rotate(session, { metadata: { label: 'phone', dpopJkt: null } });
    expect(rotated.session.metadata.dpopJkt).toBe(proof.jkt);
    expect(rotated.session.metadata.label).toBe('phone');
  });

  it('a bound session token needs a proof from its key, reported as session.dpop_mismatch', async () => {
    const { login, manager, dpop, prove, thief, events } = await setup();
    const { token, proof } = await login();
    const { session } = await manager.validateToken(token);
    if (!session) throw new Error('expected a session');
    expect(() => assertSessionDpopBinding(manager, session, proof)).not.toThrow();
    const stolen = await prove(dpop, thief);
    expect(() => assertSessionDpopBinding(manager, session, stolen, { ip: '203.0.113.9' })).toThrow(
      expect.objectContaining({ code: 'DPOP_KEY_MISMATCH', reason: 'key_mismatch' }),
    );
    expect(() => assertSessionDpopBinding(manager, session, null)).toThrow(
      expect.objectContaining({ code: 'DPOP_KEY_MISMATCH', reason: 'proof_missing' }),
    );
    expect(events.filter((e) => e.type === 'session.dpop_mismatch')).toEqual([
      expect.objectContaining({ reason: 'key_mismatch', ip: '203.0.113.9', userId: 'user-1' }),
      expect.objectContaining({ reason: 'proof_missing', ip: null }),
    ]);
  });

  it('metadata.dpopJkt that is not a thumbprint is not stored', async () => {
    const { manager } = await setup();
    const { session } = await manager.create({ userId: 'u', metadata: { dpopJkt: 'not a thumbprint' } });
    expect(session.metadata.dpopJkt).toBeUndefined();
  });
});

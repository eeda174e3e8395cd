import { describe, expect, it } from 'vitest';
import { createSessionJwt, generateSigningKey } from '../src/entries/jwt.js';
import { createRefreshTokens } from '../src/entries/refresh.js';
import { isSessionError } from '../src/errors.js';
import { MemoryStore, type SessionEvent } from '../src/index.js';
import { JwtKeySet } from '../src/jwt/key-set.js';
import { runtimeOf, SessionManager } from '../src/manager.js';
import { parseRefreshToken } from '../src/refresh.js';
import { createTestClock, instrumentStore } from '../src/testing/index.js';
import { AUDIENCE, codeOf, ISSUER } from './jwt-support.js';

/**
 * Refresh tokens beyond the store conformance cases (RT-01..RT-09 run on every store through
 * runStoreConformance): configuration, the access JWT, session activity, and the event stream.
 */
async function setup(graceMs?: number) {
  const clock = createTestClock();
  const probe = instrumentStore(new MemoryStore());
  const events: SessionEvent[] = [];
  const manager = new SessionManager({ store: probe.store, clock, onEvent: (e) => events.push(e) });
  const jwt = createSessionJwt({
    manager,
    keys: new JwtKeySet({ active: await generateSigningKey('EdDSA') }),
    issuer: ISSUER,
    audience: AUDIENCE,
  });
  const refresh = createRefreshTokens({ jwt, secret: crypto.getRandomValues(new Uint8Array(32)), graceMs });
  const login = async () => {
    const issued = await manager.create({ userId: 'user-1' });
    return { ...issued, pair: await refresh.issue(issued.session) };
  };
  return { clock, probe, manager, jwt, refresh, events, login };
}

describe('refresh tokens: pairs, configuration and session activity', () => {
  it('a pair is an access JWT for the session plus an opaque refresh token', async () => {
    const { refresh, jwt, login } = await setup();
    const { session, pair } = await login();
    expect(pair.tokenType).toBe('Bearer');
    expect(pair.expiresIn).toBe(300);
    expect(pair.refreshExpiresAt).toBe(session.absoluteExpiresAt);
    expect(parseRefreshToken(pair.refreshToken)).not.toBeNull();
    const claims = await jwt.verify(pair.accessToken, { strict: true });
    expect(claims.sid).toBe(session.id);
    const next = await refresh.refresh(pair.refreshToken);
    expect((await jwt.verify(next.accessToken)).jti).not.toBe(claims.jti);
  });

  it('refuses, at construction, a manager whose store keeps no refresh families', async () => {
    const families = new Set<PropertyKey>(['createRefreshFamily', 'getRefreshFamily', 'updateRefreshFamily']);
    const memory = new MemoryStore();
    // A store with sessions only: the three family methods are simply not there.
    const sessionsOnly = new Proxy(memory, {
      has: (target, property) => !families.has(property) && Reflect.has(target, property),
      get: (target, property) => {
        if (families.has(property)) return undefined;
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const manager = new SessionManager({ store: sessionsOnly });
    const keys = new JwtKeySet({ active: await generateSigningKey('HS256') });
    const jwt = createSessionJwt({ manager, keys, issuer: ISSUER, audience: AUDIENCE });
    expect(await manager.create({ userId: 'u' })).toBeTruthy();
    expect(await codeOf((async () => createRefreshTokens({ jwt, secret: new Uint8Array(32).fill(7) }))())).toBe(
      'CONFIG_INVALID',
    );
  });

  it('G2: refuses a grace window outside 0-60 s, and refresh secrets that are short or not bytes', async () => {
    const { jwt } = await setup();
    const attempts: Array<[Parameters<typeof createRefreshTokens>[0], string]> = [
      [{ jwt, secret: new Uint8Array(32).fill(7), graceMs: 60_001 }, 'CONFIG_INVALID'],
      [{ jwt, secret: new Uint8Array(32).fill(7), graceMs: -1 }, 'CONFIG_INVALID'],
      [{ jwt, secret: new Uint8Array(31) }, 'KEY_WEAK'],
      [{ jwt, secret: 'a password of many words, long enough' as never }, 'KEY_WEAK'],
    ];
    for (const [options, code] of attempts) {
      const error = (() => {
        try {
          createRefreshTokens(options);
        } catch (e) {
          return e;
        }
      })();
      expect(isSessionError(error) && error.code).toBe(code);
    }
  });

  it('a refresh is session activity: it slides the idle deadline like a validated read', async () => {
    const { refresh, manager, clock, login } = await setup();
    const { session, token, pair } = await login();
    clock.advance(20 * 60_000);
    const next = await refresh.refresh(pair.refreshToken);
    expect(next.session.idleExpiresAt).toBe(clock.now() + (manager.policy.idleTimeoutMs as number));
    clock.advance(20 * 60_000);
    // 40 minutes after login, past the original 30-minute idle deadline: still live.
    expect((await manager.validateToken(token)).session?.id).toBe(session.id);
  });

  it('a family whose session expired is refused even if the family itself is still within its limits', async () => {
    const { refresh, manager, login } = await setup();
    const { session, pair } = await login();
    await runtimeOf(manager).store.delete(session.id);
    expect(await codeOf(refresh.refresh(pair.refreshToken))).toBe('REFRESH_INVALID');
  });

  it('issuing for an expired session is refused', async () => {
    const { refresh, manager, clock } = await setup();
    const { session } = await manager.create({ userId: 'u' });
    clock.advance(manager.policy.absoluteTimeoutMs);
    expect(await codeOf(refresh.issue(session))).toBe('SESSION_EXPIRED');
  });

  it("in the session's last 30 s (the clock tolerance) a refresh is refused before the family rotates", async () => {
    const clock = createTestClock();
    const memory = new MemoryStore();
    const probe = instrumentStore(memory);
    const events: SessionEvent[] = [];
    const policy = { idleTimeoutMs: 10 * 60_000, absoluteTimeoutMs: 10 * 60_000 };
    const manager = new SessionManager({ store: probe.store, clock, policy, onEvent: (e) => events.push(e) });
    const keys = new JwtKeySet({ active: await generateSigningKey('HS256') });
    const jwt = createSessionJwt({ manager, keys, issuer: ISSUER, audience: AUDIENCE });
    const refresh = createRefreshTokens({ jwt, secret: new Uint8Array(32).fill(3) });
    const { session, token } = await manager.create({ userId: 'u' });
    const pair = await refresh.issue(session);
    const familyId = pair.refreshToken.split('.')[0] as string;
    const before = await memory.getRefreshFamily(familyId, clock.now());

    // 20 s left: the session lives, but an access JWT would outlive it, so none is issued.
    clock.set(session.absoluteExpiresAt - 20_000);
    expect((await manager.validateToken(token)).status).toBe('valid');
    probe.reset();
    const error = await refresh.refresh(pair.refreshToken).catch((e: unknown) => e);
    expect(isSessionError(error, 'REFRESH_INVALID')).toBe(true);
    expect((error as { reason?: string }).reason).toBe('session_ended');
    // Nothing was written: the family keeps its generation and its current token, no event.
    expect(probe.calls.updateRefreshFamily).toBe(0);
    expect(await memory.getRefreshFamily(familyId, clock.now())).toEqual(before);
    expect(events.filter((e) => e.type === 'refresh.rotated')).toEqual([]);

    // A new family is not started either: no orphan family, the access JWT's own refusal.
    probe.reset();
    expect(await codeOf(refresh.issue(session))).toBe('SESSION_EXPIRED');
    expect(probe.calls.createRefreshFamily).toBe(0);
  });

  it('events name the session by keyed hash and never carry a refresh token or JWT', async () => {
    const { refresh, events, clock, login, manager } = await setup();
    const { session, pair } = await login();
    const next = await refresh.refresh(pair.refreshToken);
    clock.advance(11_000);
    expect(await codeOf(refresh.refresh(pair.refreshToken))).toBe('REFRESH_REUSED');
    const types = events.map((e) => e.type);
    expect(types).toContain('refresh.rotated');
    expect(types).toContain('refresh.reuse_detected');
    expect(types).toContain('session.revoked');
    const reuse = events.find((e) => e.type === 'refresh.reuse_detected');
    expect(reuse).toMatchObject({
      sidHash: runtimeOf(manager).sidHash(session.id),
      userId: 'user-1',
      reason: 'after_grace',
    });
    const text = JSON.stringify(events);
    for (const secret of [pair.refreshToken, next.refreshToken, pair.accessToken, next.accessToken]) {
      expect(text).not.toContain(secret.split('.')[1] as string);
    }
  });

  it("reuse revokes only the affected session, not the user's other sessions", async () => {
    const { refresh, manager, clock, login } = await setup();
    const phone = await login();
    const laptop = await login();
    await refresh.refresh(phone.pair.refreshToken);
    clock.advance(11_000);
    expect(await codeOf(refresh.refresh(phone.pair.refreshToken))).toBe('REFRESH_REUSED');
    expect((await manager.validateToken(phone.token)).session).toBeNull();
    expect((await manager.validateToken(laptop.token)).session?.id).toBe(laptop.session.id);
    expect((await refresh.refresh(laptop.pair.refreshToken)).session.id).toBe(laptop.session.id);
  });

  it('G1/RT-03: concurrent reuse after the grace window revokes once and never yields a live token', async () => {
    const { refresh, clock, login, events } = await setup();
    const { pair } = await login();
    const r1 = await refresh.refresh(pair.refreshToken);
    clock.advance(11_000);
    const results = await Promise.allSettled([
      ...Array.from({ length: 10 }, () => refresh.refresh(pair.refreshToken)),
      refresh.refresh(r1.refreshToken),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeLessThanOrEqual(1);
    expect(events.filter((e) => e.type === 'refresh.reuse_detected')).toHaveLength(1);
    expect(await codeOf(refresh.refresh(r1.refreshToken))).toBe('REFRESH_INVALID');
    for (const result of results) {
      if (result.status === 'fulfilled') {
        expect(await codeOf(refresh.refresh(result.value.refreshToken))).toBe('REFRESH_INVALID');
      }
    }
  });

  it('a replay older than the lookback window is invalid but revokes nothing', async () => {
    const { refresh, login } = await setup();
    const { pair } = await login();
    let latest = pair;
    for (let i = 0; i < 66; i++) latest = await refresh.refresh(latest.refreshToken);
    expect(await codeOf(refresh.refresh(pair.refreshToken))).toBe('REFRESH_INVALID');
    expect((await refresh.refresh(latest.refreshToken)).session.id).toBe(pair.session.id);
  });

  it('successors depend on the server secret: another instance with another secret cannot continue a chain', async () => {
    const { refresh, jwt, login, clock } = await setup();
    const { pair } = await login();
    const other = createRefreshTokens({ jwt, secret: crypto.getRandomValues(new Uint8Array(32)) });
    const first = await refresh.refresh(pair.refreshToken);
    clock.advance(1_000);
    // The duplicate inside the grace window on the other instance derives a different successor.
    expect(await codeOf(other.refresh(pair.refreshToken))).toBe('REFRESH_INVALID');
    expect((await refresh.refresh(first.refreshToken)).session.id).toBe(pair.session.id);
  });
});

import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isSessionError, SessionError, type SessionErrorCode } from '../errors.js';
import type { SessionEvent } from '../events.js';
import { hashSecret } from '../hash.js';
import { JwtKeySet } from '../jwt/key-set.js';
import { generateSigningKey } from '../jwt/keys.js';
import { SessionJwt } from '../jwt/session-jwt.js';
import { runtimeOf, SessionManager } from '../manager.js';
import { randomBytes, randomString } from '../random.js';
import { RefreshTokens } from '../refresh.js';
import { isRefreshFamilyStore, type RefreshFamilyStore, type SessionStore } from '../store.js';
import type { TestClock } from './clock.js';
import { instrumentStore } from './instrument.js';

const SECOND = 1000;

/** Why a refresh case fails on a store of sessions only that did not say so. */
export const NOT_REFRESH_STORE =
  'The store does not implement RefreshFamilyStore; a store of sessions only passes refreshFamilies: false to runStoreConformance';

/**
 * Registers the refresh-token cases of the security checklist (section 2.4, RT-01 to RT-09, and
 * rows G1-G6) as vitest tests against one store. `runStoreConformance` calls it, so every store
 * runs it against its real backing service; it can also be called on its own.
 *
 * The clock is moved inside each test and put back after it. The store must implement
 * `RefreshFamilyStore`; `runStoreConformance` leaves these cases out for a store that declares
 * `refreshFamilies: false`.
 *
 * @example
 * ```ts
 * const clock = createTestClock()
 * runRefreshConformance(() => store, clock)
 * ```
 */
export function runRefreshConformance(getStore: () => SessionStore, clock: TestClock): void {
  describe('refresh tokens (RT-01..RT-09)', () => {
    let keys: JwtKeySet;
    let startedAt = 0;

    beforeAll(async () => {
      keys = new JwtKeySet({ active: await generateSigningKey('HS256') });
    });
    beforeEach(() => {
      // First: afterEach puts the clock back to this even when the case fails here.
      startedAt = clock.now();
      if (!isRefreshFamilyStore(getStore())) throw new Error(NOT_REFRESH_STORE);
    });
    afterEach(() => {
      clock.set(startedAt);
    });

    // Every case runs after the beforeEach above has refused a store without refresh families.
    const families = () => getStore() as SessionStore & RefreshFamilyStore;
    const setup = (store = families(), graceMs?: number) => {
      const events: SessionEvent[] = [];
      const manager = new SessionManager({ store, clock, onEvent: (event) => events.push(event) });
      const jwt = new SessionJwt({ manager, keys, issuer: 'https://conformance.test', audience: 'api' });
      const refresh = new RefreshTokens({ jwt, secret: randomBytes(32), graceMs });
      const login = async () => {
        const { session, token } = await manager.create({ userId: `user-${randomString(9)}` });
        return { session, sessionToken: token, pair: await refresh.issue(session) };
      };
      return { store, manager, refresh, events, login };
    };

    const codeOf = (promise: Promise<unknown>): Promise<SessionErrorCode | 'resolved'> =>
      promise.then(
        () => 'resolved' as const,
        (error: unknown) => (isSessionError(error) ? error.code : 'resolved'),
      );

    it('G4: the token is opaque <familyId>.<secret>; the store keeps only its SHA-256', async () => {
      const { store, login } = setup();
      const { session, pair } = await login();
      expect(pair.refreshToken).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
      const [familyId, secret] = pair.refreshToken.split('.') as [string, string];
      const family = await store.getRefreshFamily(familyId, clock.now());
      expect(family?.sessionId).toBe(session.id);
      expect(family?.currentHash).toBe(hashSecret(secret));
      expect(JSON.stringify(family)).not.toContain(secret);
    });

    it('G1: every use rotates the token; the successor works, with a fresh access JWT', async () => {
      const { refresh, login, events } = setup();
      const { pair } = await login();
      const next = await refresh.refresh(pair.refreshToken);
      expect(next.refreshToken).not.toBe(pair.refreshToken);
      expect(next.accessToken).not.toBe(pair.accessToken);
      const third = await refresh.refresh(next.refreshToken);
      expect(third.session.id).toBe(pair.session.id);
      expect(events.filter((e) => e.type === 'refresh.rotated')).toHaveLength(2);
    });

    it('RT-01: R0 after the grace window is reuse: family and session revoked, R1 dead, event emitted', async () => {
      const { store, manager, refresh, events, login } = setup();
      const { session, sessionToken, pair } = await login();
      const r1 = await refresh.refresh(pair.refreshToken);
      clock.advance(10 * SECOND + 1);
      expect(await codeOf(refresh.refresh(pair.refreshToken))).toBe('REFRESH_REUSED');
      const family = await store.getRefreshFamily(pair.refreshToken.split('.')[0] as string, clock.now());
      expect(family?.revokedAt).toBe(clock.now());
      expect((await manager.validateToken(sessionToken)).session).toBeNull();
      expect(await store.get(session.id, clock.now())).toBeNull();
      expect(await codeOf(refresh.refresh(r1.refreshToken))).toBe('REFRESH_INVALID');
      const reuse = events.filter((e) => e.type === 'refresh.reuse_detected');
      expect(reuse).toHaveLength(1);
      expect(reuse[0]?.sidHash).toBe(runtimeOf(manager).sidHash(session.id));
      expect(JSON.stringify(events)).not.toContain(pair.refreshToken.split('.')[1] as string);
    });

    it('RT-02: an attacker refreshes first with stolen R0; the victim presents R0 later: both lose', async () => {
      const { refresh, login } = setup();
      const { pair } = await login();
      const attacker = await refresh.refresh(pair.refreshToken);
      clock.advance(30 * SECOND);
      expect(await codeOf(refresh.refresh(pair.refreshToken))).toBe('REFRESH_REUSED');
      expect(await codeOf(refresh.refresh(attacker.refreshToken))).toBe('REFRESH_INVALID');
    });

    it('RT-02: a token rotated several generations back is still recognised as reuse', async () => {
      const { refresh, login } = setup();
      const { pair } = await login();
      let latest = pair;
      for (let i = 0; i < 3; i++) latest = await refresh.refresh(latest.refreshToken);
      expect(await codeOf(refresh.refresh(pair.refreshToken))).toBe('REFRESH_REUSED');
      expect(await codeOf(refresh.refresh(latest.refreshToken))).toBe('REFRESH_INVALID');
    });

    it('RT-03/G2: 20 parallel refreshes of R0 get one successor; one chain in the store', async () => {
      const { store, refresh, login } = setup();
      const { pair } = await login();
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => refresh.refresh(pair.refreshToken)));
      const successors = new Set(
        results.map((r) => (r.status === 'fulfilled' ? r.value.refreshToken : `rejected:${String(r.reason)}`)),
      );
      expect(successors.size).toBe(1);
      const [successor] = [...successors] as [string];
      expect(successor.startsWith('rejected')).toBe(false);
      const family = await store.getRefreshFamily(pair.refreshToken.split('.')[0] as string, clock.now());
      expect(family?.generation).toBe(2);
      expect(family?.currentHash).toBe(hashSecret(successor.split('.')[1] as string));
      expect(family?.revokedAt).toBeNull();
      expect((await refresh.refresh(successor)).session.id).toBe(pair.session.id);
    });

    it('RT-04: R0 again at 9 s gets the same successor; at 11 s it is reuse (the window does not slide)', async () => {
      const { refresh, login } = setup();
      const { pair } = await login();
      const r1 = await refresh.refresh(pair.refreshToken);
      clock.advance(9 * SECOND);
      const duplicate = await refresh.refresh(pair.refreshToken);
      expect(duplicate.refreshToken).toBe(r1.refreshToken);
      clock.advance(2 * SECOND);
      expect(await codeOf(refresh.refresh(pair.refreshToken))).toBe('REFRESH_REUSED');
    });

    it('G2: a grace window of 0 treats any duplicate as reuse', async () => {
      const { refresh, login } = setup(families(), 0);
      const { pair } = await login();
      await refresh.refresh(pair.refreshToken);
      clock.advance(1);
      expect(await codeOf(refresh.refresh(pair.refreshToken))).toBe('REFRESH_REUSED');
    });

    it('RT-05: foreign, garbage and other-user tokens are rejected and revoke nothing', async () => {
      const { store, refresh, login } = setup();
      const alice = await login();
      const bob = await login();
      const [aliceFamily, aliceSecret] = alice.pair.refreshToken.split('.') as [string, string];
      const [bobFamily] = bob.pair.refreshToken.split('.') as [string];
      const forged = [
        `${aliceFamily}.${randomString(32)}`,
        `${bobFamily}.${aliceSecret}`,
        `${randomString(16)}.${aliceSecret}`,
      ];
      for (const token of forged) expect(await codeOf(refresh.refresh(token))).toBe('REFRESH_INVALID');
      for (const family of [aliceFamily, bobFamily]) {
        expect((await store.getRefreshFamily(family, clock.now()))?.revokedAt).toBeNull();
      }
      expect((await refresh.refresh(alice.pair.refreshToken)).session.userId).toBe(alice.session.userId);
      expect((await refresh.refresh(bob.pair.refreshToken)).session.userId).toBe(bob.session.userId);
    });

    it('RT-06/G3: an unused token past the idle limit is rejected', async () => {
      const { manager, refresh, login } = setup();
      const { pair } = await login();
      clock.advance((manager.policy.idleTimeoutMs as number) + SECOND);
      expect(await codeOf(refresh.refresh(pair.refreshToken))).toBe('REFRESH_INVALID');
    });

    it('RT-06/G3: refreshing keeps the family alive, but never past the absolute limit', async () => {
      const { manager, refresh, login } = setup();
      const { pair } = await login();
      const step = (manager.policy.idleTimeoutMs as number) / 2;
      let latest = pair;
      let refreshed = 0;
      for (let elapsed = step; elapsed < manager.policy.absoluteTimeoutMs; elapsed += step) {
        clock.advance(step);
        latest = await refresh.refresh(latest.refreshToken);
        refreshed++;
      }
      expect(refreshed).toBeGreaterThan(2);
      expect(latest.refreshExpiresAt).toBe(pair.session.absoluteExpiresAt);
      clock.set(pair.session.absoluteExpiresAt);
      expect(await codeOf(refresh.refresh(latest.refreshToken))).toBe('REFRESH_INVALID');
    });

    it("RT-07/G6: after logout, and after revoking all of a user's sessions, refresh is rejected", async () => {
      const { manager, refresh, login } = setup();
      const first = await login();
      await manager.revoke(first.session.id);
      expect(await codeOf(refresh.refresh(first.pair.refreshToken))).toBe('REFRESH_INVALID');
      const second = await login();
      await manager.revokeAll(second.session.userId);
      expect(await codeOf(refresh.refresh(second.pair.refreshToken))).toBe('REFRESH_INVALID');
    });

    it('RT-07/G6: API logout with the refresh token revokes the family and the session', async () => {
      const { store, manager, refresh, login } = setup();
      const { session, sessionToken, pair } = await login();
      expect(await refresh.revoke(`${pair.refreshToken.split('.')[0]}.${randomString(32)}`)).toBe(false);
      expect(await refresh.revoke(pair.refreshToken)).toBe(true);
      expect(
        (await store.getRefreshFamily(pair.refreshToken.split('.')[0] as string, clock.now()))?.revokedAt,
      ).not.toBeNull();
      expect(await store.get(session.id, clock.now())).toBeNull();
      expect((await manager.validateToken(sessionToken)).session).toBeNull();
      expect(await codeOf(refresh.refresh(pair.refreshToken))).toBe('REFRESH_INVALID');
    });

    it('RT-08: malformed refresh tokens get TOKEN_MALFORMED with no store call', async () => {
      const probe = instrumentStore(families());
      const { refresh, login } = setup(probe.store as SessionStore & RefreshFamilyStore);
      const { pair, sessionToken } = await login();
      const [familyId, secret] = pair.refreshToken.split('.') as [string, string];
      const malformed = [
        '',
        'x',
        `${familyId}${secret}`,
        `${familyId}.${secret}=`,
        `${familyId}.${secret.slice(1)}`,
        `${familyId}.${secret.slice(0, -1)}+`,
        `${familyId.slice(0, -1)}B.${secret}`,
        `${familyId}.${secret.slice(0, -1)}B`,
        ` ${pair.refreshToken}`,
        `${pair.refreshToken}\n`,
        pair.accessToken,
        'a'.repeat(10_000),
      ];
      probe.reset();
      for (const token of malformed) expect(await codeOf(refresh.refresh(token))).toBe('TOKEN_MALFORMED');
      expect(await codeOf(refresh.refresh(undefined))).toBe('TOKEN_MALFORMED');
      expect(probe.total()).toBe(0);
      // A session token has the same shape (16 + 32 bytes) but names no refresh family.
      expect(await codeOf(refresh.refresh(sessionToken))).toBe('REFRESH_INVALID');
    });

    it('RT-09: a rotation whose write never reached the store leaves R0 usable', async () => {
      const { refresh, login } = setup(faultyFamilyWrites(families(), 'before'));
      const { pair } = await login();
      expect(await codeOf(refresh.refresh(pair.refreshToken))).toBe('STORE_UNAVAILABLE');
      healFamilyWrites(refresh);
      const retry = await refresh.refresh(pair.refreshToken);
      expect((await refresh.refresh(retry.refreshToken)).session.id).toBe(pair.session.id);
    });

    it('RT-09: a rotation whose reply was lost is idempotent on retry within the grace window', async () => {
      const store = faultyFamilyWrites(families(), 'after');
      const { refresh, login } = setup(store);
      const { pair } = await login();
      expect(await codeOf(refresh.refresh(pair.refreshToken))).toBe('STORE_UNAVAILABLE');
      healFamilyWrites(refresh);
      const family = await store.getRefreshFamily(pair.refreshToken.split('.')[0] as string, clock.now());
      expect(family?.generation).toBe(2);
      clock.advance(5 * SECOND);
      const retry = await refresh.refresh(pair.refreshToken);
      expect(hashSecret(retry.refreshToken.split('.')[1] as string)).toBe(family?.currentHash);
      expect((await refresh.refresh(retry.refreshToken)).session.id).toBe(pair.session.id);
    });

    it('a store outage fails closed with STORE_UNAVAILABLE, and nothing is revoked', async () => {
      const probe = instrumentStore(families());
      const { refresh, login } = setup(probe.store as SessionStore & RefreshFamilyStore);
      const { pair } = await login();
      probe.fail('error');
      expect(await codeOf(refresh.refresh(pair.refreshToken))).toBe('STORE_UNAVAILABLE');
      probe.fail(null);
      expect((await refresh.refresh(pair.refreshToken)).session.id).toBe(pair.session.id);
    });
  });
}

type FaultyStore = SessionStore & RefreshFamilyStore & { heal(): void };

/**
 * The real store with refresh-family writes failing once: `before` fails without writing (the
 * request never arrived), `after` writes and then fails (the reply was lost). Not a mock: data
 * still goes to the real store.
 */
function faultyFamilyWrites(inner: SessionStore & RefreshFamilyStore, when: 'before' | 'after'): FaultyStore {
  let armed = true;
  const store = new Proxy(inner, {
    get(target, property) {
      if (property === 'heal') return () => (armed = false);
      const value = Reflect.get(target, property, target);
      if (property !== 'updateRefreshFamily' || typeof value !== 'function') {
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return async (...args: Parameters<RefreshFamilyStore['updateRefreshFamily']>) => {
        if (!armed) return target.updateRefreshFamily(...args);
        if (when === 'after') await target.updateRefreshFamily(...args);
        throw new SessionError('STORE_UNAVAILABLE', 'injected failure');
      };
    },
  });
  return store as FaultyStore;
}

function healFamilyWrites(refresh: RefreshTokens): void {
  (runtimeOf(refresh.jwt.manager).store as FaultyStore).heal();
}

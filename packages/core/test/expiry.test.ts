import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cookieMaxAge,
  type ExpiryState,
  expiryStatus,
  extendIdle,
  FRESHNESS_SKEW_MS,
  initialExpiry,
  isFreshAt,
  needsTouch,
  slideIdle,
} from '../src/expiry.js';
import { recordExpiresAt, type SessionPolicy } from '../src/index.js';
import { MAX_COOKIE_LIFETIME_SECONDS, resolvePolicy } from '../src/policy.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 1);
const aal2 = resolvePolicy('aal2');

describe('initialExpiry', () => {
  it('sets both deadlines from now, the idle one capped by the absolute one', () => {
    expect(initialExpiry(T0, aal2)).toEqual({
      lastSeenAt: T0,
      idleExpiresAt: T0 + 30 * MINUTE,
      absoluteExpiresAt: T0 + 12 * HOUR,
    });
    const short = resolvePolicy({ idleTimeoutMs: HOUR, absoluteTimeoutMs: HOUR });
    expect(initialExpiry(T0, short).idleExpiresAt).toBe(T0 + HOUR);
    expect(initialExpiry(T0, resolvePolicy({ preset: 'aal1', idleTimeoutMs: null })).idleExpiresAt).toBeNull();
  });

  it('uses the persistent lifetime for "remember me" sessions', () => {
    const policy = resolvePolicy({ persistentAbsoluteTimeoutMs: 30 * DAY });
    expect(initialExpiry(T0, policy, true).absoluteExpiresAt).toBe(T0 + 30 * DAY);
    expect(initialExpiry(T0, policy, false).absoluteExpiresAt).toBe(T0 + 12 * HOUR);
  });
});

describe('expiryStatus', () => {
  const state = initialExpiry(T0, aal2);

  it('C1: valid at 29:59 without activity, idle-expired at 30:00', () => {
    expect(expiryStatus(state, T0 + 30 * MINUTE - 1000)).toBe('valid');
    expect(expiryStatus(state, T0 + 30 * MINUTE - 1)).toBe('valid');
    expect(expiryStatus(state, T0 + 30 * MINUTE)).toBe('idle_expired');
  });

  it('C2: the absolute deadline wins, even over a later idle deadline', () => {
    const stretched: ExpiryState = { ...state, idleExpiresAt: T0 + 13 * HOUR };
    expect(expiryStatus(stretched, T0 + 12 * HOUR - 1)).toBe('valid');
    expect(expiryStatus(stretched, T0 + 12 * HOUR)).toBe('absolute_expired');
    expect(expiryStatus({ ...state, idleExpiresAt: null }, T0 + 12 * HOUR)).toBe('absolute_expired');
  });

  it('agrees with recordExpiresAt, the deadline stores use for TTLs (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: DAY }),
        fc.option(fc.integer({ min: 1, max: DAY }), { nil: null }),
        fc.integer({ min: -DAY, max: 2 * DAY }),
        (absolute, idle, offset) => {
          const expiry = {
            lastSeenAt: T0,
            absoluteExpiresAt: T0 + absolute,
            idleExpiresAt: idle === null ? null : T0 + idle,
          };
          const now = T0 + offset;
          expect(expiryStatus(expiry, now) === 'valid').toBe(now < recordExpiresAt(expiry));
        },
      ),
    );
  });
});

describe('needsTouch / slideIdle', () => {
  const state = initialExpiry(T0, aal2);

  it('C4: no touch within the touch interval, one once it has passed', () => {
    expect(needsTouch(state, T0, aal2)).toBe(false);
    expect(needsTouch(state, T0 + 5 * MINUTE - 1, aal2)).toBe(false);
    expect(needsTouch(state, T0 + 5 * MINUTE, aal2)).toBe(true);
  });

  it('C3: activity resets the idle deadline but never the absolute one', () => {
    const slid = slideIdle(state, T0 + 20 * MINUTE, aal2);
    expect(slid).toEqual({
      lastSeenAt: T0 + 20 * MINUTE,
      idleExpiresAt: T0 + 50 * MINUTE,
      absoluteExpiresAt: T0 + 12 * HOUR,
    });
    const late = slideIdle(state, T0 + 12 * HOUR - MINUTE, aal2);
    expect(late.idleExpiresAt).toBe(T0 + 12 * HOUR);
    expect(late.absoluteExpiresAt).toBe(T0 + 12 * HOUR);
  });

  it('never touches when the slide would not move the deadline (already at the absolute cap)', () => {
    const capped = slideIdle(state, T0 + 12 * HOUR - 10 * MINUTE, aal2);
    expect(needsTouch(capped, T0 + 12 * HOUR - 4 * MINUTE, aal2)).toBe(false);
  });

  it('CL-03: a clock stepped back 1 h neither touches nor shortens nor extends anything', () => {
    const later = slideIdle(state, T0 + 10 * MINUTE, aal2);
    const back = T0 + 10 * MINUTE - HOUR;
    expect(needsTouch(later, back, aal2)).toBe(false);
    const slid = slideIdle(later, back, aal2);
    expect(slid.idleExpiresAt).toBe(later.idleExpiresAt);
    expect(slid.absoluteExpiresAt).toBe(later.absoluteExpiresAt);
    expect(slid.lastSeenAt).toBe(later.lastSeenAt);
  });

  it('without an idle timeout: no touches, no idle deadline', () => {
    const policy = resolvePolicy({ preset: 'aal1', idleTimeoutMs: null });
    const open = initialExpiry(T0, policy);
    expect(needsTouch(open, T0 + 29 * DAY, policy)).toBe(false);
    expect(slideIdle(open, T0 + DAY, policy)).toEqual({ ...open, lastSeenAt: T0 + DAY });
  });

  it('keeps the extra fields of the state it is given', () => {
    const record = { ...state, id: 'x', version: 3 };
    expect(slideIdle(record, T0 + 10 * MINUTE, aal2)).toMatchObject({ id: 'x', version: 3 });
  });
});

describe('extendIdle', () => {
  const state = initialExpiry(T0, aal2);

  it('moves the idle deadline by one idle timeout or by byMs, capped by the absolute deadline', () => {
    expect(extendIdle(state, T0 + MINUTE, aal2).idleExpiresAt).toBe(T0 + 31 * MINUTE);
    expect(extendIdle(state, T0 + MINUTE, aal2, 2 * HOUR).idleExpiresAt).toBe(T0 + MINUTE + 2 * HOUR);
    expect(extendIdle(state, T0 + MINUTE, aal2, 24 * HOUR).idleExpiresAt).toBe(T0 + 12 * HOUR);
    expect(extendIdle(state, T0 + MINUTE, aal2, 24 * HOUR).absoluteExpiresAt).toBe(T0 + 12 * HOUR);
  });

  it('never shortens the idle deadline', () => {
    expect(extendIdle(state, T0 + MINUTE, aal2, 1000).idleExpiresAt).toBe(T0 + 30 * MINUTE);
  });

  it('does not invent an idle deadline for a policy without one', () => {
    const policy = resolvePolicy({ preset: 'aal1', idleTimeoutMs: null });
    expect(extendIdle(initialExpiry(T0, policy), T0 + DAY, policy, HOUR).idleExpiresAt).toBeNull();
  });
});

describe('cookieMaxAge', () => {
  it('B6: undefined (no Max-Age) for non-persistent sessions', () => {
    expect(cookieMaxAge({ absoluteExpiresAt: T0 + HOUR, persistent: false }, T0)).toBeUndefined();
  });

  it('B6/SC-05: the remaining absolute lifetime in whole seconds, capped at 400 days, never negative', () => {
    expect(cookieMaxAge({ absoluteExpiresAt: T0 + HOUR, persistent: true }, T0)).toBe(3600);
    expect(cookieMaxAge({ absoluteExpiresAt: T0 + HOUR, persistent: true }, T0 + 1500)).toBe(3598);
    expect(cookieMaxAge({ absoluteExpiresAt: T0 + 500 * DAY, persistent: true }, T0)).toBe(34_560_000);
    expect(cookieMaxAge({ absoluteExpiresAt: T0, persistent: true }, T0 + HOUR)).toBe(0);
  });

  it('never exceeds the absolute deadline or 400 days (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -DAY, max: 1000 * DAY }),
        fc.integer({ min: 0, max: 1000 * DAY }),
        (lifetime, elapsed) => {
          const maxAge = cookieMaxAge({ absoluteExpiresAt: T0 + lifetime, persistent: true }, T0 + elapsed) as number;
          expect(maxAge).toBeGreaterThanOrEqual(0);
          expect(maxAge).toBeLessThanOrEqual(MAX_COOKIE_LIFETIME_SECONDS);
          expect(T0 + elapsed + maxAge * 1000).toBeLessThanOrEqual(Math.max(T0 + elapsed, T0 + lifetime));
        },
      ),
    );
  });
});

describe('isFreshAt', () => {
  it('D4: fresh within maxAge, stale after it', () => {
    expect(isFreshAt(T0, T0 + 10 * MINUTE, 10 * MINUTE)).toBe(true);
    expect(isFreshAt(T0, T0 + 11 * MINUTE, 10 * MINUTE)).toBe(false);
  });

  it('tolerates an authentication time slightly in the future (instances with skewed clocks), no more', () => {
    expect(isFreshAt(T0 + FRESHNESS_SKEW_MS, T0, MINUTE)).toBe(true);
    expect(isFreshAt(T0 + FRESHNESS_SKEW_MS + 1, T0, MINUTE)).toBe(false);
  });

  it('is never fresh for a nonsensical maxAge', () => {
    expect(isFreshAt(T0, T0, Number.NaN)).toBe(false);
    expect(isFreshAt(T0, T0 + 1, -1)).toBe(false);
  });
});

/**
 * The expiry math as the manager applies it on every read: check, then touch if due. Steps move
 * the clock forward or (CL-03) backward, and some are explicit extensions.
 */
describe('expiry math over every clock sequence (property)', () => {
  const policyArbitrary = fc
    .record({
      absolute: fc.integer({ min: MINUTE, max: 30 * DAY }),
      idleShare: fc.option(fc.double({ min: 0.01, max: 1, noNaN: true }), { nil: null }),
      touchShare: fc.option(fc.double({ min: 0, max: 0.99, noNaN: true }), { nil: undefined }),
    })
    .map(({ absolute, idleShare, touchShare }) => {
      const idle = idleShare === null ? null : Math.max(2, Math.floor(absolute * idleShare));
      const base = idle ?? absolute;
      return resolvePolicy({
        // aal1: the only preset that allows no idle timeout; every value is overridden anyway.
        preset: 'aal1',
        absoluteTimeoutMs: absolute,
        idleTimeoutMs: idle,
        touchIntervalMs: touchShare === undefined ? undefined : Math.floor((base - 1) * touchShare),
      });
    });

  const stepArbitrary = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({ kind: fc.constant('read' as const), delta: fc.integer({ min: 0, max: 10 * MINUTE }) }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('read' as const), delta: fc.integer({ min: 0, max: 2 * DAY }) }),
    },
    // CL-03: the clock steps backwards, by up to a day
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('read' as const), delta: fc.integer({ min: -DAY, max: -1 }) }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('extend' as const),
        delta: fc.integer({ min: -HOUR, max: HOUR }),
        byMs: fc.option(fc.integer({ min: 1, max: 2 * DAY }), { nil: undefined }),
      }),
    },
  );

  function simulate(policy: SessionPolicy, steps: Array<{ kind: 'read' | 'extend'; delta: number; byMs?: number }>) {
    let now = T0;
    let state = initialExpiry(now, policy);
    const created = state;
    let latestActivity = now;
    let lastWrite = now;
    const violations: string[] = [];
    for (const step of steps) {
      now += step.delta;
      const status = expiryStatus(state, now);
      if (status !== 'valid') {
        // Once invalid, the manager deletes the record: the session is over.
        break;
      }
      if (now >= created.absoluteExpiresAt) violations.push(`valid at ${now} past the absolute limit`);
      if (policy.idleTimeoutMs !== null && step.kind === 'read' && now >= latestActivity + policy.idleTimeoutMs) {
        violations.push(`valid at ${now}, idle since ${latestActivity}`);
      }
      const before = state;
      if (step.kind === 'extend') {
        state = extendIdle(state, now, policy, step.byMs);
        lastWrite = now;
      } else if (needsTouch(state, now, policy)) {
        if (now - lastWrite < policy.touchIntervalMs) violations.push(`second write within ${now - lastWrite} ms`);
        state = slideIdle(state, now, policy);
        lastWrite = now;
      }
      if (step.kind === 'extend' && step.byMs !== undefined) {
        // An explicit extension is activity that may reach further than one idle timeout.
        latestActivity = Math.max(latestActivity, now + step.byMs - (policy.idleTimeoutMs ?? 0));
      }
      latestActivity = Math.max(latestActivity, now);
      if (state.absoluteExpiresAt !== created.absoluteExpiresAt) violations.push('absolute deadline moved');
      if (state.idleExpiresAt !== null && state.idleExpiresAt > state.absoluteExpiresAt) {
        violations.push('idle deadline past the absolute one');
      }
      if (before.idleExpiresAt !== null && state.idleExpiresAt !== null && state.idleExpiresAt < before.idleExpiresAt) {
        violations.push('idle deadline moved backwards');
      }
      if (state.lastSeenAt < before.lastSeenAt) violations.push('lastSeenAt moved backwards');
    }
    return violations;
  }

  it('C1/C2/C4/CL-03: never valid past the absolute limit or after the idle timeout since the last activity; touch writes at most once per interval; a clock stepping back never extends or shortens', () => {
    fc.assert(
      fc.property(policyArbitrary, fc.array(stepArbitrary, { maxLength: 60 }), (policy, steps) => {
        expect(simulate(policy, steps)).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('C2: activity every 5 min keeps an aal2 session valid until exactly 12 h, never longer', () => {
    let state = initialExpiry(T0, aal2);
    let now = T0;
    let writes = 0;
    while (now + 5 * MINUTE < T0 + 12 * HOUR) {
      now += 5 * MINUTE;
      expect(expiryStatus(state, now)).toBe('valid');
      if (needsTouch(state, now, aal2)) {
        state = slideIdle(state, now, aal2);
        writes++;
      }
    }
    // 143 reads; from 11:30 on the idle deadline already sits at the absolute one, so the last five
    // reads have nothing to move and write nothing.
    expect(writes).toBe(138);
    expect(expiryStatus(state, T0 + 12 * HOUR - 1)).toBe('valid');
    expect(expiryStatus(state, T0 + 12 * HOUR)).toBe('absolute_expired');
  });
});

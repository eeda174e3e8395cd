import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSessionError, policyPresets, type SessionPolicyOptions } from '../src/index.js';
import { DEFAULT_PRESET, MAX_DEFAULT_TOUCH_INTERVAL_MS, resolvePolicy } from '../src/policy.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function configError(options: Parameters<typeof resolvePolicy>[0]): unknown {
  try {
    resolvePolicy(options);
    return null;
  } catch (error) {
    return error;
  }
}

describe('policyPresets', () => {
  it('C1/C2: hold the NIST SP 800-63B-4 based values (aal2 also meets Rev. 3)', () => {
    expect(policyPresets).toEqual({
      aal1: { idleTimeoutMs: 7 * DAY, absoluteTimeoutMs: 30 * DAY },
      aal2: { idleTimeoutMs: 30 * MINUTE, absoluteTimeoutMs: 12 * HOUR },
      aal3: { idleTimeoutMs: 15 * MINUTE, absoluteTimeoutMs: 12 * HOUR },
    });
    expect(DEFAULT_PRESET).toBe('aal2');
  });

  it('are frozen', () => {
    expect(Object.isFrozen(policyPresets)).toBe(true);
    expect(Object.isFrozen(policyPresets.aal2)).toBe(true);
  });
});

describe('resolvePolicy', () => {
  it('C1/C2/C4: defaults to aal2: idle 30 min, absolute 12 h, touch every 5 min, non-persistent lifetime 12 h', () => {
    expect(resolvePolicy(undefined)).toEqual({
      preset: 'aal2',
      idleTimeoutMs: 30 * MINUTE,
      absoluteTimeoutMs: 12 * HOUR,
      touchIntervalMs: 5 * MINUTE,
      persistentAbsoluteTimeoutMs: 12 * HOUR,
    });
    expect(resolvePolicy({})).toEqual(resolvePolicy('aal2'));
  });

  it('C4: the default touch interval is min(5 min, idle / 6)', () => {
    expect(resolvePolicy('aal3').touchIntervalMs).toBe(150_000);
    expect(resolvePolicy('aal1').touchIntervalMs).toBe(MAX_DEFAULT_TOUCH_INTERVAL_MS);
    expect(resolvePolicy({ idleTimeoutMs: 60_000, absoluteTimeoutMs: HOUR }).touchIntervalMs).toBe(10_000);
    expect(resolvePolicy({ preset: 'aal1', idleTimeoutMs: null, absoluteTimeoutMs: 6 * MINUTE }).touchIntervalMs).toBe(
      MINUTE,
    );
  });

  it('takes a preset by name or with overrides, and marks overridden policies as custom', () => {
    expect(resolvePolicy('aal3')).toMatchObject({ preset: 'aal3', idleTimeoutMs: 15 * MINUTE });
    expect(resolvePolicy({ preset: 'aal1' }).preset).toBe('aal1');
    const custom = resolvePolicy({ preset: 'aal3', idleTimeoutMs: 5 * MINUTE });
    expect(custom).toMatchObject({ preset: 'custom', idleTimeoutMs: 5 * MINUTE, absoluteTimeoutMs: 12 * HOUR });
    expect(resolvePolicy({ persistentAbsoluteTimeoutMs: 30 * DAY })).toMatchObject({
      preset: 'custom',
      absoluteTimeoutMs: 12 * HOUR,
      persistentAbsoluteTimeoutMs: 30 * DAY,
    });
  });

  it('allows no idle timeout and a touch interval of 0 (write on every read) when asked', () => {
    expect(resolvePolicy({ preset: 'aal1', idleTimeoutMs: null }).idleTimeoutMs).toBeNull();
    expect(resolvePolicy({ touchIntervalMs: 0 }).touchIntervalMs).toBe(0);
  });

  it('item 19: no idle timeout (idleTimeoutMs: null) is allowed at AAL1 only', () => {
    expect(resolvePolicy({ preset: 'aal1', idleTimeoutMs: null }).idleTimeoutMs).toBeNull();
    for (const options of [
      { preset: 'aal2', idleTimeoutMs: null },
      { preset: 'aal3', idleTimeoutMs: null },
      // No preset means the default, aal2.
      { idleTimeoutMs: null },
      { idleTimeoutMs: null, absoluteTimeoutMs: 6 * MINUTE },
    ] satisfies SessionPolicyOptions[]) {
      expect(isSessionError(configError(options), 'CONFIG_INVALID'), JSON.stringify(options)).toBe(true);
    }
  });

  it('item 19: persistentAbsoluteTimeoutMs is capped at 400 days, the browser cookie cap', () => {
    expect(resolvePolicy({ persistentAbsoluteTimeoutMs: 400 * DAY }).persistentAbsoluteTimeoutMs).toBe(400 * DAY);
    expect(resolvePolicy({ preset: 'aal1', idleTimeoutMs: null, absoluteTimeoutMs: 400 * DAY })).toMatchObject({
      absoluteTimeoutMs: 400 * DAY,
      persistentAbsoluteTimeoutMs: 400 * DAY,
    });
    for (const options of [
      { persistentAbsoluteTimeoutMs: 400 * DAY + 1 },
      { persistentAbsoluteTimeoutMs: 500 * DAY },
      { persistentAbsoluteTimeoutMs: Number.MAX_SAFE_INTEGER },
      // The default persistent lifetime is the absolute one, so that is capped too.
      { preset: 'aal1', absoluteTimeoutMs: 401 * DAY },
    ] satisfies SessionPolicyOptions[]) {
      expect(isSessionError(configError(options), 'CONFIG_INVALID'), JSON.stringify(options)).toBe(true);
    }
  });

  it('returns a frozen object', () => {
    expect(Object.isFrozen(resolvePolicy('aal2'))).toBe(true);
  });

  it('refuses contradictory or invalid values with CONFIG_INVALID', () => {
    const invalid: unknown[] = [
      { preset: 'aal4' },
      { preset: 'toString' },
      'constructor',
      { absoluteTimeoutMs: 0 },
      { absoluteTimeoutMs: -1 },
      { absoluteTimeoutMs: 1.5 },
      { absoluteTimeoutMs: Number.NaN },
      { absoluteTimeoutMs: Number.POSITIVE_INFINITY },
      { idleTimeoutMs: 0 },
      { idleTimeoutMs: 13 * HOUR },
      { touchIntervalMs: 30 * MINUTE },
      { touchIntervalMs: -1 },
      { touchIntervalMs: Number.NaN },
      { persistentAbsoluteTimeoutMs: 0 },
    ];
    for (const options of invalid) {
      expect(
        isSessionError(configError(options as SessionPolicyOptions), 'CONFIG_INVALID'),
        JSON.stringify(options),
      ).toBe(true);
    }
  });

  it('every accepted policy is coherent: touch < idle <= absolute (property)', () => {
    const duration = fc.integer({ min: 1, max: 400 * DAY });
    fc.assert(
      fc.property(
        fc.record(
          {
            preset: fc.constantFrom('aal1' as const, 'aal2' as const, 'aal3' as const),
            idleTimeoutMs: fc.oneof(duration, fc.constant(null)),
            absoluteTimeoutMs: duration,
            touchIntervalMs: fc.integer({ min: -10, max: 400 * DAY }),
          },
          { requiredKeys: [] },
        ),
        (options) => {
          let policy: ReturnType<typeof resolvePolicy>;
          try {
            policy = resolvePolicy(options);
          } catch (error) {
            expect(isSessionError(error, 'CONFIG_INVALID')).toBe(true);
            return;
          }
          const base = policy.idleTimeoutMs ?? policy.absoluteTimeoutMs;
          expect(policy.touchIntervalMs).toBeGreaterThanOrEqual(0);
          expect(policy.touchIntervalMs).toBeLessThan(base);
          expect(base).toBeLessThanOrEqual(policy.absoluteTimeoutMs);
        },
      ),
    );
  });
});

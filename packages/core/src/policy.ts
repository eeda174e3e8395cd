import { SessionError } from './errors.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Browsers cap cookie lifetimes at 400 days (RFC 6265bis section 5.5). */
export const MAX_COOKIE_LIFETIME_SECONDS = 400 * 24 * 60 * 60;
/**
 * Longest `persistentAbsoluteTimeoutMs`: the 400 days a browser keeps a cookie. A session the
 * server honoured for longer would outlive the cookie of its own browser, and live on only for
 * someone who copied the token.
 */
const MAX_PERSISTENT_ABSOLUTE_TIMEOUT_MS = MAX_COOKIE_LIFETIME_SECONDS * 1000;

/** Timeouts of one session policy, all in milliseconds. */
export interface SessionPolicy {
  /** Preset this policy started from, for logs and docs. */
  readonly preset: PolicyPresetName | 'custom';
  /** Inactivity timeout; `null` disables it (allowed at AAL1 only). */
  readonly idleTimeoutMs: number | null;
  /** Lifetime from authentication; activity never extends it. */
  readonly absoluteTimeoutMs: number;
  /**
   * Minimum time between two store writes caused by plain reads ("touches"). The effective idle
   * timeout is therefore up to one touch interval shorter than `idleTimeoutMs`.
   */
  readonly touchIntervalMs: number;
  /**
   * Lifetime of "remember me" (persistent) sessions; defaults to `absoluteTimeoutMs`. At most 400
   * days, the longest a browser keeps a cookie (`MAX_COOKIE_LIFETIME_SECONDS`).
   */
  readonly persistentAbsoluteTimeoutMs: number;
}

export type PolicyPresetName = 'aal1' | 'aal2' | 'aal3';

export interface SessionPolicyOptions {
  /** NIST AAL preset the other fields start from (see {@link policyPresets}). Default `aal2`. */
  preset?: PolicyPresetName;
  /**
   * Inactivity timeout in milliseconds. Default: the preset's (7 days for `aal1`, 30 min for
   * `aal2`, 15 min for `aal3`); `null` disables it, allowed with `aal1` only.
   */
  idleTimeoutMs?: number | null;
  /** Lifetime from authentication in milliseconds. Default: the preset's (30 days for `aal1`, 12 h otherwise). */
  absoluteTimeoutMs?: number;
  /**
   * Minimum time in milliseconds between two store writes caused by plain reads. Default: a sixth
   * of the idle timeout (of the absolute one without idle timeout), at most 5 minutes. Must be
   * shorter than the idle timeout.
   */
  touchIntervalMs?: number;
  /** Lifetime of "remember me" sessions in milliseconds. Default `absoluteTimeoutMs`; at most 400 days. */
  persistentAbsoluteTimeoutMs?: number;
}

/**
 * Presets from NIST SP 800-63B-4 sections 2.1.3, 2.2.3 and 2.3.3 (and Rev. 3 for AAL2, which is
 * stricter). Documented in docs/policy.md; a test keeps that table equal to these values.
 *
 * | preset | idle   | absolute | source                                               |
 * |--------|--------|----------|------------------------------------------------------|
 * | aal1   | 7 days | 30 days  | 63B-4 2.1.3: overall SHOULD be <= 30 days, idle MAY  |
 * | aal2   | 30 min | 12 h     | 63B-4 2.2.3 (<= 24 h, idle <= 1 h); Rev. 3 (12 h, 30 min) |
 * | aal3   | 15 min | 12 h     | 63B-4 2.3.3: overall SHALL be <= 12 h, idle SHOULD be <= 15 min |
 */
export const policyPresets: Readonly<
  Record<PolicyPresetName, { idleTimeoutMs: number | null; absoluteTimeoutMs: number }>
> = Object.freeze({
  aal1: Object.freeze({ idleTimeoutMs: 7 * DAY, absoluteTimeoutMs: 30 * DAY }),
  aal2: Object.freeze({ idleTimeoutMs: 30 * MINUTE, absoluteTimeoutMs: 12 * HOUR }),
  aal3: Object.freeze({ idleTimeoutMs: 15 * MINUTE, absoluteTimeoutMs: 12 * HOUR }),
});

export const DEFAULT_PRESET: PolicyPresetName = 'aal2';
/** Upper bound of the default touch interval. */
export const MAX_DEFAULT_TOUCH_INTERVAL_MS = 5 * MINUTE;

/**
 * Builds a validated policy from a preset name or options. Throws `CONFIG_INVALID` for
 * non-positive or non-finite durations, an idle timeout longer than the absolute one, no idle
 * timeout (`null`) on a preset other than `aal1`, a touch interval not shorter than the idle
 * timeout, or a persistent lifetime over 400 days.
 *
 * @example
 * ```ts
 * resolvePolicy('aal3')
 * resolvePolicy({ preset: 'aal2', idleTimeoutMs: 10 * 60_000 })
 * ```
 */
export function resolvePolicy(input: PolicyPresetName | SessionPolicyOptions | undefined): SessionPolicy {
  const options: SessionPolicyOptions = typeof input === 'string' ? { preset: input } : (input ?? {});
  const presetName = options.preset ?? DEFAULT_PRESET;
  // hasOwn: a name such as "toString" must not reach the prototype.
  const preset = Object.hasOwn(policyPresets, presetName) ? policyPresets[presetName] : undefined;
  if (!preset) throw new SessionError('CONFIG_INVALID', `Unknown policy preset "${String(presetName)}"`);
  const customised =
    options.idleTimeoutMs !== undefined ||
    options.absoluteTimeoutMs !== undefined ||
    options.touchIntervalMs !== undefined ||
    options.persistentAbsoluteTimeoutMs !== undefined;

  const idle = options.idleTimeoutMs === undefined ? preset.idleTimeoutMs : options.idleTimeoutMs;
  const absolute = options.absoluteTimeoutMs ?? preset.absoluteTimeoutMs;
  assertDuration('absoluteTimeoutMs', absolute);
  if (idle === null) {
    // 63B-4 leaves the inactivity timeout optional (MAY) at AAL1 only (2.1.3); AAL2 and AAL3 set one.
    if (presetName !== 'aal1') {
      throw new SessionError(
        'CONFIG_INVALID',
        'idleTimeoutMs: null (no idle timeout) is allowed with preset aal1 only',
      );
    }
  } else {
    assertDuration('idleTimeoutMs', idle);
    if (idle > absolute) throw new SessionError('CONFIG_INVALID', 'idleTimeoutMs must not exceed absoluteTimeoutMs');
  }
  const base = idle ?? absolute;
  const touch = options.touchIntervalMs ?? Math.min(MAX_DEFAULT_TOUCH_INTERVAL_MS, Math.floor(base / 6));
  if (!Number.isFinite(touch) || touch < 0 || touch >= base) {
    throw new SessionError('CONFIG_INVALID', 'touchIntervalMs must be >= 0 and shorter than the idle timeout');
  }
  const persistent = options.persistentAbsoluteTimeoutMs ?? absolute;
  assertDuration('persistentAbsoluteTimeoutMs', persistent);
  if (persistent > MAX_PERSISTENT_ABSOLUTE_TIMEOUT_MS) {
    throw new SessionError(
      'CONFIG_INVALID',
      'persistentAbsoluteTimeoutMs (default: absoluteTimeoutMs) must not exceed 400 days, the longest a browser keeps a cookie',
    );
  }

  return Object.freeze({
    preset: customised ? 'custom' : presetName,
    idleTimeoutMs: idle,
    absoluteTimeoutMs: absolute,
    touchIntervalMs: touch,
    persistentAbsoluteTimeoutMs: persistent,
  });
}

function assertDuration(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || !Number.isInteger(value)) {
    throw new SessionError('CONFIG_INVALID', `${name} must be a positive integer number of milliseconds`);
  }
}

/**
 * C5 (ASVS 7.1.1): the presets table in docs/policy.md documents exactly the exported constants.
 * Node-only because it reads the file from disk.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isSessionError, type PolicyPresetName, policyPresets, type SessionPolicyOptions } from '../src/index.js';
import { resolvePolicy } from '../src/policy.js';

const policyDoc = readFileSync(fileURLToPath(new URL('../../../docs/policy.md', import.meta.url)), 'utf8');

const unitMs: Record<string, number> = { days: 86_400_000, day: 86_400_000, h: 3_600_000, min: 60_000, s: 1000 };

/** "2 min 30 s" -> 150000; "off" -> null. */
function parseDuration(text: string): number | null {
  if (text.trim() === 'off') return null;
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)\s*(days|day|h|min|s)\b/g)];
  expect(parts.length, `duration "${text}"`).toBeGreaterThan(0);
  expect(parts.map((p) => p[0]).join(' '), `duration "${text}"`).toBe(text.trim());
  return parts.reduce((sum, [, amount, unit]) => sum + Number(amount) * (unitMs[unit as string] as number), 0);
}

function presetRows() {
  const section = policyDoc.split('\n## Presets')[1]?.split('\n## ')[0] ?? '';
  return section
    .split('\n')
    .filter((line) => /^\| `aal\d`/.test(line))
    .map((line) => {
      const cells = line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim());
      const name = /`(aal\d)`/.exec(cells[0] as string)?.[1] as PolicyPresetName;
      return {
        name,
        isDefault: (cells[0] as string).includes('(default)'),
        idleTimeoutMs: parseDuration(cells[1] as string),
        absoluteTimeoutMs: parseDuration(cells[2] as string),
        touchIntervalMs: parseDuration(cells[3] as string),
        justification: cells[4] as string,
      };
    });
}

/** Whether resolvePolicy accepts the options; any refusal must be CONFIG_INVALID. */
function accepts(options: SessionPolicyOptions): boolean {
  try {
    resolvePolicy(options);
    return true;
  } catch (error) {
    expect(isSessionError(error, 'CONFIG_INVALID')).toBe(true);
    return false;
  }
}

describe('docs/policy.md', () => {
  it('C5: the presets table equals the exported policyPresets, default and touch intervals included', () => {
    const rows = presetRows();
    expect(rows.map((r) => r.name).sort()).toEqual(Object.keys(policyPresets).sort());
    for (const row of rows) {
      const preset = policyPresets[row.name];
      expect({ idle: row.idleTimeoutMs, absolute: row.absoluteTimeoutMs }, row.name).toEqual({
        idle: preset.idleTimeoutMs,
        absolute: preset.absoluteTimeoutMs,
      });
      expect(row.touchIntervalMs, row.name).toBe(resolvePolicy(row.name).touchIntervalMs);
      expect(row.justification, row.name).toMatch(/§2\.\d\.3/);
    }
    expect(rows.filter((r) => r.isDefault).map((r) => r.name)).toEqual([resolvePolicy(undefined).preset]);
  });

  it('C4/E6: documents the shorter effective idle timeout, the session limit, freshness skew and fail-closed behaviour', () => {
    expect(policyDoc).toContain('effective idle timeout is up to one touch interval shorter');
    expect(policyDoc).toMatch(/## Concurrent sessions per user \(E6\)[\s\S]*evict-oldest[\s\S]*SESSION_LIMIT_REACHED/);
    expect(policyDoc).toMatch(/FRESHNESS_SKEW_MS` \(60 s\)/);
    const failure = policyDoc.split('## Failure: fail closed')[1] ?? '';
    expect(failure).toContain('never retried');
    expect(failure).toContain('`STORE_UNAVAILABLE` error (HTTP 503)');
    expect(failure).toContain('CRYPTO_UNAVAILABLE');
  });

  it('item 19: the rules name the presets that may go without an idle timeout and the persistent cap, as enforced', () => {
    const rules = policyDoc.split('Rules every policy must satisfy')[1]?.split('\n## ')[0] ?? '';
    const idleOff = /no idle timeout \(`idleTimeoutMs: null`\) only with preset ((?:`aal\d`(?:, | and | or )?)+)/.exec(
      rules,
    );
    expect(idleOff, 'the idle-timeout rule').not.toBeNull();
    const documented = [...(idleOff?.[1] ?? '').matchAll(/`(aal\d)`/g)].map((m) => m[1]);
    for (const preset of Object.keys(policyPresets) as PolicyPresetName[]) {
      const accepted = accepts({ preset, idleTimeoutMs: null });
      expect(accepted, `idleTimeoutMs: null with ${preset}`).toBe(documented.includes(preset));
    }
    const cap = /`persistentAbsoluteTimeoutMs`[^;]*? at most (\d+) days/.exec(rules);
    expect(cap, 'the persistent cap').not.toBeNull();
    const capMs = Number(cap?.[1]) * (unitMs.days as number);
    expect(accepts({ persistentAbsoluteTimeoutMs: capMs })).toBe(true);
    expect(accepts({ persistentAbsoluteTimeoutMs: capMs + 1 })).toBe(false);
  });

  it('parses durations the way the table writes them', () => {
    expect(parseDuration('2 min 30 s')).toBe(150_000);
    expect(parseDuration('7 days')).toBe(7 * 86_400_000);
    expect(parseDuration('12 h')).toBe(43_200_000);
    expect(parseDuration('off')).toBeNull();
  });
});

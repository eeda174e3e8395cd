// The levelling-off check of the memory audit: the halfway-to-after heap growth counts only once the
// halfway sample is past the warm-up, and then a server still growing fails the phase.
import { describe, expect, it } from 'vitest';
import type { MemorySample, PhaseResult } from '../src/phase.js';
import { type MemoryBounds, memoryProblems, settledCheckApplies } from '../src/report.js';

const MB = 2 ** 20;
const BOUNDS: MemoryBounds = {
  heapGrowthPerServer: 24 * MB,
  redisGrowth: 32 * MB,
  settledGrowthPerServer: 4 * MB,
  settledAfterMs: 120_000,
};

const heap = (...mbs: number[]): MemorySample[] => mbs.map((m) => ({ heapUsed: m * MB, rss: 4 * m * MB }));

/** Only the memory fields the audit reads; the rest of a phase's result plays no part here. */
function phase(before: number[], middle: number[], after: number[], middleAtMs: number): PhaseResult {
  return {
    memoryBefore: heap(...before),
    memoryMiddle: heap(...middle),
    memoryAfter: heap(...after),
    memoryMiddleAtMs: middleAtMs,
    redis: null,
  } as unknown as PhaseResult;
}

describe('memory audit: levelling-off', () => {
  it('passes a heap that grew during warm-up and is level from halfway on', () => {
    // The shape of the 300 s Redis run: ~15 MB once warm, ~28 MB from 90 s on.
    const result = phase([15, 15], [28.5, 30.2], [28.3, 30.6], 150_000);
    expect(settledCheckApplies(result, BOUNDS)).toBe(true);
    expect(memoryProblems(result, BOUNDS)).toEqual([]);
  });

  it('fails a server whose heap still grows from halfway to the end, within the overall bound', () => {
    const result = phase([15, 15], [24, 25], [24.5, 31], 150_000);
    expect(memoryProblems(result, BOUNDS)).toEqual([
      'server 1: heap still grew 6.0 MB from halfway to after (not level)',
    ]);
  });

  it('does not judge the levelling-off when the halfway sample is still in the warm-up', () => {
    const result = phase([15], [22], [28], 60_000);
    expect(settledCheckApplies(result, BOUNDS)).toBe(false);
    expect(memoryProblems(result, BOUNDS)).toEqual([]);
    // Without the settled bounds (the CI variant's), never.
    const ci: MemoryBounds = { heapGrowthPerServer: 16 * MB, redisGrowth: 32 * MB };
    expect(settledCheckApplies(phase([15], [22], [28], 150_000), ci)).toBe(false);
  });

  it('treats a missing sample as not level', () => {
    const result = phase([15], [28], [Number.NaN], 150_000);
    expect(memoryProblems(result, BOUNDS)).toEqual([
      'server 0: heap grew NaN MB',
      'server 0: heap still grew NaN MB from halfway to after (not level)',
    ]);
  });
});

// The soak's one table: a column per phase, a row per count; fault rows under their phase.
import type { MemorySample, PhaseResult } from './phase.js';

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)}`;
const sum = (samples: MemorySample[], key: keyof MemorySample) => samples.reduce((n, s) => n + s[key], 0);

/** The counts that must all be 0, per phase: what the CI variant asserts. */
export function violations(phase: PhaseResult) {
  const c = phase.counters;
  return {
    lost:
      c.lostDuringLoad +
      phase.lostAtAudit +
      phase.familiesLostAtAudit +
      phase.faults.reduce((n, f) => n + f.sessionsLost, 0),
    forged: c.forgedAccepted,
    forked: c.forked + phase.familiesForkedAtAudit + c.replayAccepted,
    revokedAccepted: c.revokedAccepted + phase.revokedLiveAtAudit,
    wronglyAllowed: phase.faults.reduce((n, f) => n + f.wronglyAllowed, 0),
    deletionCookies: c.wrongDeletions + phase.faults.reduce((n, f) => n + f.deletionCookies, 0),
    graceRefused: c.graceRefused,
  };
}

/** Heap growth over the load, summed over the phase's servers, after a full GC (bytes). */
export function heapGrowth(phase: PhaseResult): number {
  return sum(phase.memoryAfter, 'heapUsed') - sum(phase.memoryBefore, 'heapUsed');
}

/** How much memory may grow over a phase and still count as flat. */
export interface MemoryBounds {
  /** Heap after GC, after the load minus once warm, on any one server (bytes). */
  heapGrowthPerServer: number;
  /** The dedicated Redis's `used_memory` after the load (expiring sessions gone) minus once warm (bytes). */
  redisGrowth: number;
  /**
   * Heap after GC, after the load minus halfway through it, on any one server (bytes): the
   * levelling-off. Checked only when the halfway sample came `settledAfterMs` or later after the load
   * started; absent, never checked.
   */
  settledGrowthPerServer?: number;
  /**
   * How long the load runs before the servers' bounded caches are full and the heap has levelled
   * off (ms); a halfway sample taken earlier still measures warm-up, not a leak.
   */
  settledAfterMs?: number;
}

/**
 * The full soak's bounds. Each server keeps bounded caches that fill with the session ids and
 * tokens it sees (the Redis store's 8192 hints, the JWT verification cache's 10,000 entries): the
 * heap grows until they are full (about 90 s of a 300-client load on 2 cores) and then stays level.
 * The halfway-to-after bound is what shows the level: a leak of 200 bytes per request, at the
 * ~250 requests/s one server answers, would add 6 MB in two minutes.
 */
export const MEMORY_BOUNDS: MemoryBounds = {
  heapGrowthPerServer: 24 * 2 ** 20,
  redisGrowth: 32 * 2 ** 20,
  settledGrowthPerServer: 4 * 2 ** 20,
  settledAfterMs: 120_000,
};

/** Whether the phase's halfway sample came late enough for `bounds` to check the levelling-off. */
export function settledCheckApplies(phase: PhaseResult, bounds: MemoryBounds): boolean {
  return (
    bounds.settledGrowthPerServer !== undefined &&
    bounds.settledAfterMs !== undefined &&
    phase.memoryMiddleAtMs >= bounds.settledAfterMs
  );
}

/** Per server: heap after GC after the load minus halfway through it (bytes). */
export function settledGrowths(phase: PhaseResult): number[] {
  return phase.memoryAfter.map((after, i) => after.heapUsed - (phase.memoryMiddle[i]?.heapUsed ?? Number.NaN));
}

/** Why a phase's memory is not flat by `bounds`: empty when it is. */
export function memoryProblems(phase: PhaseResult, bounds: MemoryBounds): string[] {
  const problems: string[] = [];
  for (const [i, after] of phase.memoryAfter.entries()) {
    const growth = after.heapUsed - (phase.memoryBefore[i]?.heapUsed ?? Number.NaN);
    // NaN (a server that never answered the sample) fails too: unknown is not flat.
    if (!(growth < bounds.heapGrowthPerServer)) problems.push(`server ${i}: heap grew ${mb(growth)} MB`);
  }
  if (settledCheckApplies(phase, bounds)) {
    for (const [i, growth] of settledGrowths(phase).entries()) {
      if (!(growth < (bounds.settledGrowthPerServer as number))) {
        problems.push(`server ${i}: heap still grew ${mb(growth)} MB from halfway to after (not level)`);
      }
    }
  }
  const redis = phase.redis;
  if (redis) {
    const growth = redis.usedMemoryAfter - redis.usedMemoryBefore;
    if (!(growth < bounds.redisGrowth)) problems.push(`Redis used_memory grew ${mb(growth)} MB`);
    if (redis.expiringKeysLeft !== 0) problems.push(`${redis.expiringKeysLeft} keys of expired sessions left in Redis`);
  }
  return problems;
}

export function renderTable(phases: PhaseResult[]): string {
  const rows: [string, ...string[]][] = [];
  const add = (label: string, cell: (p: PhaseResult) => string) => rows.push([label, ...phases.map(cell)]);
  add('servers', (p) => p.servers);
  add('requests under load', (p) => String(p.counters.requests));
  add('  200 / 401-403 / 5xx / no answer', (p) => {
    const c = p.counters;
    return `${c.ok} / ${c.refused} / ${c.unavailable} / ${c.networkErrors}`;
  });
  add('sessions audited (ledger vs store)', (p) => String(p.sessionsAudited));
  add('refresh families audited', (p) => String(p.familiesAudited));
  add('sessions lost', (p) => String(violations(p).lost));
  add('forged accepted', (p) => String(violations(p).forged));
  add('refresh families forked', (p) => String(violations(p).forked));
  add('revoked but accepted', (p) => String(violations(p).revokedAccepted));
  add('wrongly allowed during faults', (p) => String(violations(p).wronglyAllowed));
  add('deletion cookies from an outage', (p) => String(violations(p).deletionCookies));
  add('grace duplicates refused', (p) => String(violations(p).graceRefused));
  add('hybrid JWT reads after revoke, inside the JWT TTL (known window)', (p) =>
    String(p.counters.hybridWindowAccepted),
  );
  add('outcomes unknown (mutations cut by a fault, left out)', (p) => String(p.counters.uncertain));
  add('heap MB warm -> halfway -> after (after GC, all servers)', (p) =>
    [p.memoryBefore, p.memoryMiddle, p.memoryAfter].map((m) => mb(sum(m, 'heapUsed'))).join(' -> '),
  );
  add(`heap growth MB, largest of one server (bound ${MEMORY_BOUNDS.heapGrowthPerServer / 2 ** 20} MB)`, (p) => {
    const growths = p.memoryAfter.map((after, i) => after.heapUsed - (p.memoryBefore[i]?.heapUsed ?? Number.NaN));
    return mb(Math.max(...growths));
  });
  add(
    `heap growth MB halfway -> after, largest of one server (bound ${(MEMORY_BOUNDS.settledGrowthPerServer ?? 0) / 2 ** 20} MB once past ${(MEMORY_BOUNDS.settledAfterMs ?? 0) / 1000} s)`,
    (p) => {
      const growth = mb(Math.max(...settledGrowths(p)));
      const at = `halfway at ${(p.memoryMiddleAtMs / 1000).toFixed(0)} s`;
      return settledCheckApplies(p, MEMORY_BOUNDS) ? `${growth} (${at})` : `${growth} (${at}: warm-up, not checked)`;
    },
  );
  add('RSS MB warm -> halfway -> after', (p) =>
    [p.memoryBefore, p.memoryMiddle, p.memoryAfter].map((m) => mb(sum(m, 'rss'))).join(' -> '),
  );
  add(
    `Redis used_memory MB warm -> after, expired keys gone (growth bound ${MEMORY_BOUNDS.redisGrowth / 2 ** 20} MB)`,
    (p) => (p.redis ? `${mb(p.redis.usedMemoryBefore)} -> ${mb(p.redis.usedMemoryAfter)}` : '-'),
  );
  add('Redis keys warm -> after; keys of expiring sessions at most -> left once expired', (p) =>
    p.redis
      ? `${p.redis.keysBefore} -> ${p.redis.keysAfter}; ${p.redis.expiringKeysMax} -> ${p.redis.expiringKeysLeft}`
      : '-',
  );
  add('Redis keys after, by kind: sessions / refresh families / rotation marks / user indexes / epochs', (p) => {
    const kinds = p.redis?.keysByKind;
    if (!kinds) return '-';
    const named = ['s', 'rf', 't', 'u', 'ue'];
    const others = Object.entries(kinds).filter(([kind]) => !named.includes(kind));
    return [
      ...named.map((kind) => String(kinds[kind] ?? 0)),
      ...others.map(([kind, n]) => `${kind || '?'}: ${n}`),
    ].join(' / ');
  });
  add('expiring sessions created / swept / sweeps skipped (lock held elsewhere)', (p) => {
    if (!p.sweep) return '-';
    // On Redis the TTLs sweep: what is left shows in the row above.
    return p.redis ? `${p.sweep.churned} / by TTL / -` : `${p.sweep.churned} / ${p.sweep.swept} / ${p.sweep.skipped}`;
  });
  add('sweeper: sessions table rows at start / max / end', (p) =>
    p.sweep && !p.redis ? `${p.sweep.rowsAtStart} / ${p.sweep.rowsMax} / ${p.sweep.rowsAtEnd}` : '-',
  );
  const faultNames = [...new Set(phases.flatMap((p) => p.faults.map((f) => f.name)))];
  for (const name of faultNames) {
    add(`fault ${name}: failed closed / wrongly allowed / lost of checked / recovered in`, (p) => {
      const f = p.faults.find((x) => x.name === name);
      if (!f) return '-';
      const recovered = f.recoverMs === null ? 'never' : `${f.recoverMs} ms`;
      return `${f.failedClosed} / ${f.wronglyAllowed} / ${f.sessionsLost} of ${f.sessionsChecked} / ${recovered}`;
    });
  }
  const header = ['', ...phases.map((p) => p.name)];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/**
 * A small benchmark harness: each case runs in batches after a warm-up, and the median of the
 * per-batch cost is reported. Every result is consumed, so the JIT cannot drop the work.
 */
export interface BenchResult {
  name: string;
  opsPerSec: number;
  /** Median nanoseconds per operation across batches. */
  nsPerOp: number;
  p99NsPerOp: number;
  batches: number;
  note?: string;
}

export interface BenchOptions {
  warmupMs?: number;
  timeMs?: number;
  /** Target duration of one batch. */
  batchMs?: number;
  /**
   * What a batch is timed with: `wall` (default) or `cpu`, this process's CPU time, which time
   * spent descheduled does not inflate (for synchronous work on a machine shared with others).
   */
  clock?: 'wall' | 'cpu';
}

/** This process's CPU time (user + system) in ms. */
function cpuNow(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}
const wallNow = () => performance.now();

let sink: unknown;
export function consume(value: unknown): void {
  sink = value;
}
export function lastSink(): unknown {
  return sink;
}

/** Measures a synchronous or asynchronous operation. */
export async function bench(
  name: string,
  fn: () => unknown | Promise<unknown>,
  options: BenchOptions = {},
): Promise<BenchResult> {
  const warmupMs = options.warmupMs ?? 300;
  const timeMs = options.timeMs ?? 1000;
  const batchMs = options.batchMs ?? 2;
  const now = options.clock === 'cpu' ? cpuNow : wallNow;
  const first = fn();
  const isAsync = first instanceof Promise;
  consume(await first);
  const run = async (n: number) => {
    if (isAsync) for (let i = 0; i < n; i++) consume(await fn());
    else for (let i = 0; i < n; i++) consume(fn());
  };
  // Calibrate the batch size so that one batch takes about batchMs.
  let size = 1;
  const warmEnd = performance.now() + warmupMs;
  while (performance.now() < warmEnd) {
    const t0 = now();
    await run(size);
    const dt = now() - t0;
    if (dt < batchMs) size = Math.min(size * 2, 1_000_000);
  }
  const samples: number[] = [];
  const end = performance.now() + timeMs;
  while (performance.now() < end) {
    const t0 = now();
    await run(size);
    samples.push(((now() - t0) * 1e6) / size);
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)] ?? Number.NaN;
  const p99 = samples[Math.min(samples.length - 1, Math.floor(samples.length * 0.99))] ?? Number.NaN;
  return { name, opsPerSec: 1e9 / median, nsPerOp: median, p99NsPerOp: p99, batches: samples.length };
}

function formatNumber(n: number, digits = 0): string {
  return Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '-';
}

/**
 * Prints results as a Markdown table, and returns it with its title (for RESULTS.md); `baseline`
 * names the row the ratio column divides by.
 */
export function printTable(title: string, results: BenchResult[], baseline?: string): string {
  const base = baseline ? results.find((r) => r.name === baseline) : undefined;
  const rows = results.map((r) => [
    r.name,
    formatNumber(r.opsPerSec),
    formatNumber(r.nsPerOp / 1000, 2),
    formatNumber(r.p99NsPerOp / 1000, 2),
    base ? `${formatNumber(r.nsPerOp / base.nsPerOp, 2)}x` : '',
    r.note ?? '',
  ]);
  const header = ['case', 'ops/s', 'us/op (median)', 'us/op (p99)', base ? `cost vs ${base.name}` : '', 'note'];
  const widths = header.map((h, i) => Math.max(3, h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const text = [
    `### ${title}`,
    '',
    line(header),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...rows.map(line),
  ].join('\n');
  console.log(`\n${text}`);
  return text;
}

/** Prints a verdict line against a target, without failing the run (benchmarks inform, tests gate). */
export function printTarget(label: string, actual: number, limit: number, unit = 'x'): void {
  const ok = actual <= limit;
  console.log(`${ok ? 'MET ' : 'MISSED'} ${label}: ${formatNumber(actual, 2)}${unit} (target <= ${limit}${unit})`);
}

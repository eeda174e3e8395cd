/**
 * Turns benchmark figures into the files users read: the Markdown tables of bench/RESULTS.md and
 * the SVG chart bench/results.svg (CPU added per request, by framework). Pure functions of the
 * figures, so they are tested on fixed inputs (bench/test/report.test.ts).
 */

/** One case of the HTTP section, every figure a median over the rounds. */
export interface HttpRow {
  label: string;
  /** `floor`: the bare route (or an empty middleware); `ours`; `peer`. */
  role: 'floor' | 'ours' | 'peer';
  op: 'read' | 'write';
  rps?: number;
  /** Latency in ms. */
  p50?: number;
  p99?: number;
  /** Server CPU time per request, in microseconds. */
  cpuUs?: number;
  /** CPU per request added to the bare route of the same round, in microseconds. */
  addedUs?: number;
  /** The cheapest comparable peer of the run, and our added CPU divided by its. */
  bestPeer?: string;
  vsBestPeer?: number;
  /** Why the case has no figures. */
  skipped?: string;
}

export interface FrameworkResults {
  framework: string;
  title: string;
  subtitle: string;
  bareCpuUs: number;
  rows: HttpRow[];
}

export function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function fixed(value: number | undefined, digits: number): string {
  if (value === undefined || !Number.isFinite(value)) return '-';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function signed(value: number | undefined, digits: number): string {
  if (value === undefined || !Number.isFinite(value)) return '-';
  return `${value >= 0 ? '+' : ''}${fixed(value, digits)}`;
}

/** A Markdown table with aligned columns. */
export function markdownTable(header: string[], rows: string[][], numeric: boolean[] = []): string {
  const widths = header.map((h, i) => Math.max(3, h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const cell = (text: string, i: number) => (numeric[i] ? text.padStart(widths[i] ?? 0) : text.padEnd(widths[i] ?? 0));
  const line = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;
  // The separator row as Biome formats Markdown: `| --- |`, `| --: |` for numbers.
  const rule = `| ${widths.map((w, i) => (numeric[i] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** The HTTP table of one framework. */
export function httpTable(rows: HttpRow[]): string {
  const header = [
    'case',
    'req/s',
    'p50 ms',
    'p99 ms',
    'server CPU us/req',
    'added us/req vs bare',
    'x bare (by CPU)',
    'vs best peer (added CPU)',
  ];
  const bare = rows.find((r) => r.role === 'floor' && r.addedUs === 0)?.cpuUs;
  const body = rows.map((r) => {
    if (r.skipped !== undefined) return [r.label, '-', '-', '-', '-', '-', '-', `skipped: ${r.skipped}`];
    const share = bare !== undefined && r.cpuUs ? bare / r.cpuUs : Number.NaN;
    const versus = r.vsBestPeer !== undefined ? `${fixed(r.vsBestPeer, 2)}x ${r.bestPeer}` : '';
    return [
      r.label,
      fixed(r.rps, 0),
      fixed(r.p50, 0),
      fixed(r.p99, 0),
      fixed(r.cpuUs, 1),
      r.role === 'floor' && r.addedUs === 0 ? '' : signed(r.addedUs, 1),
      fixed(share, 2),
      versus,
    ];
  });
  return markdownTable(header, body, [false, true, true, true, true, true, true, false]);
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const COLORS = { ours: '#1f6feb', peer: '#8c959f', floor: '#d0d7de' } as const;

/**
 * A horizontal bar chart of the CPU each case adds to the bare route, one block per framework,
 * on one scale. Negative figures (noise below the floor) draw no bar but keep their number.
 */
export function resultsSvg(frameworks: FrameworkResults[], caption: string): string {
  const width = 960;
  const labelWidth = 360;
  const barArea = 500;
  const rowHeight = 20;
  const headerHeight = 30;
  const top = 56;
  const rows = frameworks.map((f) => f.rows.filter((r) => r.role !== 'floor' || r.addedUs !== 0));
  const max = Math.max(
    1,
    ...rows.flat().map((r) => (r.addedUs !== undefined && Number.isFinite(r.addedUs) ? r.addedUs : 0)),
  );
  const scale = barArea / max;
  const parts: string[] = [];
  let y = top;
  frameworks.forEach((f, i) => {
    parts.push(
      `<text x="10" y="${y + 20}" font-weight="bold" font-size="15">${escapeXml(f.title)} (bare route ${fixed(f.bareCpuUs, 1)} us/req)</text>`,
    );
    y += headerHeight;
    for (const r of rows[i] ?? []) {
      parts.push(`<text x="${labelWidth - 8}" y="${y + 14}" text-anchor="end">${escapeXml(r.label)}</text>`);
      if (r.addedUs === undefined || !Number.isFinite(r.addedUs)) {
        parts.push(`<text x="${labelWidth + 4}" y="${y + 14}" fill="#57606a">skipped</text>`);
      } else {
        const bar = Math.max(0, r.addedUs) * scale;
        parts.push(
          `<rect x="${labelWidth}" y="${y + 3}" width="${bar.toFixed(1)}" height="${rowHeight - 6}" fill="${COLORS[r.role]}"/>`,
          `<text x="${(labelWidth + bar + 6).toFixed(1)}" y="${y + 14}">${escapeXml(signed(r.addedUs, 1))} us</text>`,
        );
      }
      y += rowHeight;
    }
    y += 8;
  });
  const height = y + 30;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>Server CPU added per request vs the bare route, by framework</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="22" font-weight="bold" font-size="17">Server CPU added per request vs the bare route (us, lower is better)</text>`,
    `<text x="10" y="42" fill="#57606a">${escapeXml(caption)}</text>`,
    ...parts,
    `<rect x="10" y="${height - 22}" width="12" height="12" fill="${COLORS.ours}"/><text x="28" y="${height - 12}">ours</text>`,
    `<rect x="80" y="${height - 22}" width="12" height="12" fill="${COLORS.peer}"/><text x="98" y="${height - 12}">peers</text>`,
    `<rect x="150" y="${height - 22}" width="12" height="12" fill="${COLORS.floor}"/><text x="168" y="${height - 12}">framework floor</text>`,
    '</svg>',
    '',
  ].join('\n');
}

/** The summary table of RESULTS.md: CPU each of our cases adds, beside the best peer's, by framework. */
export function summaryTable(frameworks: FrameworkResults[]): string {
  const body: string[][] = [];
  for (const f of frameworks) {
    for (const r of f.rows) {
      if (r.role !== 'ours' || r.addedUs === undefined) continue;
      const peer = f.rows.find((p) => p.label === r.bestPeer);
      body.push([
        f.title,
        r.label,
        signed(r.addedUs, 1),
        peer ? `${peer.label} ${signed(peer.addedUs, 1)}` : '-',
        r.vsBestPeer !== undefined ? `${fixed(r.vsBestPeer, 2)}x` : '-',
      ]);
    }
  }
  return markdownTable(['framework', 'ours', 'added us/req', 'best peer (added us/req)', 'ours / best peer'], body, [
    false,
    false,
    true,
    false,
    true,
  ]);
}

/** What bench/RESULTS.md is made of: the machine, the HTTP section's frameworks, the other sections' Markdown. */
export interface ResultsInput {
  /** The Markdown list describing the machine, the versions and the command. */
  machine: string;
  /** A note on the run (BENCH_NOTE), printed under the machine. */
  note?: string;
  http?: { frameworks: FrameworkResults[]; markdown: string };
  /** Every other section that ran, by name, in the order it ran (footprint, core, ...). */
  sections: [string, string][];
}

/** The whole of bench/RESULTS.md (before Biome formats it). */
export function resultsMarkdown(input: ResultsInput): string {
  const parts = [
    '# Benchmark results',
    '',
    'Generated by the benchmark itself (`pnpm bench --write-results http footprint core`); every figure below',
    'comes from one run on the machine described here. Compare figures only within one run: the machine',
    'is shared and noisy, which is why the HTTP cases run in interleaved rounds and report medians.',
    '',
    '## Machine and versions',
    '',
    input.machine,
  ];
  if (input.note) parts.push('', input.note);
  if (input.http) {
    parts.push(
      '',
      '## CPU added per request, ours beside the best peer',
      '',
      '"added us/req" is the server CPU time per request above the bare route of the same round (median',
      'of the per-round differences); "ours / best peer" divides ours by the cheapest peer doing the same',
      'work (same operation; Redis against Redis, memory and sealed cookies against each other). On Next,',
      'no peer validates in proxy.ts: the row behind the proxy has no peer, and its floor is the row of the',
      'bare route behind an empty proxy.ts (in the Next table below). The bare route gets no cookie; the',
      "floor rows below it (an empty middleware, the bare route sent the hybrid row's cookies) show what",
      'one more layer and a ~620-byte session-JWT cookie cost the framework before any of our code runs.',
      '"ours, Redis" opens its store from a URL (an ioredis connection, the default); "ours, Redis',
      '(node-redis client)" is handed a node-redis client, the library connect-redis runs on here.',
      '',
      summaryTable(input.http.frameworks),
      '',
      '![CPU added per request, by framework](results.svg)',
      '',
      '## HTTP, every case',
      '',
      input.http.markdown,
    );
  }
  for (const [name, markdown] of input.sections) {
    if (name === 'http') continue;
    parts.push('', `## ${name}`, '', markdown);
  }
  return `${parts.join('\n')}\n`;
}

import { describe, expect, it } from 'vitest';
import { type FrameworkResults, httpTable, median, resultsMarkdown, resultsSvg, summaryTable } from '../report.ts';

const express: FrameworkResults = {
  framework: 'express',
  title: 'Express 5',
  subtitle: 'Express 5: fixed figures',
  bareCpuUs: 100,
  rows: [
    { label: 'bare route', role: 'floor', op: 'read', rps: 9000, p50: 1, p99: 3, cpuUs: 100, addedUs: 0 },
    {
      label: 'ours, memory',
      role: 'ours',
      op: 'read',
      rps: 8000,
      p50: 1,
      p99: 4,
      cpuUs: 120,
      addedUs: 20,
      bestPeer: 'express-session (memory)',
      vsBestPeer: 0.25,
    },
    { label: 'express-session (memory)', role: 'peer', op: 'read', rps: 5000, p50: 2, p99: 6, cpuUs: 180, addedUs: 80 },
    { label: 'ours, <Redis> & co', role: 'ours', op: 'read', rps: 7000, p50: 1, p99: 5, cpuUs: 140, addedUs: 40 },
    { label: 'noise below the floor', role: 'peer', op: 'read', rps: 9100, p50: 1, p99: 3, cpuUs: 98, addedUs: -2 },
    { label: 'iron-session (sealed cookie)', role: 'peer', op: 'read', skipped: 'not installed' },
  ],
};

describe('median', () => {
  it('takes the middle value, the mean of the two middle ones for an even count, and ignores NaN', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([Number.NaN, 5])).toBe(5);
    expect(median([])).toBeNaN();
  });
});

describe('httpTable', () => {
  it('prints every figure of every case in aligned columns, with the share of bare and the peer ratio', () => {
    const lines = httpTable(express.rows).split('\n');
    expect(lines).toHaveLength(2 + express.rows.length);
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
    const ours = lines.find((l) => l.startsWith('| ours, memory')) as string;
    const cells = ours.split('|').map((c) => c.trim());
    expect(cells.slice(1, 9)).toEqual([
      'ours, memory',
      '8,000',
      '1',
      '4',
      '120.0',
      '+20.0',
      '0.83',
      '0.25x express-session (memory)',
    ]);
    expect(lines.find((l) => l.startsWith('| noise'))).toContain('-2.0');
    expect(lines.find((l) => l.startsWith('| iron-session'))).toContain('skipped: not installed');
  });
});

describe('summaryTable', () => {
  it("lists each of our cases with its best peer's added CPU", () => {
    const text = summaryTable([express]);
    expect(text).toContain(
      '| Express 5 | ours, memory       |        +20.0 | express-session (memory) +80.0 |            0.25x |',
    );
    expect(text.split('\n')).toHaveLength(4);
  });
});

describe('resultsSvg', () => {
  const svg = resultsSvg([express], 'fixed figures & a caption');

  it('is one SVG document with every label, XML-escaped', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('ours, &lt;Redis&gt; &amp; co');
    expect(svg).toContain('fixed figures &amp; a caption');
    expect(svg).not.toMatch(/<Redis>/);
    // The bare route is the zero line, not a bar.
    expect(svg).not.toContain('>bare route<');
  });

  it('draws bars on one linear scale, none for a figure below the floor, and marks skipped cases', () => {
    const widths = [...svg.matchAll(/<rect x="360" y="\d+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    // 20, 80, 40 and -2 us: the largest spans the 500 px bar area.
    expect(widths).toEqual([125, 500, 250, 0]);
    expect(svg).toContain('+20.0 us');
    expect(svg).toContain('-2.0 us');
    expect(svg).toContain('>skipped<');
  });
});

const next: FrameworkResults = {
  framework: 'next',
  title: 'Next.js 16 (next start)',
  subtitle: 'Next.js 16 (next start): fixed figures',
  bareCpuUs: 400,
  rows: [
    { label: 'bare route', role: 'floor', op: 'read', rps: 2000, p50: 4, p99: 9, cpuUs: 400, addedUs: 0 },
    { label: 'bare route behind an empty proxy.ts', role: 'floor', op: 'read', cpuUs: 500, addedUs: 100 },
    {
      label: 'ours, memory',
      role: 'ours',
      op: 'read',
      cpuUs: 430,
      addedUs: 30,
      bestPeer: 'iron-session (sealed cookie)',
      vsBestPeer: 0.3,
    },
    { label: 'ours, memory, behind proxy.ts (renewal)', role: 'ours', op: 'read', cpuUs: 560, addedUs: 160 },
    { label: 'iron-session (sealed cookie)', role: 'peer', op: 'read', cpuUs: 500, addedUs: 100 },
  ],
};

describe('resultsMarkdown', () => {
  const markdown = resultsMarkdown({
    machine: '- CPU: fixed',
    note: 'A note on the run.',
    http: { frameworks: [express, next], markdown: '### HTTP: every case (fixed)' },
    sections: [
      ['footprint', '### Store writes per request (fixed)\n\n### Memory per session (fixed)'],
      ['core', 'Instrumentation configured without an SDK adds 0.002 us per validation (fixed).'],
    ],
  });

  it("puts Next's rows in the summary, the proxy row without a peer, beside the other frameworks", () => {
    expect(markdown).toContain('| Express 5 ');
    expect(markdown).toMatch(
      /\| Next\.js 16 \(next start\) \| ours, memory +\| +\+30\.0 \| iron-session \(sealed cookie\) \+100\.0 \| +0\.30x \|/,
    );
    expect(markdown).toMatch(
      /\| Next\.js 16 \(next start\) \| ours, memory, behind proxy\.ts \(renewal\) \| +\+160\.0 \| - +\| +- \|/,
    );
  });

  it('keeps every section in order: machine, note, summary, chart, HTTP tables, then footprint and core', () => {
    const order = [
      '## Machine and versions',
      'A note on the run.',
      '## CPU added per request, ours beside the best peer',
      '![CPU added per request, by framework](results.svg)',
      '### HTTP: every case (fixed)',
      '## footprint',
      '### Store writes per request (fixed)',
      '### Memory per session (fixed)',
      '## core',
      'without an SDK adds',
    ].map((text) => markdown.indexOf(text));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(markdown.endsWith('\n')).toBe(true);
  });

  it('leaves the HTTP parts out when the HTTP section did not run', () => {
    const text = resultsMarkdown({ machine: '- CPU: fixed', sections: [['footprint', 'fixed']] });
    expect(text).not.toContain('## CPU added per request');
    expect(text).not.toContain('results.svg');
    expect(text).toContain('## footprint\n\nfixed\n');
  });
});

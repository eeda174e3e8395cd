#!/usr/bin/env node
// Bundle size of every runtime entry point of @org/session-core, as an application's bundler would
// ship it: bundled from the sources with esbuild, minified, tree-shaken, dependencies (jose,
// @noble/hashes) included, then gzipped. `--check` (CI) fails when an entry exceeds its budget in
// scripts/size-budget.json, so growth is a deliberate edit of the budget in review.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = resolve(import.meta.dirname, '..');
const check = process.argv.includes('--check');
const budgets = JSON.parse(readFileSync(join(import.meta.dirname, 'size-budget.json'), 'utf8'));
const manifest = JSON.parse(readFileSync(join(root, 'packages/core/package.json'), 'utf8'));

const entries = Object.entries(manifest.exports)
  .filter(([key, value]) => typeof value === 'object' && value['@org/source'] && !key.startsWith('./testing'))
  .map(([key, value]) => ({ key, file: join(root, 'packages/core', value['@org/source']) }));

async function bundledBytes(file, external) {
  const result = await build({
    entryPoints: [file],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    write: false,
    conditions: ['@org/source'],
    mainFields: ['module', 'main'],
    external,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].contents;
  return { min: code.length, gzip: gzipSync(code, { level: 9 }).length };
}

const kb = (n) => `${(n / 1024).toFixed(1)} kB`;
const rows = [];
let over = 0;
for (const { key, file } of entries) {
  const own = await bundledBytes(file, ['jose', '@noble/hashes', '@noble/hashes/*']);
  const all = await bundledBytes(file, []);
  const name = `@org/session-core${key === '.' ? '' : key.slice(1)}`;
  const budget = budgets[name];
  const status = budget === undefined ? 'no budget' : all.gzip <= budget ? 'ok' : 'OVER';
  if (status !== 'ok') over++;
  rows.push([name, kb(own.gzip), kb(all.min), kb(all.gzip), budget === undefined ? '-' : kb(budget), status]);
}

const header = ['entry', 'own code (gzip)', 'with deps (min)', 'with deps (gzip)', 'budget (gzip)', ''];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const row of rows) console.log(line(row));

if (check && over > 0) {
  console.error(
    `\n${over} entr${over === 1 ? 'y is' : 'ies are'} over budget or without one (scripts/size-budget.json)`,
  );
  process.exit(1);
}

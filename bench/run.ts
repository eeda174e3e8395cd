/**
 * `pnpm bench`: every section measures our code next to its floor or its peers in the same run.
 * Run some sections with `pnpm bench <name> ...` (core, jwt, store-redis, store-sql, http,
 * footprint, sidecar, revocation, dpop, dbsc). `--quick` shortens every section (`pnpm bench:quick`, for checking a
 * change in under two minutes: core, http, footprint); the elapsed time of each section and of the
 * run is printed. `--write-results` writes bench/RESULTS.md (and, with the http section, the chart
 * bench/results.svg) from the sections that ran.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import type { HttpSectionResult } from './http.ts';
import { resultsMarkdown, resultsSvg } from './report.ts';

type SectionResult = string | HttpSectionResult | undefined;
// A section's run() returns what --write-results writes, or nothing when the section only prints.
type Section = { run(): Promise<SectionResult> } | { run(): Promise<void> };
const sections: Record<string, () => Promise<Section>> = {
  core: () => import('./core.ts'),
  jwt: () => import('./jwt.ts'),
  'store-redis': () => import('./store-redis.ts'),
  'store-sql': () => import('./store-sql.ts'),
  http: () => import('./http.ts'),
  footprint: () => import('./footprint.ts'),
  sidecar: () => import('./sidecar.ts'),
  revocation: () => import('./revocation.ts'),
  dpop: () => import('./dpop.ts'),
  dbsc: () => import('./dbsc.ts'),
};

const args = process.argv.slice(2);
const writeResults = args.includes('--write-results');
if (args.includes('--quick')) process.env.BENCH_QUICK = '1';
const wanted = args.filter((a) => !a.startsWith('--'));
const names = wanted.length > 0 ? wanted : Object.keys(sections);
const startedAt = new Date();
// Other work on the machine moves the figures: the load averages are reported with them.
const loadAtStart = loadavg();
console.log(`# Benchmarks (${startedAt.toISOString()}, Node ${process.version}, ${names.join(', ')})`);
// A quick run builds the Next app of the HTTP section (when it is not built yet) beside the
// sections before it; a full run builds it first thing in that section, on a quiet machine.
const httpFrameworks = process.env.HTTP_BENCH_FRAMEWORKS?.split(',');
if (process.env.BENCH_QUICK && names.includes('http') && (!httpFrameworks || httpFrameworks.includes('next'))) {
  const { buildNextApp } = await import('./next.ts');
  buildNextApp().catch(() => {
    // Reported by the HTTP section, which awaits the same build.
  });
}
const results = new Map<string, SectionResult>();
for (const name of names) {
  const load = sections[name];
  if (!load) {
    console.error(`Unknown section "${name}"; choose from ${Object.keys(sections).join(', ')}`);
    process.exit(2);
  }
  const sectionStart = Date.now();
  results.set(name, (await (await load()).run()) ?? undefined);
  console.log(`\n(${name}: ${seconds(Date.now() - sectionStart)})`);
}
if (writeResults) writeResultFiles();
console.log(
  `\nElapsed: ${seconds(Date.now() - startedAt.getTime())} (${names.join(', ')}${args.includes('--quick') ? ', --quick' : ''})`,
);

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function version(name: string): string {
  try {
    const file = new URL(`./node_modules/${name}/package.json`, import.meta.url);
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

function machine(): string {
  const cpuList = cpus();
  let pinning = 'no taskset: server and load generator share the CPUs';
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    pinning = 'servers pinned to CPU 0, load generator (autocannon) to CPU 1 (taskset)';
  } catch {}
  let redis = '?';
  try {
    redis = /redis_version:(\S+)/.exec(execFileSync('redis-cli', ['INFO', 'server']).toString())?.[1] ?? '?';
  } catch {}
  return [
    `- Date: ${startedAt.toISOString()} (${((Date.now() - startedAt.getTime()) / 60_000).toFixed(1)} min)`,
    `- CPU: ${cpuList.length} x ${cpuList[0]?.model ?? '?'}; memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB; ${pinning}`,
    `- Load average (1, 5, 15 min) at the start ${loadAtStart.map((l) => l.toFixed(1)).join(', ')}, at the end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(', ')}: other work on this ${cpuList.length}-CPU machine shares it during the run`,
    `- Node ${process.version}, Redis ${redis}`,
    `- Frameworks: express ${version('express')}, fastify ${version('fastify')}, hono ${version('hono')} (@hono/node-server ${version('@hono/node-server')}), next ${version('next')} (next build --webpack, next start)`,
    `- Peers: express-session ${version('express-session')}, connect-redis ${version('connect-redis')}, iron-session ${version('iron-session')}, @fastify/secure-session ${version('@fastify/secure-session')}, @fastify/session ${version('@fastify/session')}, hono-sessions ${version('hono-sessions')}; load by autocannon ${version('autocannon')}`,
    `- Command: \`pnpm bench --write-results${process.env.BENCH_QUICK ? ' --quick' : ''} ${names.join(' ')}\``,
  ].join('\n');
}

function writeResultFiles(): void {
  const http = results.get('http') as HttpSectionResult | undefined;
  const sections = [...results].filter((entry): entry is [string, string] => typeof entry[1] === 'string');
  const markdown = resultsMarkdown({ machine: machine(), note: process.env.BENCH_NOTE, http, sections });
  writeFileSync(new URL('./RESULTS.md', import.meta.url), markdown);
  if (http) {
    const caption = `${startedAt.toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} CPUs at load average ${loadAtStart[0]?.toFixed(0)}: compare bars within this chart only; medians of interleaved rounds, every figure in RESULTS.md`;
    writeFileSync(new URL('./results.svg', import.meta.url), resultsSvg(http.frameworks, caption));
  }
  // Formatted as the repository formats Markdown, so a committed result passes the lint.
  try {
    execFileSync(new URL('../node_modules/.bin/biome', import.meta.url).pathname, ['format', '--write', 'RESULTS.md'], {
      cwd: new URL('.', import.meta.url).pathname,
      stdio: 'ignore',
    });
  } catch {}
  console.log('\nWrote bench/RESULTS.md');
}

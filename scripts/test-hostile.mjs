// `pnpm test:hostile`: runs the hostile HTTP corpus on every adapter (one vitest run), passes its
// output through, and ends with one table of inputs tried and outcomes by class, all adapters
// together, read from the table each adapter's suite prints.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';

const adapters = ['express', 'fastify', 'hono', 'next'].filter((name) =>
  existsSync(`packages/${name}/test/hostile.test.ts`),
);
const args = ['exec', 'vitest', 'run'];
for (const name of adapters) args.push('--project', name);
args.push(...adapters.map((name) => `packages/${name}/test/hostile.test.ts`), ...process.argv.slice(2));

const started = Date.now();
// The machine's load as the run starts: with the date and hardware, what a published table needs.
const loadAtStart = loadavg()[0];
const child = spawn('pnpm', args, { stdio: ['ignore', 'pipe', 'inherit'] });
let output = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  output += chunk.toString('utf8');
});
const code = await new Promise((resolve) => child.once('close', resolve));

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes.
const lines = output.replace(/\u001b\[[0-9;]*m/g, '').split('\n');
/** class -> { tried, statuses: Map, problems, adapters: Set } */
const classes = new Map();
const perAdapter = [];
let adapter = null;
for (const line of lines) {
  const title = /^hostile corpus: (.+?) \(seed/.exec(line);
  if (title) {
    adapter = { name: title[1], tried: 0, problems: 0 };
    perAdapter.push(adapter);
    continue;
  }
  const row = /^\| (.+?) \| (\d+) \| (.*?) \| (\d+) \|$/.exec(line.trim());
  if (!adapter || !row || row[1] === '**total**') continue;
  const [, name, tried, statuses, problems] = row;
  let entry = classes.get(name);
  if (!entry) {
    entry = { tried: 0, statuses: new Map(), problems: 0, adapters: new Set() };
    classes.set(name, entry);
  }
  entry.tried += Number(tried);
  entry.problems += Number(problems);
  entry.adapters.add(adapter.name);
  adapter.tried += Number(tried);
  adapter.problems += Number(problems);
  for (const part of statuses.split(' ').filter(Boolean)) {
    const [status, count] = part.split('×');
    entry.statuses.set(status, (entry.statuses.get(status) ?? 0) + Number(count));
  }
}

const table = [
  '',
  `Hostile HTTP corpus: ${perAdapter.map((a) => a.name).join(', ') || 'no adapter reported'}`,
  `${new Date(started).toISOString().slice(0, 16)} UTC, Node ${process.versions.node}, ${cpus().length} cores ` +
    `(${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load average ${loadAtStart.toFixed(1)} ` +
    `at the start, ${((Date.now() - started) / 1000).toFixed(1)} s`,
  '',
  '| input class | adapters | inputs tried | statuses | 500s | problems |',
  '|---|---:|---:|---|---:|---:|',
];
let tried = 0;
let problems = 0;
let fiveHundreds = 0;
for (const [name, entry] of classes) {
  const statuses = [...entry.statuses]
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([status, count]) => `${status}×${count}`)
    .join(' ');
  const errors = [...entry.statuses].filter(([status]) => status.startsWith('5') && status !== '503');
  const count500 = errors.reduce((n, [, c]) => n + c, 0);
  table.push(`| ${name} | ${entry.adapters.size} | ${entry.tried} | ${statuses} | ${count500} | ${entry.problems} |`);
  tried += entry.tried;
  problems += entry.problems;
  fiveHundreds += count500;
}
table.push(`| **total** | ${perAdapter.length} | ${tried} | | ${fiveHundreds} | ${problems} |`);
table.push('');
table.push('Problems: a status outside the expected refusals, a refusal without a stable code, a session');
table.push('cookie set, an authenticated answer, or a sent credential echoed. 503 appears only where the');
table.push('store is made to fail (ST rows). All must be 0. The 500s column counts answers a framework gave');
table.push("before any app code ran and the adapter's suite declared (frameworkMethodStatuses: Next answers");
table.push('TRACE with 500); each was still checked for echoes and sessions.');
table.push('200s are the real session found behind padding under the header limit (CK-11), 204s a');
table.push("framework's own answer to OPTIONS; neither carried another session or an echo.");
console.log(table.join('\n'));
process.exit(code ?? 1);

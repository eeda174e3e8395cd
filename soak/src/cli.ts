// `pnpm soak [--duration 240] [--clients 300] [--phases redis,postgres,sqlite,redis-cluster]`:
// the full soak, each phase for --duration seconds, ending with one table.
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { PrivatePostgres } from './infra.js';
import { type PhaseResult, type PhaseSpec, runPhase } from './phase.js';
import { heapGrowth, MEMORY_BOUNDS, memoryProblems, renderTable, violations } from './report.js';

const { values } = parseArgs({
  options: {
    // 240 s: the halfway sample (120 s) comes after the servers' bounded caches are full, so the
    // halfway-to-after heap growth shows whether the heap has levelled off.
    duration: { type: 'string', default: '240' },
    clients: { type: 'string', default: '300' },
    phases: { type: 'string', default: 'redis,postgres,sqlite,redis-cluster' },
    outage: { type: 'string', default: '3' },
  },
});

const durationMs = Number(values.duration) * 1_000;
const clients = Number(values.clients);
if (!(durationMs >= 10_000) || !(clients >= 1)) throw new Error('--duration must be >= 10 (s) and --clients >= 1');
const privatePostgres = PrivatePostgres.available();

const all: Record<string, PhaseSpec> = {
  redis: {
    name: 'redis',
    store: 'redis',
    adapters: ['express', 'express', 'fastify', 'hono'],
    faults: ['redis-kill'],
    sweeper: true,
  },
  postgres: {
    name: 'postgres',
    store: 'postgres',
    adapters: ['express', 'express', 'fastify'],
    faults: privatePostgres ? ['pg-terminate', 'pg-restart'] : ['pg-terminate'],
    privatePostgres,
    sweeper: true,
  },
  sqlite: { name: 'sqlite', store: 'sqlite', adapters: ['express', 'fastify'], faults: ['sqlite-lock'], sweeper: true },
  'redis-cluster': {
    name: 'redis-cluster',
    store: 'redis-cluster',
    adapters: ['express', 'fastify', 'hono'],
    faults: ['cluster-failover'],
  },
};

// Interrupted: exit normally, so the exit hooks stop every server and store the soak started.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

const results: PhaseResult[] = [];
const started = new Date();
for (const name of (values.phases ?? '').split(',')) {
  const spec = all[name];
  if (!spec) throw new Error(`unknown phase ${name}; known: ${Object.keys(all).join(', ')}`);
  results.push(
    await runPhase(spec, {
      durationMs,
      clients,
      thinkMs: 50,
      outageMs: Number(values.outage) * 1_000,
      log: (line) => console.log(line),
    }),
  );
  // Each phase's column as soon as it is known, so a later failure loses nothing.
  console.log(renderTable(results.slice(-1)));
}

console.log(
  `\nSoak of ${started.toISOString()}: ${clients} clients, ${durationMs / 1000} s per phase, ` +
    `${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}\n`,
);
console.log(renderTable(results));
const failed = results.filter(
  (r) =>
    Object.values(violations(r)).some((n) => n !== 0) ||
    r.faults.some((f) => f.recoverMs === null) ||
    memoryProblems(r, MEMORY_BOUNDS).length > 0,
);
for (const r of results) {
  const problems = memoryProblems(r, MEMORY_BOUNDS);
  console.log(
    `${r.name}: heap growth ${(heapGrowth(r) / 2 ** 20).toFixed(1)} MB (all servers); memory ` +
      (problems.length === 0 ? 'within bounds' : `NOT flat: ${problems.join('; ')}`),
  );
}
if (failed.length > 0) {
  console.log(`\nFAILED: ${failed.map((r) => r.name).join(', ')}`);
  process.exitCode = 1;
}

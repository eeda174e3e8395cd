/**
 * Core section: what the session manager costs per operation on the memory store, next to the
 * floor it cannot beat, measured in the same run: one SHA-256 of 32 bytes (@noble/hashes) plus
 * one Map lookup. Target (issue 2): a plain validation costs at most 2x that floor.
 *
 * The floor and the validations are measured in interleaved rounds and the median of the
 * per-round ratios is reported, so that load from other processes affects both sides alike.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { createSessionManager, MemoryStore, type SessionRecord } from '@org/session-core';
import { getCookieValues } from '@org/session-core/adapter';
import { randomString } from '@org/session-core/testing';
import { openTelemetryInstrumentation } from '@org/session-opentelemetry';
// Internal, measured on its own: the token parse is no public API.
import { parseSessionToken } from '../packages/core/src/token.ts';
import { type BenchOptions, type BenchResult, bench, printTable, printTarget } from './lib.ts';

// A fixed clock: validations never reach the touch interval, so "validate" measures the plain
// read path (no store write), which is the one every request pays.
const fixedClock = { now: () => Date.UTC(2026, 0, 1) };
const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = QUICK ? 5 : 15;
// Timed by CPU time: on a shared machine, time spent descheduled would swamp sub-microsecond
// differences such as the instrumentation's.
const roundOptions: BenchOptions = QUICK
  ? { warmupMs: 30, timeMs: 100, batchMs: 5, clock: 'cpu' }
  : { warmupMs: 50, timeMs: 200, batchMs: 5, clock: 'cpu' };

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** One row from several rounds of the same case: median cost, worst p99. */
function combine(rounds: BenchResult[], note?: string): BenchResult {
  const nsPerOp = median(rounds.map((r) => r.nsPerOp));
  return {
    name: rounds[0]?.name ?? '?',
    nsPerOp,
    opsPerSec: 1e9 / nsPerOp,
    p99NsPerOp: Math.max(...rounds.map((r) => r.p99NsPerOp)),
    batches: rounds.reduce((n, r) => n + r.batches, 0),
    note,
  };
}

export async function run(): Promise<string> {
  // The floor: the hash of the presented secret plus the lookup of the record by id.
  const records = new Map<string, { secretHash: Uint8Array }>();
  const ids: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const id = randomString(16);
    ids.push(id);
    records.set(id, { secretHash: crypto.getRandomValues(new Uint8Array(32)) });
  }
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const lookupId = ids[500] as string;
  const floorCase = () => {
    const digest = sha256(secret);
    return records.get(lookupId) === undefined ? null : digest;
  };

  // Big enough that the benchmark's own creates never fill it: "create" measures the create
  // path, not eviction.
  const store = new MemoryStore({ maxSessions: 2_000_000 });
  const sessions = createSessionManager({ store, clock: fixedClock });
  const seed = await sessions.create({ userId: 'bench-user', data: { role: 'member' } });
  const cookieHeader = `theme=dark; ${seed.cookies[0]?.split(';')[0]}; _ga=GA1.2.3`;
  // The same manager with OpenTelemetry instrumentation configured but no SDK registered: what a
  // request pays for instrumentation that is switched off (issue 11: at most 0.2 us).
  const instrumentedStore = new MemoryStore({ maxSessions: 1000 });
  const instrumented = createSessionManager({
    store: instrumentedStore,
    clock: fixedClock,
    instrumentation: openTelemetryInstrumentation(),
  });
  const instrumentedSeed = await instrumented.create({ userId: 'bench-user', data: { role: 'member' } });
  const instrumentedCookie = `theme=dark; ${instrumentedSeed.cookies[0]?.split(';')[0]}; _ga=GA1.2.3`;

  const floorRounds: BenchResult[] = [];
  const cookieRounds: BenchResult[] = [];
  const tokenRounds: BenchResult[] = [];
  const instrumentedRounds: BenchResult[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    floorRounds.push(await bench('floor: sha256(32 B) + Map.get', floorCase, roundOptions));
    cookieRounds.push(
      await bench('validateCookie (memory store, no touch)', () => sessions.validateCookie(cookieHeader), roundOptions),
    );
    tokenRounds.push(
      await bench('validateToken (memory store, no touch)', () => sessions.validateToken(seed.token), roundOptions),
    );
    instrumentedRounds.push(
      await bench(
        'validateCookie, OpenTelemetry instrumentation configured, no SDK',
        () => instrumented.validateCookie(instrumentedCookie),
        roundOptions,
      ),
    );
  }
  const cookieRatio = median(cookieRounds.map((r, i) => r.nsPerOp / (floorRounds[i] as BenchResult).nsPerOp));
  const tokenRatio = median(tokenRounds.map((r, i) => r.nsPerOp / (floorRounds[i] as BenchResult).nsPerOp));
  const instrumentationCostUs =
    median(instrumentedRounds.map((r, i) => r.nsPerOp - (cookieRounds[i] as BenchResult).nsPerOp)) / 1000;

  // The single cases: shorter under --quick.
  const single: BenchOptions = QUICK ? { warmupMs: 100, timeMs: 250 } : {};
  const hashOnly = await bench('sha256(32 B) alone', () => sha256(secret), single);
  const mapOnly = await bench('Map.get alone', () => records.get(lookupId), single);
  const parseOnly = await bench(
    'Cookie parse + token parse only',
    () => parseSessionToken(getCookieValues(cookieHeader, '__Host-sid')[0]),
    single,
  );
  const storeGet = await bench('MemoryStore.get alone', () => store.get(seed.session.id, fixedClock.now()), single);
  // CK-14: hostile headers cost time linear in their size (the parser reads at most 64 KiB).
  const hostile = 'a;'.repeat(32 * 1024);
  const hostileParse = await bench(
    'Cookie parse of 64 KiB of "a;" (hostile)',
    () => getCookieValues(hostile, '__Host-sid'),
    single,
  );
  hostileParse.note = 'linear-time parser';

  let userCounter = 0;
  const create = await bench('create', () => sessions.create({ userId: `user-${userCounter++ % 1000}` }), single);
  let current = (await sessions.create({ userId: 'rotating-user' })).session;
  const rotate = await bench(
    'rotate',
    async () => {
      current = (await sessions.rotate(current)).session;
      return current;
    },
    single,
  );

  // The write every WRITE route of the HTTP section makes: a validation, then a merging update.
  // Timed by CPU time, as the rounds above: a loaded machine would otherwise swamp it.
  const writeOptions: BenchOptions = { ...single, clock: 'cpu' };
  const writer = await sessions.create({ userId: 'writing-user', data: { role: 'member', n: 0 } });
  const write = await bench(
    'validateToken + update (merge)',
    async () => {
      const { session } = await sessions.validateToken(writer.token);
      if (!session) throw new Error('bench: the writing session is gone');
      return sessions.update(session, (data) => ({ ...data, n: (data.n as number) + 1 }));
    },
    writeOptions,
  );
  // The store's share of it: the copy and freeze of a record whose data changed.
  const storeUpdate = await bench(
    'MemoryStore.update alone (data changed)',
    async () => {
      const stored = store.getSync(writer.session.id, fixedClock.now()) as SessionRecord;
      const next = { ...stored, data: { ...stored.data, n: stored.version }, version: stored.version + 1 };
      return store.update(next, stored.version, fixedClock.now());
    },
    writeOptions,
  );

  const interleaved = `median of ${ROUNDS} interleaved rounds`;
  const floor = combine(floorRounds, interleaved);
  const table = printTable(
    'core: session manager on the memory store vs the floor (same run)',
    [
      floor,
      combine(cookieRounds, interleaved),
      combine(tokenRounds, interleaved),
      combine(instrumentedRounds, interleaved),
      hashOnly,
      mapOnly,
      parseOnly,
      storeGet,
      hostileParse,
      create,
      rotate,
      write,
      storeUpdate,
    ],
    floor.name,
  );
  printTarget('validateCookie / floor (median of per-round ratios)', cookieRatio, 2);
  printTarget('validateToken / floor (median of per-round ratios)', tokenRatio, 2);
  const instrumentationLine = `Instrumentation configured without an SDK adds ${instrumentationCostUs.toFixed(3)} us per validation (median of ${ROUNDS} per-round differences; target <= 0.2 us).`;
  printTarget('instrumentation configured, no SDK: added us per validation', instrumentationCostUs, 0.2, ' us');
  await store.close();
  await instrumentedStore.close();
  return `${table}\n\n${instrumentationLine}`;
}

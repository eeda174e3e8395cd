// The short soak CI runs: each phase under load for SOAK_CI_SECONDS (default 12 s) with the faults
// that are safe anywhere (a dedicated Redis killed and restarted, the soak's own PostgreSQL
// connections terminated, the SQLite file locked by another process), then every audit count
// must be 0, every fault recovered from, the servers' heap flat, and Redis back near its memory
// once the sessions that expired during the load are gone.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { hasCommand } from '../src/infra.js';
import { type PhaseResult, type PhaseSpec, runPhase } from '../src/phase.js';
import { type MemoryBounds, memoryProblems, violations } from '../src/report.js';

const SECONDS = Number(process.env.SOAK_CI_SECONDS ?? 12);
const CLIENTS = Number(process.env.SOAK_CI_CLIENTS ?? 120);
const PG_URL = process.env.SOAK_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const inCI = process.env.CI === 'true';

/** Whether a service is there; under CI=true a missing one fails the file instead of skipping. */
function required(name: string, available: boolean, why: string): boolean {
  if (available) return true;
  if (inCI) throw new Error(`${name} is required under CI=true: ${why}`);
  console.warn(`Skipping the ${name} soak: ${why}`);
  return false;
}

async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

const hasRedis = required('Redis', hasCommand('redis-server'), 'no redis-server binary to start a dedicated one');
const hasPostgres = required('PostgreSQL', await postgresReachable(), `${PG_URL} is unreachable`);

async function soak(spec: PhaseSpec): Promise<PhaseResult> {
  return runPhase(spec, {
    durationMs: SECONDS * 1_000,
    clients: CLIENTS,
    thinkMs: 50,
    outageMs: 2_000,
    // On a machine loaded far beyond its cores the load runs on (for up to 30 s more) until it
    // has done enough for the checks below to mean something.
    minAnswered: 400,
    // SOAK_CI_LOG=1: the phase's steps with the seconds since it started, to see where time goes.
    log: process.env.SOAK_CI_LOG ? timed() : undefined,
  });
}

function timed(): (line: string) => void {
  const started = Date.now();
  return (line) => console.log(`${((Date.now() - started) / 1000).toFixed(1)} s ${line}`);
}

function expectClean(result: PhaseResult): void {
  expect(violations(result)).toEqual({
    lost: 0,
    forged: 0,
    forked: 0,
    revokedAccepted: 0,
    wronglyAllowed: 0,
    deletionCookies: 0,
    graceRefused: 0,
  });
  // The load did happen, the audit saw sessions, and every fault hit requests and was recovered from.
  const { byOp: _, ...counts } = result.counters;
  expect(result.counters.ok, JSON.stringify(counts)).toBeGreaterThan(100);
  expect(result.sessionsAudited).toBeGreaterThan(CLIENTS / 2);
  for (const fault of result.faults) {
    expect(fault.recoverMs, fault.name).not.toBeNull();
    expect(fault.sessionsChecked, fault.name).toBeGreaterThan(0);
  }
  // Flat memory: a leak of a few hundred bytes per request would show as tens of MB here.
  expect(memoryProblems(result, CI_MEMORY_BOUNDS)).toEqual([]);
}

/**
 * Generous for a loaded 2-core machine: the servers' bounded caches fill during these seconds,
 * and Redis's allocator keeps some of what the expired keys used.
 */
const CI_MEMORY_BOUNDS: MemoryBounds = { heapGrowthPerServer: 16 * 2 ** 20, redisGrowth: 32 * 2 ** 20 };

describe('soak under load with faults (CI variant)', () => {
  it.skipIf(!hasRedis)(
    'Redis: two Express instances, a Fastify one and a Hono one; the dedicated Redis killed and restarted',
    async () => {
      const result = await soak({
        name: 'redis',
        store: 'redis',
        adapters: ['express', 'express', 'fastify', 'hono'],
        faults: ['redis-kill'],
        sweeper: true,
      });
      expectClean(result);
      // While Redis was down, requests were refused (401/503), none allowed.
      expect(result.faults[0]?.failedClosed).toBeGreaterThan(0);
      // Expiring sessions were written (each create succeeded with a 2 s TTL) and Redis's TTLs
      // removed every one of their keys. (How many were there at once is only reported: on a
      // loaded machine the count may come after they expired.)
      expect(result.sweep?.churned).toBeGreaterThan(0);
      expect(result.redis?.expiringKeysLeft).toBe(0);
    },
  );

  it.skipIf(!hasPostgres)(
    "PostgreSQL: the servers' connections terminated mid-load; the sweeper keeps the table small",
    async () => {
      const result = await soak({
        name: 'postgres',
        store: 'postgres',
        adapters: ['express', 'express', 'fastify'],
        faults: ['pg-terminate'],
        sweeper: true,
      });
      expectClean(result);
      const sweep = result.sweep;
      expect(sweep?.churned).toBeGreaterThan(0);
      // Sessions expire after 2 s and sweeps come every ~1 s: most are gone by the end.
      expect(sweep?.swept).toBeGreaterThanOrEqual((sweep?.churned ?? 0) / 2);
    },
  );

  it('SQLite: two processes on one file; the file locked by a third', async () => {
    const result = await soak({
      name: 'sqlite',
      store: 'sqlite',
      adapters: ['express', 'fastify'],
      faults: ['sqlite-lock'],
      sweeper: true,
    });
    expectClean(result);
    expect(result.faults[0]?.failedClosed).toBeGreaterThan(0);
    expect(result.sweep?.swept).toBeGreaterThanOrEqual((result.sweep?.churned ?? 0) / 2);
  });
});

// One soak phase: a store, its server children, the load, the faults, the sweeper and the audit.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  createSessionManager,
  EXPIRED_RETENTION_MS,
  type RefreshFamilyStore,
  type SessionStore,
  type Sweeper,
  startSweeper,
} from '@org/session-core';
import { hashSecret } from '@org/session-core/testing';
import { type Counters, type FaultWindow, newCounters, SESSION_COOKIE, SoakClient } from './client.js';
import { type Adapter, SERVER_CONFIG_ENV, type ServerConfig, type StoreTarget } from './config.js';
import {
  DedicatedCluster,
  DedicatedRedis,
  lockSqliteFile,
  onExit,
  PrivatePostgres,
  sleep,
  terminateBackends,
  waitFor,
} from './infra.js';

const here = dirname(fileURLToPath(import.meta.url));
const soakRoot = join(here, '..');

export type StoreKind = 'redis' | 'redis-cluster' | 'postgres' | 'sqlite';
export type FaultKind = 'redis-kill' | 'cluster-failover' | 'pg-terminate' | 'pg-restart' | 'sqlite-lock';

export interface PhaseSpec {
  name: string;
  store: StoreKind;
  adapters: Adapter[];
  faults: FaultKind[];
  /** PostgreSQL: a private cluster the soak may restart, or the shared server (`SOAK_PG_URL`). */
  privatePostgres?: boolean;
  /**
   * Expiring sessions created beside the load: on SQL stores with two sweepers, to show the
   * sessions table stays bounded; on Redis, to show its TTLs leave nothing behind.
   */
  sweeper?: boolean;
}

export interface LoadSettings {
  durationMs: number;
  clients: number;
  thinkMs: number;
  /** How long a stopped server stays down, or a lock held (ms). */
  outageMs: number;
  /**
   * The load goes on past `durationMs` until this many requests were answered 200, for at most
   * `durationMs` or 30 s more, whichever is longer: on a machine loaded far beyond its cores a
   * short phase may otherwise end before it has done enough to show anything. Default 0 (exactly
   * `durationMs`).
   */
  minAnswered?: number;
  log?: (line: string) => void;
}

export interface FaultResult {
  name: string;
  durationMs: number;
  failedClosed: number;
  wronglyAllowed: number;
  deletionCookies: number;
  sessionsChecked: number;
  sessionsLost: number;
  recoverMs: number | null;
}

export interface MemorySample {
  rss: number;
  heapUsed: number;
}

export interface SweepResult {
  churned: number;
  swept: number;
  skipped: number;
  rowsAtStart: number;
  rowsMax: number;
  rowsAtEnd: number;
}

/** The dedicated Redis, before the load (warm) and after it once the expiring sessions are gone. */
export interface RedisMemory {
  usedMemoryBefore: number;
  usedMemoryAfter: number;
  keysBefore: number;
  keysAfter: number;
  /** Keys of the expiring sessions (their own prefix) at most, while they were being created. */
  expiringKeysMax: number;
  /** Keys of the expiring sessions still there after they expired: must be 0. */
  expiringKeysLeft: number;
  /**
   * The load's keys after it, by kind: `s` sessions, `rf` refresh families, `t` rotation marks
   * (60 s), `u` user indexes, `ue` user epochs (log out everywhere).
   */
  keysByKind: Record<string, number>;
}

export interface PhaseResult {
  name: string;
  servers: string;
  counters: Counters;
  sessionsAudited: number;
  lostAtAudit: number;
  revokedLiveAtAudit: number;
  familiesAudited: number;
  familiesForkedAtAudit: number;
  familiesLostAtAudit: number;
  memoryBefore: MemorySample[];
  memoryMiddle: MemorySample[];
  /** When the halfway sample was taken, ms after the load started. */
  memoryMiddleAtMs: number;
  memoryAfter: MemorySample[];
  faults: FaultResult[];
  sweep: SweepResult | null;
  redis: RedisMemory | null;
}

const SHARED_PG_URL = process.env.SOAK_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const GRACE_MS = 2_000;
const JWT_TTL_SECONDS = 5;
const JWT_TOLERANCE_SECONDS = 1;

type AuditStore = SessionStore & RefreshFamilyStore & { close?(): Promise<void> };

/** The dedicated Redis's memory and keys, and a store for the expiring sessions (Redis phase). */
interface RedisProbe {
  usage(): Promise<{ usedMemory: number; keys: number }>;
  /** A store under a prefix of its own, writing with its clock one retention period ahead. */
  openExpiring(): Promise<AuditStore>;
  /** Walks the keyspace (deleting expired keys as SCAN does) and counts the expiring sessions' keys left. */
  expiringKeysLeft(): Promise<number>;
  /** The load's keys, by kind (see {@link RedisMemory.keysByKind}). */
  keysByKind(): Promise<Record<string, number>>;
}

interface Backend {
  target: StoreTarget;
  redis?: RedisProbe;
  /** A store of the orchestrator's own on the same data, for the audit and the sweeper. */
  open(): Promise<AuditStore>;
  /** Rows in the sessions table (SQL stores). */
  rows?(store: AuditStore): Promise<number>;
  /**
   * Injects the fault and returns once it is over: a stopped server started again, a lock
   * released, a killed master left to the cluster. `from` is when the service may come back (the
   * time to recover counts from there); `after` puts back what the cluster lost, once recovered.
   */
  inject(
    fault: FaultKind,
    window: FaultWindow,
    outageMs: number,
  ): Promise<{ from: number; after?: () => Promise<void> }>;
  destroy(): Promise<void>;
}

/**
 * The store as seen by a writer whose clock runs one retention period ahead. Redis keeps a record
 * until its deadline plus EXPIRED_RETENTION_MS (1 h) after the writer's `now`: through this
 * wrapper the TTL of a session created now is its own lifetime, so sessions that end during the
 * soak also leave Redis during it, as they would an hour later in production.
 */
function clockAhead(store: AuditStore): AuditStore {
  return new Proxy(store, {
    get(target, key) {
      if (key === 'create') {
        return (record: Parameters<SessionStore['create']>[0], now: number) =>
          target.create(record, now + EXPIRED_RETENTION_MS);
      }
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

async function openBackend(spec: PhaseSpec): Promise<Backend> {
  const tag = randomBytes(4).toString('hex');
  const notFor = (fault: FaultKind) => new Error(`fault ${fault} does not apply to ${spec.store}`);
  if (spec.store === 'redis') {
    const redis = await DedicatedRedis.start();
    const prefix = `soak:${tag}:`;
    const { RedisStore } = await import('@org/session-store-redis');
    const expiringPrefix = `soak:${tag}-expiring:`;
    return {
      target: { kind: 'redis', url: redis.url, prefix },
      open: async () => new RedisStore({ url: redis.url, prefix }),
      redis: {
        usage: () => redis.usage(),
        openExpiring: async () => clockAhead(new RedisStore({ url: redis.url, prefix: expiringPrefix })),
        expiringKeysLeft: async () =>
          Object.values(await redis.scanKinds(expiringPrefix)).reduce((n, count) => n + count, 0),
        keysByKind: () => redis.scanKinds(prefix),
      },
      async inject(fault, window, outageMs) {
        if (fault !== 'redis-kill') throw notFor(fault);
        window.hardStart = Date.now();
        await redis.kill();
        await sleep(outageMs);
        window.hardEnd = Date.now();
        await redis.start();
        return { from: window.hardEnd };
      },
      destroy: () => redis.destroy(),
    };
  }
  if (spec.store === 'redis-cluster') {
    const cluster = await DedicatedCluster.start();
    const prefix = `soak:${tag}:`;
    const { RedisStore } = await import('@org/session-store-redis');
    return {
      target: { kind: 'redis-cluster', nodes: cluster.nodes, prefix },
      open: async () => new RedisStore({ cluster: { nodes: cluster.nodes }, prefix }),
      async inject(fault) {
        if (fault !== 'cluster-failover') throw notFor(fault);
        const killed = await cluster.killMaster();
        // Nobody restarts anything: the replica is promoted after the node timeout (2 s), and the
        // time to recover counts from the kill. The old master rejoins as a replica afterwards.
        return {
          from: Date.now(),
          after: async () => {
            await waitFor(() => cluster.healthy(), 30_000, 200);
            await cluster.restart(killed);
          },
        };
      },
      destroy: () => cluster.destroy(),
    };
  }
  if (spec.store === 'postgres') {
    const server = spec.privatePostgres ? await PrivatePostgres.start() : null;
    const url = server?.url ?? SHARED_PG_URL;
    const schema = `soak_${tag}`;
    const appName = `soak-${tag}`;
    const { PostgresStore } = await import('@org/session-store-postgres');
    const open = async () =>
      new PostgresStore({ connectionString: url, schema, poolConfig: { application_name: `${appName}-audit` } });
    const first = await open();
    await first.migrate();
    await first.close();
    return {
      target: { kind: 'postgres', url, schema, appName },
      open,
      rows: async (store) => {
        const pool = (store as unknown as { pool: import('pg').Pool }).pool;
        const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".session_store_sessions`);
        return rows[0].n as number;
      },
      async inject(fault, window, outageMs) {
        if (fault === 'pg-terminate') {
          // Three rounds: connections opened again after the first are killed too.
          for (let round = 0; round < 3; round++) {
            await terminateBackends(url, appName);
            if (round < 2) await sleep(300);
          }
          return { from: Date.now() };
        }
        if (fault === 'pg-restart' && server) {
          window.hardStart = Date.now();
          await server.stop();
          await sleep(outageMs);
          window.hardEnd = Date.now();
          await server.start();
          return { from: window.hardEnd };
        }
        throw notFor(fault);
      },
      async destroy() {
        if (server) await server.destroy();
        else {
          const pg = await import('pg');
          const client = new pg.default.Client({ connectionString: url });
          await client.connect();
          await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
          await client.end();
        }
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'soak-sqlite-'));
  const path = join(dir, 'sessions.db');
  const { SqliteStore } = await import('@org/session-store-sqlite');
  new SqliteStore({ path, migrate: true }).close();
  return {
    target: { kind: 'sqlite', path },
    open: async () => new SqliteStore({ path, busyTimeoutMs: 50 }),
    rows: async (store) =>
      (
        (store as unknown as { database: import('better-sqlite3').Database }).database
          .prepare('SELECT count(*) AS n FROM session_store_sessions')
          .get() as { n: number }
      ).n,
    async inject(fault, _window, outageMs) {
      if (fault !== 'sqlite-lock') throw notFor(fault);
      const lock = await lockSqliteFile(path);
      await sleep(outageMs);
      await lock.release();
      return { from: Date.now() };
    },
    destroy: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

interface ServerChild {
  url: string;
  label: string;
  child: ChildProcess;
}

async function startServer(config: ServerConfig, label: string): Promise<ServerChild> {
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--conditions=@org/source', '--import', 'tsx', join(here, 'server.ts')],
    {
      cwd: soakRoot,
      env: { ...process.env, [SERVER_CONFIG_ENV]: JSON.stringify(config) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const forget = onExit(() => child.kill('SIGKILL'));
  child.once('exit', forget);
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  if (!child.stdout) throw new Error(`${label} has no stdout`);
  const lines = createInterface({ input: child.stdout });
  let early: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined;
  const port = await new Promise<number>((resolve, reject) => {
    // Generous: the servers of a phase compile their TypeScript at once, on a machine that may be
    // loaded far beyond its cores (a full soak once saw 30 s pass).
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${label} did not start within 120 s: ${stderr}`));
    }, 120_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
    early = (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited (${code ?? signal}) before listening: ${stderr}`));
    };
    child.once('exit', early);
  });
  if (early) child.off('exit', early);
  return { url: `http://127.0.0.1:${port}`, label, child };
}

async function stopServer(server: ServerChild): Promise<void> {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function sampleMemory(servers: ServerChild[]): Promise<MemorySample[]> {
  return Promise.all(
    servers.map(async (server) => {
      // A server busy with the load may answer late; a missing sample shows as NaN, never a crash.
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          const response = await fetch(`${server.url}/_soak/memory`, { signal: AbortSignal.timeout(20_000) });
          return (await response.json()) as MemorySample;
        } catch {
          await sleep(500);
        }
      }
      return { rss: Number.NaN, heapUsed: Number.NaN };
    }),
  );
}

/** Until a fresh login and a store-checked read succeed on every server: the time to recover. */
async function probeRecovery(servers: ServerChild[], from: number, timeoutMs: number): Promise<number | null> {
  const pending = new Set(servers);
  const ok = await waitFor(
    async () => {
      for (const server of [...pending]) {
        const login = await fetch(`${server.url}/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ userId: 'soak-probe' }),
          signal: AbortSignal.timeout(2_000),
        }).catch(() => null);
        const cookie = login?.headers.getSetCookie().find((line) => line.startsWith(`${SESSION_COOKIE}=`));
        if (login?.status !== 200 || !cookie) continue;
        const me = await fetch(`${server.url}/me`, {
          headers: { cookie: cookie.split(';')[0] as string },
          signal: AbortSignal.timeout(2_000),
        }).catch(() => null);
        if (me?.status === 200) pending.delete(server);
      }
      return pending.size === 0;
    },
    timeoutMs,
    50,
  );
  return ok ? Date.now() - from : null;
}

/**
 * An audit lookup, retried while the store is unavailable (a busy machine, a store just back):
 * the audit must answer what the store holds, not whether it answered at once.
 */
async function patiently<T>(lookup: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await lookup();
    } catch (error) {
      if (attempt >= 30) throw error;
      await sleep(250);
    }
  }
}

/** Runs the tasks `width` at a time. */
async function inBatches(tasks: (() => Promise<void>)[], width: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < tasks.length) await (tasks[next++] as () => Promise<void>)();
    }),
  );
}

/** Ledger-live sessions created before `before` that the store no longer knows. */
async function checkSessions(
  store: AuditStore,
  clients: SoakClient[],
  before: number,
): Promise<{ checked: number; lost: number }> {
  let checked = 0;
  let lost = 0;
  const now = Date.now();
  for (const client of clients) {
    for (const held of [...client.live.values()]) {
      if (held.busy || held.createdAt >= before) continue;
      const record = await patiently(() => store.get(held.id, now));
      // The client may have started a mutation while the store was asked.
      if (held.busy || !client.live.has(held.id)) continue;
      checked++;
      if (!record) lost++;
    }
  }
  return { checked, lost };
}

/**
 * Short-lived sessions created beside the load. On SQL stores two sweepers run and the sessions
 * table's size is followed; on Redis, whose TTLs do the sweeping, the number of keys.
 */
function startChurn(backend: Backend, log: (line: string) => void) {
  const result: SweepResult = { churned: 0, swept: 0, skipped: 0, rowsAtStart: 0, rowsMax: 0, rowsAtEnd: 0 };
  let stopped = false;
  const stores: AuditStore[] = [];
  const sweepers: Sweeper[] = [];
  const { rows: countRows, redis } = backend;
  if (!countRows && !redis) throw new Error('expiring sessions need a SQL store or the dedicated Redis');
  const done = (async () => {
    let count: () => Promise<number>;
    if (redis) {
      stores.push(await redis.openExpiring());
      count = () => redis.expiringKeysLeft();
    } else {
      for (let i = 0; i < 2; i++) stores.push(await backend.open());
      const first = stores[0] as AuditStore;
      count = () => (countRows as NonNullable<Backend['rows']>)(first);
      // The sweepers' clock runs one retention period (1 h) ahead, so sessions that expire during
      // the soak become sweepable within it; everything else about the sweep is as in production.
      const ahead = { now: () => Date.now() + EXPIRED_RETENTION_MS };
      for (const store of stores) {
        sweepers.push(
          startSweeper(store, {
            intervalMs: 1_000,
            clock: ahead,
            onSweep: (r) => {
              result.swept += r.sessions;
              if (r.skipped) result.skipped++;
            },
            onError: () => {},
          }),
        );
      }
    }
    // A count can meet a fault too: retried for a while, like any client would.
    const countPatiently = async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await count();
        } catch (error) {
          if (attempt >= 50) throw error;
          await sleep(200);
        }
      }
    };
    const manager = createSessionManager({
      store: stores[0] as AuditStore,
      policy: { idleTimeoutMs: 1_000, absoluteTimeoutMs: 2_000 },
    });
    result.rowsAtStart = await countPatiently();
    let tick = 0;
    while (!stopped) {
      await Promise.all(
        Array.from({ length: 5 }, () =>
          manager.create({ userId: `soak-churn-${tick % 50}` }).then(
            () => result.churned++,
            () => {},
          ),
        ),
      );
      if (tick++ % 5 === 0) {
        result.rowsMax = Math.max(result.rowsMax, await countPatiently());
      }
      await sleep(100);
    }
    result.rowsAtEnd = await countPatiently();
    log(
      redis
        ? `  expiring sessions: ${result.churned} created, their Redis keys at most ${result.rowsMax}`
        : `  sweeper: ${result.churned} expiring sessions created, ${result.swept} swept, table max ${result.rowsMax}`,
    );
  })();
  return {
    async stop(): Promise<SweepResult> {
      stopped = true;
      await done;
      await Promise.all(sweepers.map((s) => s.stop()));
      await Promise.all(stores.map((s) => s.close?.()));
      return result;
    },
  };
}

/**
 * Redis after the load: once the last expiring session has ended, the keyspace is walked until
 * none of their keys is left (SCAN deletes the expired keys it meets), then memory is read.
 */
async function redisAfter(redis: RedisProbe, before: { usedMemory: number; keys: number }, expiringKeysMax: number) {
  // The expiring sessions last 2 s and their user indexes no longer: polled until none is left,
  // generously bounded for a loaded machine.
  let expiringKeysLeft = await redis.expiringKeysLeft();
  const deadline = Date.now() + 20_000;
  while (expiringKeysLeft > 0 && Date.now() < deadline) {
    await sleep(250);
    expiringKeysLeft = await redis.expiringKeysLeft();
  }
  const after = await redis.usage();
  const keysByKind = await redis.keysByKind();
  return {
    usedMemoryBefore: before.usedMemory,
    usedMemoryAfter: after.usedMemory,
    keysBefore: before.keys,
    keysAfter: after.keys,
    expiringKeysMax,
    expiringKeysLeft,
    keysByKind,
  } satisfies RedisMemory;
}

export async function runPhase(spec: PhaseSpec, settings: LoadSettings): Promise<PhaseResult> {
  const log = settings.log ?? (() => {});
  log(`phase ${spec.name}: starting ${spec.store} and ${spec.adapters.join(', ')}`);
  const backend = await openBackend(spec);
  const servers: ServerChild[] = [];
  const auditStore = await backend.open();
  try {
    const sharedKeys = { jwt: randomBytes(32).toString('base64url'), refresh: randomBytes(32).toString('base64url') };
    const config = (adapter: Adapter): ServerConfig => ({
      adapter,
      store: backend.target,
      jwtKey: sharedKeys.jwt,
      refreshSecret: sharedKeys.refresh,
      graceMs: GRACE_MS,
      jwtTtlSeconds: JWT_TTL_SECONDS,
      jwtToleranceSeconds: JWT_TOLERANCE_SECONDS,
    });
    // Started together: each child spends a few seconds compiling its TypeScript.
    const started = await Promise.allSettled(
      spec.adapters.map((adapter, i) => startServer(config(adapter), `${adapter}-${i}`)),
    );
    for (const outcome of started) if (outcome.status === 'fulfilled') servers.push(outcome.value);
    const failedStart = started.find((outcome) => outcome.status === 'rejected');
    if (failedStart) throw failedStart.reason;
    log(`  ${servers.length} servers listening`);

    const counters = newCounters();
    const windows: FaultWindow[] = [];
    const clients = Array.from(
      { length: settings.clients },
      (_, i) =>
        new SoakClient(
          i,
          {
            servers: servers.map((s) => s.url),
            graceMs: GRACE_MS,
            jwtWindowMs: (JWT_TTL_SECONDS + JWT_TOLERANCE_SECONDS + 1) * 1_000,
            thinkMs: settings.thinkMs,
            requestTimeoutMs: 10_000,
          },
          counters,
          windows,
        ),
    );
    const startedAt = Date.now();
    const endAt = startedAt + settings.durationMs;
    const latestEnd = endAt + Math.max(settings.durationMs, 30_000);
    const minAnswered = settings.minAnswered ?? 0;
    const over = () => Date.now() >= latestEnd || (Date.now() >= endAt && counters.ok >= minAnswered);
    const load = Promise.all(clients.map((client) => client.run(over)));
    const churn = spec.sweeper ? startChurn(backend, log) : null;

    // Memory "before": after a warm-up, so JIT and connection pools are in place.
    await sleep(Math.min(5_000, settings.durationMs * 0.1));
    const memoryBefore = await sampleMemory(servers);
    const redisBefore = backend.redis ? await patiently(() => (backend.redis as RedisProbe).usage()) : null;
    // A sample halfway through too: bounded caches fill early, a leak keeps growing after.
    let memoryMiddleAtMs = Number.NaN;
    const memoryMiddle = sleep(Math.max(0, startedAt + settings.durationMs / 2 - Date.now())).then(() => {
      memoryMiddleAtMs = Date.now() - startedAt;
      return sampleMemory(servers);
    });

    const faults: FaultResult[] = [];
    for (const [i, fault] of spec.faults.entries()) {
      const at = startedAt + (settings.durationMs * (i + 1)) / (spec.faults.length + 1);
      await sleep(Math.max(0, at - Date.now()));
      const window: FaultWindow = {
        name: fault,
        hardStart: null,
        hardEnd: null,
        start: Date.now(),
        end: null,
        failedClosed: 0,
        wronglyAllowed: 0,
        deletionCookies: 0,
      };
      windows.push(window);
      log(`  fault ${fault}`);
      let injected: Awaited<ReturnType<Backend['inject']>>;
      let injectionFailed = false;
      try {
        injected = await backend.inject(fault, window, settings.outageMs);
      } catch (error) {
        // The soak's own tooling failed (not the library): reported as a fault never recovered from.
        log(`    could not inject ${fault}: ${error instanceof Error ? error.message : String(error)}`);
        injected = { from: Date.now() };
        injectionFailed = true;
      }
      const injectedUntil = Date.now();
      // Generous: on a loaded machine the servers first work off the requests queued meanwhile.
      const probed = await probeRecovery(servers, injected.from, 60_000);
      const recoverMs = injectionFailed ? null : probed;
      window.end = Date.now();
      await injected.after?.();
      const check = await checkSessions(auditStore, clients, window.start);
      faults.push({
        name: fault,
        durationMs: injectedUntil - window.start,
        failedClosed: window.failedClosed,
        wronglyAllowed: window.wronglyAllowed,
        deletionCookies: window.deletionCookies,
        sessionsChecked: check.checked,
        sessionsLost: check.lost,
        recoverMs,
      });
      log(`    recovered in ${recoverMs} ms; ${check.checked} sessions from before it checked, ${check.lost} lost`);
    }

    await load;
    log(`  load over after ${((Date.now() - startedAt) / 1000).toFixed(1)} s, ${counters.ok} requests answered 200`);
    const sweep = churn ? await churn.stop() : null;
    await sleep(1_000);
    const memoryAfter = await sampleMemory(servers);
    const redis =
      backend.redis && redisBefore ? await redisAfter(backend.redis, redisBefore, sweep?.rowsMax ?? 0) : null;
    if (redis) {
      log(
        `  Redis used_memory ${(redis.usedMemoryBefore / 2 ** 20).toFixed(1)} -> ${(redis.usedMemoryAfter / 2 ** 20).toFixed(1)} MB, ` +
          `keys ${redis.keysBefore} -> ${redis.keysAfter}, expiring sessions' keys left ${redis.expiringKeysLeft}`,
      );
    }

    // The audit: every session the ledgers hold must be in the store, every dead one must not be,
    // and every followed refresh family must have the client's token as its only live successor.
    const now = Date.now();
    let sessionsAudited = 0;
    let lostAtAudit = 0;
    let revokedLiveAtAudit = 0;
    let familiesAudited = 0;
    let familiesForkedAtAudit = 0;
    let familiesLostAtAudit = 0;
    const checks: (() => Promise<void>)[] = [];
    for (const client of clients) {
      for (const held of client.live.values()) {
        checks.push(async () => {
          if (!(await patiently(() => auditStore.get(held.id, now)))) lostAtAudit++;
        });
      }
      for (const dead of client.dead) {
        checks.push(async () => {
          if (await patiently(() => auditStore.get(dead.id, now))) revokedLiveAtAudit++;
        });
      }
      const family = client.family;
      if (family) {
        familiesAudited++;
        checks.push(async () => {
          const stored = await patiently(() => auditStore.getRefreshFamily(family.familyId, now));
          if (!stored || stored.revokedAt !== null) familiesLostAtAudit++;
          else if (stored.currentHash !== hashSecret(family.token.split('.')[1] as string)) familiesForkedAtAudit++;
        });
      }
      sessionsAudited += client.live.size + client.dead.length;
    }
    await inBatches(checks, 16);
    log(`  ${counters.requests} requests; audited ${sessionsAudited} sessions, ${familiesAudited} refresh families`);
    return {
      name: spec.name,
      servers: spec.adapters.join(' + '),
      counters,
      sessionsAudited,
      lostAtAudit,
      revokedLiveAtAudit,
      familiesAudited,
      familiesForkedAtAudit,
      familiesLostAtAudit,
      memoryBefore,
      memoryMiddle: await memoryMiddle,
      memoryMiddleAtMs,
      memoryAfter,
      faults,
      sweep,
      redis,
    };
  } finally {
    await Promise.all(servers.map(stopServer));
    await auditStore.close?.();
    await backend.destroy();
  }
}

/**
 * Each Node demo as a child process on the stores people deploy (`SESSION_STORE=redis` and
 * `postgres`, real servers): sign up, log in, the sessions page, revoke another device, the
 * throttle's counters and the sessions under the demo's own namespace, and a restart of the
 * process that the session survives. Plus the startup refusals: a bad `SESSION_STORE` value or an
 * unreachable server ends the process with one line naming the variable.
 *
 * Without Redis or PostgreSQL the store suites are skipped with a warning, except under CI=true,
 * where the missing service fails them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { DEFAULT_TABLES } from '@org/session-store-postgres';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL } from '../src/config.js';
import { DemoClient } from '../test-support/client.js';
import { makeDataDir, removeDataDir } from '../test-support/data-dir.js';

const PASSWORD = 'correct horse battery';
const START_TIMEOUT_MS = 90_000;
const inCI = process.env.CI === 'true';

/** How to start one demo as its own process on a given port. */
export interface DemoLauncher {
  /** As the banner names it: `Express`, `Fastify`, `Hono on Node`, `Next.js`. */
  framework: string;
  /** The app's folder (the process's working directory). */
  cwd: string;
  /** The command line (argv[0] is run with the test's Node) for a port. */
  args(port: number): string[];
  /** Extra environment (a build folder, NODE_ENV). */
  env?: () => Record<string, string>;
}

export interface RunningProcess {
  origin: string;
  output(): string;
  stop(): Promise<number | null>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function spawnDemo(launcher: DemoLauncher, port: number, env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, launcher.args(port), {
    cwd: launcher.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...launcher.env?.(), ...env, PORT: String(port), HOST: '127.0.0.1' },
  });
}

function collect(child: ChildProcess): () => string {
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  return () => output;
}

/** Starts the demo and waits for its banner and a first page; throws with its output if it exits first. */
export async function startDemoProcess(
  launcher: DemoLauncher,
  port: number,
  env: Record<string, string>,
): Promise<RunningProcess> {
  const child = spawnDemo(launcher, port, env);
  const output = collect(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  const origin = `http://localhost:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`the ${launcher.framework} demo exited (${child.exitCode}):\n${output()}`);
    if (output().includes(`session demo (${launcher.framework}) on ${origin}`)) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/login`);
        await response.arrayBuffer();
        if (response.status === 200) return { origin, output, stop };
      } catch {
        // not answering yet
      }
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the ${launcher.framework} demo did not start within ${START_TIMEOUT_MS} ms:\n${output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Runs the demo until it exits by itself (a refused start); kills it if it is still up after the timeout. */
export async function runUntilExit(
  launcher: DemoLauncher,
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const child = spawnDemo(launcher, await freePort(), env);
  const output = collect(child);
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), START_TIMEOUT_MS);
    child.once('exit', (exit) => {
      clearTimeout(timer);
      resolve(exit);
    });
  });
  return { code, output: output() };
}

type StoreKind = 'redis' | 'postgres';

/**
 * The settings of the README's "Run the demo on Redis or PostgreSQL" commands, so the tests run
 * what the README tells users to run: `SESSION_STORE=<kind> <URL variable>=<url> pnpm demo`.
 */
export function readmeStoreSettings(kind: StoreKind): Record<string, string> {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const block = /### Run the demo on Redis or PostgreSQL\n[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error('README.md has no sh block under "### Run the demo on Redis or PostgreSQL"');
  const line = block.split('\n').find((candidate) => candidate.startsWith(`SESSION_STORE=${kind} `));
  if (!line) throw new Error(`README.md's block has no SESSION_STORE=${kind} command`);
  const words = line.trim().split(/\s+/);
  const command = words.slice(words.findIndex((word) => !/^[A-Z_]+=/.test(word)));
  if (command.join(' ') !== 'pnpm demo') throw new Error(`README.md's ${kind} command runs ${command.join(' ')}`);
  const settings = Object.fromEntries(
    words
      .filter((word) => /^[A-Z_]+=/.test(word))
      .map((word) => [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)]),
  );
  expect(Object.keys(settings).sort()).toEqual(
    ['SESSION_STORE', kind === 'redis' ? 'REDIS_URL' : 'DATABASE_URL'].sort(),
  );
  return settings;
}

async function serviceProblem(kind: StoreKind): Promise<string | null> {
  if (kind === 'redis') {
    const client = new Redis(DEFAULT_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      return null;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    } finally {
      client.disconnect();
    }
  }
  const client = new pg.Client({ connectionString: DEFAULT_DATABASE_URL, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const problems = {
  redis: await serviceProblem('redis'),
  postgres: await serviceProblem('postgres'),
};
for (const [kind, problem] of Object.entries(problems)) {
  if (problem !== null && !inCI) console.warn(`[demo store tests] skipping ${kind}: ${problem}; CI=true fails instead`);
}

/** The keys (Redis) or rows (PostgreSQL) the demo wrote under its namespace: sessions and throttle counters. */
async function storedUnder(kind: StoreKind, namespace: string): Promise<{ sessions: number; counters: number }> {
  if (kind === 'redis') {
    const client = new Redis(DEFAULT_REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      const count = async (pattern: string) => {
        let cursor = '0';
        let found = 0;
        for (let round = 0; round < 1000; round++) {
          const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
          found += keys.length;
          cursor = next;
          if (cursor === '0') break;
        }
        return found;
      };
      return { sessions: await count(`${namespace}:sess:s:*`), counters: await count(`${namespace}:throttle:*`) };
    } finally {
      client.disconnect();
    }
  }
  const pool = new pg.Pool({ connectionString: DEFAULT_DATABASE_URL, max: 1 });
  try {
    const rows = async (table: string) =>
      Number((await pool.query(`SELECT count(*) AS n FROM "${namespace}"."${table}"`)).rows[0].n);
    return { sessions: await rows(DEFAULT_TABLES.sessions), counters: await rows('session_attempts') };
  } finally {
    await pool.end();
  }
}

async function dropNamespace(kind: StoreKind, namespace: string): Promise<void> {
  if (kind === 'redis') {
    const client = new Redis(DEFAULT_REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      let cursor = '0';
      for (let round = 0; round < 1000; round++) {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 500);
        if (keys.length > 0) await client.del(...keys);
        cursor = next;
        if (cursor === '0') break;
      }
    } finally {
      client.disconnect();
    }
    return;
  }
  const pool = new pg.Pool({ connectionString: DEFAULT_DATABASE_URL, max: 1 });
  try {
    await pool.query(`DROP SCHEMA IF EXISTS "${namespace}" CASCADE`);
  } finally {
    await pool.end();
  }
}

async function signUpAndLogIn(origin: string, email: string): Promise<DemoClient> {
  const signer = new DemoClient(origin);
  await signer.get('/signup');
  const signedUp = await signer.post('/signup', { email, password: PASSWORD });
  expect(signedUp.status).toBe(303);
  return logIn(origin, email, 'demo-store-test/1.0 (Linux)');
}

async function logIn(origin: string, email: string, userAgent: string): Promise<DemoClient> {
  const client = new DemoClient(origin, { userAgent });
  await client.get('/login');
  const loggedIn = await client.post('/login', { email, password: PASSWORD });
  expect(loggedIn.status).toBe(303);
  expect(loggedIn.location).toBe('/sessions');
  return client;
}

/**
 * The store scenarios for one demo: on Redis and on PostgreSQL (each under a namespace of its
 * own, dropped afterwards), and the refused starts.
 */
export function describeStoreScenarios(launcher: DemoLauncher): void {
  for (const kind of ['redis', 'postgres'] as const) {
    describe.skipIf(problems[kind] !== null && !inCI)(`the ${launcher.framework} demo on ${kind}`, () => {
      const namespace = `test_demo_${randomBytes(4).toString('hex')}`;
      let dataDir: string;
      let port: number;
      let demo: RunningProcess | undefined;
      // The README's command for this store, in a namespace and data folder of the test's own.
      const env = () => ({ ...readmeStoreSettings(kind), SESSION_STORE_NAMESPACE: namespace, DATA_DIR: dataDir });

      beforeAll(async () => {
        if (problems[kind] !== null) throw new Error(`${kind} is required under CI=true: ${problems[kind]}`);
        dataDir = makeDataDir();
        port = await freePort();
        demo = await startDemoProcess(launcher, port, env());
      });
      afterAll(async () => {
        await demo?.stop();
        if (problems[kind] === null) await dropNamespace(kind, namespace);
        if (dataDir) removeDataDir(dataDir);
      });

      it('signs up, logs in, lists and revokes sessions, and keeps the session across a restart', async () => {
        const running = demo as RunningProcess;
        expect(running.output()).toContain(`store: ${kind} at`);
        expect(running.output()).toContain(`users in SQLite in ${dataDir}`);
        const email = `store-${kind}@example.com`;
        const laptop = await signUpAndLogIn(running.origin, email);
        const phone = await logIn(running.origin, email, 'demo-store-phone/1.0 (Android)');
        // A wrong password: counted by the throttle on the same store.
        const stranger = new DemoClient(running.origin);
        await stranger.get('/login');
        expect((await stranger.post('/login', { email, password: 'wrong password' })).status).toBe(401);

        const page = await laptop.get('/sessions');
        expect(page.status).toBe(200);
        expect(page.body).toContain(email);
        expect(page.body.match(/data-session="/g)?.length).toBe(2);
        const stored = await storedUnder(kind, namespace);
        expect(stored.sessions).toBeGreaterThanOrEqual(2);
        expect(stored.counters).toBeGreaterThanOrEqual(1);

        // Revoke the phone from the laptop: the phone is logged out.
        const phoneHandle = /name="session" value="([0-9a-f]+)"/.exec(page.body)?.[1];
        expect(phoneHandle).toBeDefined();
        const revoked = await laptop.post('/sessions/revoke', { session: phoneHandle as string });
        expect(revoked.status).toBe(303);
        expect(revoked.location).toBe('/sessions?done=revoked');
        const phoneAfter = await phone.get('/sessions');
        expect(phoneAfter.status).toBe(303);
        expect(phoneAfter.location).toMatch(/^\/login/);

        // Restart the process on the same port: the laptop's session lives in the store, not in memory.
        expect(await running.stop()).toBe(0);
        demo = await startDemoProcess(launcher, port, env());
        const again = await laptop.get('/sessions');
        expect(again.status).toBe(200);
        expect(again.body).toContain(email);
        expect(again.body.match(/data-session="/g)?.length).toBe(1);
        expect((await phone.get('/sessions')).status).toBe(303);
      });
    });
  }

  describe(`the ${launcher.framework} demo refuses to start on a bad store setting`, () => {
    it('a SESSION_STORE it does not know: exit code 1 and one line naming the variable', async () => {
      const dataDir = makeDataDir();
      try {
        const { code, output } = await runUntilExit(launcher, { SESSION_STORE: 'mongodb', DATA_DIR: dataDir });
        expect(code).not.toBe(0);
        expect(output).toContain('SESSION_STORE must be one of "sqlite", "memory", "redis", "postgres"');
        expect(output).not.toMatch(/^\s+at /m); // no stack trace
      } finally {
        removeDataDir(dataDir);
      }
    });

    it('an unreachable Redis or PostgreSQL: exit code 1 naming REDIS_URL or DATABASE_URL', async () => {
      const dataDir = makeDataDir();
      const closed = await freePort(); // nothing listens there
      try {
        const redis = await runUntilExit(launcher, {
          SESSION_STORE: 'redis',
          REDIS_URL: `redis://127.0.0.1:${closed}`,
          DATA_DIR: dataDir,
        });
        expect(redis.code).not.toBe(0);
        expect(redis.output).toContain(`cannot reach Redis at REDIS_URL=redis://127.0.0.1:${closed}`);
        expect(redis.output).not.toMatch(/^\s+at /m);
        const postgres = await runUntilExit(launcher, {
          SESSION_STORE: 'postgres',
          DATABASE_URL: `postgres://postgres@127.0.0.1:${closed}/test`,
          DATA_DIR: dataDir,
        });
        expect(postgres.code).not.toBe(0);
        expect(postgres.output).toContain(
          `cannot reach PostgreSQL at DATABASE_URL=postgres://postgres@127.0.0.1:${closed}/test`,
        );
        expect(postgres.output).not.toMatch(/^\s+at /m);
      } finally {
        removeDataDir(dataDir);
      }
    });
  });
}

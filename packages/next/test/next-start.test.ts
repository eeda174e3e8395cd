/**
 * The fixture app under the real `next start` CLI, in its own process (the other test files serve
 * the same build in-process to share the suite's manager). Black-box: the app keeps its sessions in
 * its own MemoryStore, so this checks the wiring (cookie flags, guards, CSRF, proxy, edge route)
 * of the production server as users run it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fixtureDir } from './support/fixture-build.js';

const SID = '__Host-sid';
const PRE = '__Host-pre';
const STARTUP_MS = 60_000;
let child: ChildProcess | undefined;
let url = '';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  const require = createRequire(join(fixtureDir, 'package.json'));
  const nextBin = join(dirname(require.resolve('next/package.json')), 'dist', 'bin', 'next');
  child = spawn(process.execPath, [nextBin, 'start', '--hostname', '127.0.0.1', '--port', String(port)], {
    cwd: fixtureDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      NODE_ENV: 'production',
      NEXT_TELEMETRY_DISABLED: '1',
      FIXTURE_DIST_DIR: inject('fixtureDistDir'),
      FIXTURE_STANDALONE: '1',
      FIXTURE_CSRF_KEY: randomBytes(32).toString('hex'),
      FIXTURE_ORIGIN: url,
    },
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  // Ready when it answers; bounded.
  const deadline = Date.now() + STARTUP_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`next start exited (${child.exitCode}):\n${output.slice(-2000)}`);
    try {
      await fetch(`${url}/me`);
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`next start did not answer within ${STARTUP_MS} ms:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
});
afterAll(async () => {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child?.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child?.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
});

const cookieOf = (res: Response, name: string) =>
  res.headers.getSetCookie().find((line) => line.startsWith(`${name}=`));
const cookieValue = (line: string | undefined) => line?.slice(line.indexOf('=') + 1, line.indexOf(';'));

describe('fixture app under `next start`', () => {
  it('logs in through the CSRF flow with exact cookie flags, guards, and logs out', async () => {
    expect((await fetch(`${url}/private`)).status).toBe(401);
    const csrf = await fetch(`${url}/csrf`);
    const pre = cookieValue(cookieOf(csrf, PRE)) as string;
    const { csrfToken } = (await csrf.json()) as { csrfToken: string };
    const login = await fetch(`${url}/login`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        origin: url,
        'x-csrf-token': csrfToken,
        cookie: `${PRE}=${pre}`,
      },
      body: JSON.stringify({ userId: 'cli-user' }),
    });
    expect(login.status).toBe(200);
    const line = cookieOf(login, SID) as string;
    expect(line).toMatch(/^__Host-sid=[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Lax$/);
    expect(login.headers.get('cache-control')).toContain('no-store');
    const sid = cookieValue(line) as string;

    const me = await fetch(`${url}/private`, { headers: { cookie: `${SID}=${sid}` } });
    expect(await me.json()).toEqual({ userId: 'cli-user' });
    expect(me.headers.get('cache-control')).toContain('no-store');

    const crossSite = await fetch(`${url}/logout`, {
      method: 'POST',
      headers: { cookie: `${SID}=${sid}`, origin: 'https://attacker.example', 'sec-fetch-site': 'cross-site' },
    });
    expect(crossSite.status).toBe(403);

    const bound = (await (await fetch(`${url}/csrf`, { headers: { cookie: `${SID}=${sid}` } })).json()) as {
      csrfToken: string;
    };
    const logout = await fetch(`${url}/logout`, {
      method: 'POST',
      headers: {
        cookie: `${SID}=${sid}`,
        origin: url,
        'sec-fetch-site': 'same-origin',
        'x-csrf-token': bound.csrfToken,
      },
    });
    expect(logout.status).toBe(200);
    expect(cookieOf(logout, SID)).toContain('Max-Age=0');
    expect((await fetch(`${url}/private`, { headers: { cookie: `${SID}=${sid}` } })).status).toBe(401);
  });

  it("runs proxy.ts (redirect to sign-in with next=) and the runtime = 'edge' route", async () => {
    const res = await fetch(`${url}/account?tab=1`, { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(new URL(res.headers.get('location') as string, url).searchParams.get('next')).toBe('/account?tab=1');
    const edge = await fetch(`${url}/edge-jwt`, { headers: { authorization: 'Bearer not.a.jwt' } });
    expect(edge.status).toBe(401);
  });
});

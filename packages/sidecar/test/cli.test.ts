import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createSessionManager, MemoryStore } from '@org/session-core';
import { createJwtKeySet, createSessionJwt, generateSigningKey } from '@org/session-core/jwt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/run.js';
import { httpRequest, tempDir } from './support.js';

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

interface Run {
  child: ChildProcess;
  stderr: () => string;
  stdout: () => string;
  exited: Promise<number | null>;
}

function run(args: string[], env: Record<string, string> = {}): Run {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SESSION_SIDECAR_')));
  const child = spawn(process.execPath, ['--conditions=@org/source', '--import', 'tsx', cli, ...args], {
    cwd: repoRoot,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stderr: () => stderr, stdout: () => stdout, exited };
}

/** The CLI's main function in this process (the two tests above run the real bin). */
async function inProcess(args: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const status = await runCli(args, env, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    stopSignal: () => Promise.resolve('test'),
  });
  return { status, stdout, stderr };
}

/** Waits for the "listening on <url>" line, at most 15 s. */
async function listeningUrl(running: Run): Promise<string> {
  for (let i = 0; i < 150; i++) {
    const match = /listening on (http:\/\/\S+)/.exec(running.stderr());
    if (match) return match[1] as string;
    if (running.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  running.child.kill('SIGKILL');
  throw new Error(`the CLI did not start: ${running.stderr()}`);
}

describe('session-sidecar CLI', () => {
  const files = tempDir('cli');
  let jwksFile = '';
  let jwt = '';

  beforeAll(async () => {
    const manager = createSessionManager({ store: new MemoryStore() });
    const jwts = createSessionJwt({
      manager,
      keys: createJwtKeySet({ active: await generateSigningKey() }),
      issuer: 'https://auth.test',
      audience: 'orders',
    });
    jwksFile = files.file('jwks.json', JSON.stringify(jwts.jwks()));
    const { session } = await manager.create({ userId: 'cli-user' });
    jwt = (await jwts.issue(session)).token;
  });
  afterAll(() => files.remove());

  it('starts from --config, answers, and exits 0 on SIGTERM', async () => {
    const config = files.file(
      'sidecar.json',
      JSON.stringify({
        mode: 'stateless',
        listen: { host: '127.0.0.1', port: 0 },
        jwt: { issuer: 'https://auth.test', audience: 'orders', jwksFile },
      }),
    );
    const running = run(['--config', config]);
    const url = await listeningUrl(running);
    expect(running.stderr()).toContain('stateless mode');
    expect((await httpRequest(`${url}/healthz`)).status).toBe(200);
    const answer = await httpRequest(`${url}/auth`, { headers: { authorization: `Bearer ${jwt}` } });
    expect(answer.status).toBe(200);
    expect(answer.headers['x-auth-user-id']).toBe('cli-user');
    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
  });

  it('starts from SESSION_SIDECAR_* variables', async () => {
    const running = run([], {
      SESSION_SIDECAR_MODE: 'stateless',
      SESSION_SIDECAR_PORT: '0',
      SESSION_SIDECAR_JWT_ISSUER: 'https://auth.test',
      SESSION_SIDECAR_JWT_AUDIENCE: 'orders,billing',
      SESSION_SIDECAR_JWKS_FILE: jwksFile,
    });
    const url = await listeningUrl(running);
    expect((await httpRequest(`${url}/auth`, { headers: { authorization: `Bearer ${jwt}` } })).status).toBe(200);
    running.child.kill('SIGINT');
    expect(await running.exited).toBe(0);
  });

  it('exits 2 with a stable code for each configuration error', async () => {
    const cases: Array<[string, string[], Record<string, string>, string]> = [
      [
        'remote mode without remote',
        ['--config', files.file('remote.json', '{"mode":"remote"}')],
        {},
        'CONFIG_REQUIRED',
      ],
      ['no configuration', [], {}, 'CONFIG_MISSING'],
      ['invalid JSON', ['--config', files.file('bad.json', '{mode:')], {}, 'CONFIG_JSON_INVALID'],
      ['a missing file', ['--config', `${files.path}/nope.json`], {}, 'CONFIG_FILE_UNREADABLE'],
      [
        'an unknown field',
        ['--config', files.file('typo.json', '{"mode":"store","stor":{}}')],
        {},
        'CONFIG_UNKNOWN_FIELD',
      ],
      ['an unknown variable', [], { SESSION_SIDECAR_MOED: 'store' }, 'CONFIG_UNKNOWN_ENV'],
      [
        'a file and variables together',
        ['--config', files.file('both.json', '{"mode":"store"}')],
        { SESSION_SIDECAR_MODE: 'store' },
        'CONFIG_CONFLICT',
      ],
      ['an unknown argument', ['--verbose'], {}, 'CONFIG_INVALID_VALUE'],
    ];
    for (const [label, args, env, code] of cases) {
      const { status, stderr } = await inProcess(args, env);
      expect(status, label).toBe(2);
      expect(stderr, label).toContain(`configuration error ${code}:`);
    }
  });

  it('--check validates (and imports the keys) without listening', async () => {
    const config = files.file(
      'check.json',
      JSON.stringify({ mode: 'stateless', jwt: { issuer: 'https://auth.test', audience: 'orders', jwksFile } }),
    );
    const checked = await inProcess(['--config', config, '--check']);
    expect(checked.status).toBe(0);
    expect(checked.stdout).toContain('configuration ok (mode stateless)');
    const help = await inProcess(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: session-sidecar');
  });
});

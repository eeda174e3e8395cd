/**
 * The README's promise about stopping the demo: Ctrl-C in the terminal running `pnpm demo` (SIGINT to
 * the whole process group, as a terminal sends it) ends it with status 0 and no pnpm failure banner.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');

it('Ctrl-C stops `pnpm demo` quietly (exit 0, no failure banner)', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'demo-ctrl-c-'));
  const child = spawn('pnpm', ['demo'], {
    cwd: root,
    detached: true, // its own process group, like a terminal's foreground job
    env: { ...process.env, PORT: '0', DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  try {
    const started = Date.now();
    while (!output.includes('session demo (Express) on') && Date.now() - started < 50_000) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(output).toContain('session demo (Express) on');
    process.kill(-(child.pid as number), 'SIGINT');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
    expect(code).toBe(0);
    expect(output).not.toMatch(/ELIFECYCLE|ERR_PNPM|Command failed/);
  } finally {
    if (child.exitCode === null) process.kill(-(child.pid as number), 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 70_000);

/**
 * Runs scripts/check-core-purity.mjs: the neutral bundle, the lint probe and the source scan pass
 * for core as it is, and the bundle check does fail when an entry reaches a Node built-in.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const script = join(repoRoot, 'scripts/check-core-purity.mjs');

function runCheck(...args: string[]) {
  return spawnSync(process.execPath, [script, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
}

describe('scripts/check-core-purity.mjs', () => {
  it('passes for core: no Node built-in in the neutral bundle, lint rules fire, no Math.random', () => {
    const run = runCheck();
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('PASS bundle');
    expect(run.stdout).toContain('PASS lint probe');
    expect(run.stdout).toContain('PASS source');
    expect(run.status).toBe(0);
  });

  it('fails (exit 1) and names the import when an entry reaches a Node built-in', () => {
    const dir = mkdtempSync(join(tmpdir(), 'impure-'));
    try {
      const entry = join(dir, 'entry.ts');
      const core = join(repoRoot, 'packages/core/src/index.ts');
      writeFileSync(entry, `export * from ${JSON.stringify(core)};\nexport { createHash } from 'node:crypto';\n`);
      const run = runCheck('--bundle', `--entry=${entry}`);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('FAIL bundle');
      expect(run.stderr).toContain('node:crypto');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an unknown option with exit 2', () => {
    expect(runCheck('--everything').status).toBe(2);
  });
});

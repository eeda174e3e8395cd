import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');

/** A temp directory per test file, removed afterwards. */
export function tempDir(label: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `session-sqlite-${label}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** One app instance in its own Node process (test/fixtures/instance.ts), reporting JSON lines. */
export interface Instance {
  /** The next JSON line the instance prints. */
  next(): Promise<Record<string, unknown>>;
  go(): void;
  exited: Promise<number | null>;
}

export function startInstance(args: string[]): Instance {
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    ['--conditions=@org/source', '--import', 'tsx', join(here, 'fixtures', 'instance.ts'), ...args],
    { cwd: repoRoot, stdio: 'pipe' },
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    next: async () => {
      const { value, done } = await lines.next();
      if (done) throw new Error(`instance ended without output: ${stderr.slice(-2000)}`);
      return JSON.parse(value as string) as Record<string, unknown>;
    },
    go: () => {
      child.stdin.write('go\n');
    },
    exited,
  };
}

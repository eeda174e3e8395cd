import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** This run's build folder, relative to the app (its `distDir`). */
    demoDistDir: string;
  }
}

const appDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const BUILD_TIMEOUT_MS = 8 * 60_000;

/** One `next build` of the demo per test run, into its own folder (a running demo keeps `.next`); removed afterwards. */
export default async function setup(project: TestProject): Promise<() => void> {
  const distDir = `.next/test-${process.pid}`;
  const child = spawn(process.execPath, [join(appDir, 'node_modules/next/dist/bin/next'), 'build', '--webpack'], {
    cwd: appDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DEMO_DIST_DIR: distDir, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1' },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), BUILD_TIMEOUT_MS);
    child.once('exit', (exit) => {
      clearTimeout(timer);
      resolve(exit);
    });
  });
  // Next rewrites it on every build, pointing into this run's folder.
  rmSync(join(appDir, 'next-env.d.ts'), { force: true });
  const remove = () => rmSync(join(appDir, distDir), { recursive: true, force: true });
  if (code !== 0) {
    remove();
    throw new Error(`next build of demo-next failed (${code}):\n${output.slice(-4000)}`);
  }
  project.provide('demoDistDir', distDir);
  return remove;
}

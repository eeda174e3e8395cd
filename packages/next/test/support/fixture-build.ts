import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const fixtureDir = join(here, '..', 'fixture-app');
const BUILD_TIMEOUT_MS = 8 * 60_000;

/**
 * `next build` of a Next app directory (webpack), bounded in time; the output's error tail on
 * failure.
 */
export async function nextBuild(dir: string, env: Record<string, string> = {}): Promise<void> {
  const require = createRequire(join(dir, 'package.json'));
  const nextBin = join(dirname(require.resolve('next/package.json')), 'dist', 'bin', 'next');
  const child = spawn(process.execPath, [nextBin, 'build', '--webpack'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1' },
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
  if (code !== 0) throw new Error(`next build in ${dir} failed (${code}):\n${output.slice(-4000)}`);
}

/**
 * Builds the fixture app for this test run into its own folder (`.next/run-<pid>`, its `distDir`
 * through `FIXTURE_DIST_DIR`), so runs at the same time never serve a build another is rewriting.
 */
export async function buildFixtureApp(): Promise<{ distDir: string; remove(): void }> {
  const distDir = `.next/run-${process.pid}`;
  await nextBuild(fixtureDir, { FIXTURE_DIST_DIR: distDir });
  // Next writes it on every build, pointing into this run's folder; the package's tsconfig needs none of it.
  rmSync(join(fixtureDir, 'next-env.d.ts'), { force: true });
  return { distDir, remove: () => rmSync(join(fixtureDir, distDir), { recursive: true, force: true }) };
}

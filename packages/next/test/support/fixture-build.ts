import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const fixtureDir = join(here, '..', 'fixture-app');
const packageRoot = join(here, '..', '..');
const coreSrc = join(packageRoot, '..', 'core', 'src');
const BUILD_TIMEOUT_MS = 8 * 60_000;

/** Everything the build reads that we own: a changed file means a new build. */
function inputsHash(): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (name === '.next' || name === 'node_modules' || name === 'next-env.d.ts') continue;
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else hash.update(path).update(readFileSync(path));
    }
  };
  for (const dir of [fixtureDir, join(packageRoot, 'src'), coreSrc]) walk(dir);
  return hash.digest('hex');
}

/**
 * `next build` of a Next app directory (webpack), bounded in time; the output's error tail on
 * failure. With a stamp file, an unchanged app is not built again.
 */
export async function nextBuild(dir: string, stamp?: { file: string; inputs: string }): Promise<void> {
  if (stamp && existsSync(stamp.file) && readFileSync(stamp.file, 'utf8') === stamp.inputs) return;
  const require = createRequire(join(dir, 'package.json'));
  const nextBin = join(dirname(require.resolve('next/package.json')), 'dist', 'bin', 'next');
  const child = spawn(process.execPath, [nextBin, 'build', '--webpack'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1' },
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
  if (stamp) writeFileSync(stamp.file, stamp.inputs);
}

/** Builds the fixture app once per test run (skipped when nothing it reads has changed). */
export async function buildFixtureApp(): Promise<void> {
  await nextBuild(fixtureDir, { file: join(fixtureDir, '.next', 'fixture-inputs'), inputs: inputsHash() });
}

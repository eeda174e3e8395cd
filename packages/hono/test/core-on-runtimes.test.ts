/**
 * Core's own pure test files (the ones without `.node` in the name: Web APIs only) run under Bun
 * and Deno, unchanged: each file is bundled with `vitest` mapped to a small shim carrying vitest's
 * own `expect` (core-on-runtimes/vitest-shim.ts), run by the runtime in its own process, and its
 * counts asserted here, one vitest test per file and runtime, so CI counts them. Files that need
 * vitest's mocking (`vi`) stay on Node and are listed as skipped.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShimResult } from './core-on-runtimes/vitest-shim.js';

const here = dirname(fileURLToPath(import.meta.url));
const coreTests = join(here, '..', '..', 'core', 'test');
const shim = join(here, 'core-on-runtimes', 'vitest-shim.ts');
const require = createRequire(import.meta.url);
const onCi = process.env.CI === 'true';
/** No colours, no update check, no telemetry: the runtimes talk to nothing but loopback. */
const quietRuntime = { NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1', DO_NOT_TRACK: '1' };
const RUN_MS = 120_000;

/** Core's Web-only test files that run on every runtime. */
const files = [
  'cookie-types.test.ts',
  'csrf.test.ts',
  'encoding.test.ts',
  'errors-http.test.ts',
  'events-binding.test.ts',
  'expiry.test.ts',
  'hash.test.ts',
  'hostile-input.test.ts',
  'hybrid.test.ts',
  'jwt-cache.test.ts',
  'jwt-keys.test.ts',
  'jwt-vectors.test.ts',
  'jwt-wycheproof.test.ts',
  'memory-store.test.ts',
  'policy.test.ts',
  'refresh.test.ts',
  'request-context.test.ts',
  'security.test.ts',
  'sync-read.test.ts',
  'token.test.ts',
  'vectors.test.ts',
];
/** Pure, but they use vitest's mocking (`vi.spyOn`, fake timers), which the shim does not offer. */
const needsVi = ['cookie.test.ts', 'jwt-session.test.ts', 'jwt-tampered.test.ts', 'manager.test.ts'];

const packageDir = (name: string) => {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    return null;
  }
};
const runtimes = [
  { name: 'bun', binary: join(packageDir('bun') ?? '/nonexistent', 'bin', 'bun.exe'), args: [] as string[] },
  {
    name: 'deno',
    binary: join(packageDir('deno') ?? '/nonexistent', 'deno'),
    args: ['run', '--no-lock', '--no-prompt', '--allow-read', '--allow-env'],
  },
];

let workDir = '';
/** The bundle of each file, or why it could not be built. */
const bundles = new Map<string, string | Error>();
const runs = new Map<string, Promise<Record<string, ShimResult>>>();

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'core-on-runtimes-'));
  await Promise.all(
    files.map(async (file) => {
      const result = await build({
        stdin: {
          contents: [
            `import { run } from ${JSON.stringify(shim)};`,
            `import ${JSON.stringify(join(coreTests, file))};`,
            'export default run;',
          ].join('\n'),
          resolveDir: here,
          loader: 'ts',
        },
        bundle: true,
        format: 'esm',
        platform: 'neutral',
        mainFields: ['module', 'main'],
        conditions: ['@org/source', 'import'],
        alias: { vitest: shim },
        // Core's package.json says sideEffects: false; a test file is nothing but side effects.
        ignoreAnnotations: true,
        target: 'es2022',
        write: false,
        logLevel: 'silent',
      }).catch((error: Error) => error);
      if (result instanceof Error) return void bundles.set(file, result);
      const name = file.replace(/\.ts$/, '.mjs');
      writeFileSync(join(workDir, name), result.outputFiles[0]?.text ?? '');
      bundles.set(file, `./${name}`);
    }),
  );
  // One process per runtime: it imports each file's bundle in turn and runs its tests.
  const built = [...bundles].filter((entry): entry is [string, string] => typeof entry[1] === 'string');
  writeFileSync(
    join(workDir, 'driver.mjs'),
    [
      `const bundles = ${JSON.stringify(built)};`,
      'const results = {};',
      'for (const [file, path] of bundles) {',
      '  try {',
      '    results[file] = await (await import(path)).default();',
      '  } catch (error) {',
      '    results[file] = { passed: 0, failed: 1, skipped: 0, failures: [{ name: "(import)", message: String(error) }] };',
      '  }',
      '}',
      "console.log('@@RESULT ' + JSON.stringify(results));",
    ].join('\n'),
  );
  // Both runtimes at once (one process each); each runtime's block awaits its own run.
  for (const runtime of runtimes) {
    if (!existsSync(runtime.binary)) continue;
    const run = runDriver(runtime.binary, runtime.args);
    run.catch(() => {}); // reported by the block that awaits it
    runs.set(runtime.name, run);
  }
}, 60_000);
afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

function runDriver(binary: string, args: string[]): Promise<Record<string, ShimResult>> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [...args, join(workDir, 'driver.mjs')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...quietRuntime },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('@@RESULT '));
      if (!line) return reject(new Error(`no result (exit ${code}):\n${err.slice(-3000)}${out.slice(-1000)}`));
      resolve(JSON.parse(line.slice('@@RESULT '.length)) as Record<string, ShimResult>);
    });
  });
}

for (const runtime of runtimes) {
  const missing = existsSync(runtime.binary) ? null : `no ${runtime.name} binary at ${runtime.binary}`;
  if (missing && !onCi) {
    describe.skip(`core's tests on ${runtime.name}: skipped, ${missing} (run pnpm install)`, () => {
      it('not run', () => {});
    });
    continue;
  }
  describe(`core's own tests on ${runtime.name}`, () => {
    let results: Record<string, ShimResult> = {};
    beforeAll(async () => {
      if (missing) throw new Error(`${runtime.name} is missing under CI: ${missing}`);
      results = await (runs.get(runtime.name) ?? Promise.reject(new Error('not started')));
      const total = Object.values(results).reduce((n, r) => n + r.passed, 0);
      console.info(`core's tests on ${runtime.name}: ${total} passed in ${Object.keys(results).length} files`);
    }, RUN_MS);
    for (const file of files) {
      it(file, () => {
        const bundle = bundles.get(file);
        if (bundle instanceof Error) throw bundle;
        const result = results[file];
        expect(result?.failures).toEqual([]);
        expect(result?.passed).toBeGreaterThan(0);
      });
    }
    for (const file of needsVi) it.skip(`${file}: not run on ${runtime.name}, it needs vitest's vi mocks`, () => {});
  });
}

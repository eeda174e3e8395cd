#!/usr/bin/env node
/**
 * Proves that @org/session-core is runtime-agnostic. Exit code 0 when every check passes, 1 when
 * one fails, 2 on a usage error.
 *
 *   node scripts/check-core-purity.mjs               all checks
 *   node scripts/check-core-purity.mjs --bundle      bundle core for a neutral platform and fail on
 *                                                    any Node built-in import, from core or from a
 *                                                    dependency (jose, @noble/hashes)
 *   node scripts/check-core-purity.mjs --lint-probe  show that the biome rules against `node:`
 *                                                    imports, Buffer, process and require fire on
 *                                                    core's source (and only there)
 *   node scripts/check-core-purity.mjs --source      fail on Math.random in core's source (A1)
 *
 * By default every runtime entry point of core's `exports` map is bundled (`.`, `./jwt`, `./csrf`,
 * `./refresh`, `./adapter`; not the test kits). `--entry=<file>` bundles that file instead (the
 * purity test uses it to show that the bundle check does fail on a Node built-in).
 *
 * Core's tests also run inside a Web-only runtime: the "core (edge-runtime)" vitest project and
 * packages/core/test/edge-vm.node.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const coreSource = join(root, 'packages/core/src');
const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

/** How core is bundled for a neutral platform (packages/core/test/edge-vm.node.test.ts does the same). */
const neutralBundleOptions = {
  bundle: true,
  platform: 'neutral',
  mainFields: ['module', 'main'],
  conditions: ['@org/source', 'import'],
  target: 'es2022',
  write: false,
  metafile: true,
  logLevel: 'silent',
};

function isBuiltin(specifier) {
  if (specifier.startsWith('node:')) return true;
  const bare = specifier.split('/')[0];
  return builtins.has(specifier) || builtins.has(bare);
}

/** Bundles core's entries for a neutral platform; returns the Node built-ins they reached, by importer. */
async function checkBundle() {
  const found = [];
  const result = await build({
    ...neutralBundleOptions,
    entryPoints: entries,
    format: 'esm',
    outdir: join(tmpdir(), 'session-core-neutral'),
    plugins: [
      {
        name: 'report-node-builtins',
        setup(pluginBuild) {
          pluginBuild.onResolve({ filter: /.*/ }, (args) => {
            if (!isBuiltin(args.path)) return undefined;
            found.push({ specifier: args.path, importer: relative(root, args.importer), kind: args.kind });
            return { path: args.path, external: true };
          });
        },
      },
    ],
  });
  const inputs = Object.keys(result.metafile.inputs);
  const packages = [...new Set(inputs.map(packageOf))].sort();
  const bytes = result.outputFiles.reduce((sum, file) => sum + file.contents.length, 0);
  console.log(
    `bundle: ${entries.length} entries, ${inputs.length} modules from ${packages.join(', ')}; ${bytes} bytes (neutral platform)`,
  );
  if (found.length > 0) {
    console.error('FAIL bundle: Node built-ins reached from core:');
    for (const hit of found) console.error(`  ${hit.specifier}  (${hit.kind} in ${hit.importer})`);
    return false;
  }
  console.log('PASS bundle: no Node built-in imported by core or its dependencies');
  return true;
}

function packageOf(input) {
  const match = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(input);
  return match ? match[1] : '@org/session-core';
}

/**
 * Runs the repository's biome configuration on a probe file placed at packages/core/src in a
 * scratch copy, and on the same file outside core, and checks that exactly the purity rules fire.
 */
function checkLintProbe() {
  const scratch = mkdtempSync(join(tmpdir(), 'core-purity-'));
  try {
    copyFileSync(join(root, 'biome.json'), join(scratch, 'biome.json'));
    const probe = [
      "import { readFileSync } from 'node:fs';",
      "import path from 'path';",
      "export const bytes = Buffer.from('x');",
      'export const env = process.env.HOME;',
      "export const loaded = require('crypto');",
      'export const used = [readFileSync, path];',
      '',
    ].join('\n');
    for (const folder of ['packages/core/src', 'packages/express/src']) {
      mkdirSync(join(scratch, folder), { recursive: true });
      writeFileSync(join(scratch, folder, 'purity-probe.ts'), probe);
    }
    const biome = join(root, 'node_modules/.bin/biome');
    const run = spawnSync(biome, ['lint', '--reporter=json', '--max-diagnostics=200', 'packages'], {
      cwd: scratch,
      encoding: 'utf8',
    });
    let report;
    try {
      report = JSON.parse(run.stdout);
    } catch {
      console.error(`FAIL lint probe: biome gave no JSON report (exit ${run.status}): ${run.stderr.slice(0, 500)}`);
      return false;
    }
    const purityRules = new Set(['lint/correctness/noNodejsModules', 'lint/style/noRestrictedGlobals']);
    const hits = report.diagnostics
      .filter((d) => purityRules.has(d.category))
      .map(
        (d) =>
          `${d.location.path.startsWith('packages/core/') ? 'core' : 'other'}:${d.location.start.line}:${d.category.split('/').pop()}`,
      )
      .sort();
    const expected = [
      'core:1:noNodejsModules',
      'core:2:noNodejsModules',
      'core:3:noRestrictedGlobals',
      'core:4:noRestrictedGlobals',
      'core:5:noNodejsModules',
      'core:5:noRestrictedGlobals',
    ];
    if (JSON.stringify(hits) !== JSON.stringify(expected)) {
      console.error('FAIL lint probe: the purity rules did not fire as configured');
      console.error(`  expected ${expected.join(', ')}`);
      console.error(`  got      ${hits.join(', ') || '(nothing)'}`);
      return false;
    }
    console.log('PASS lint probe: node: imports, bare built-ins, Buffer, process and require are errors in core only');
    return true;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** A1: identifiers come from the CSPRNG only. */
function checkSource() {
  const offenders = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && /\bMath\.random\b/.test(readFileSync(path, 'utf8'))) {
        offenders.push(relative(root, path));
      }
    }
  };
  walk(coreSource);
  if (offenders.length > 0) {
    console.error(`FAIL source: Math.random in ${offenders.join(', ')} (use the injected RandomSource)`);
    return false;
  }
  console.log('PASS source: no Math.random in core');
  return true;
}

const checks = { '--bundle': checkBundle, '--lint-probe': checkLintProbe, '--source': checkSource };
const entryFlag = process.argv.find((arg) => arg.startsWith('--entry='));
const coreManifest = JSON.parse(readFileSync(join(root, 'packages/core/package.json'), 'utf8'));
const entries = entryFlag
  ? [entryFlag.slice('--entry='.length)]
  : Object.entries(coreManifest.exports)
      .filter(([key, value]) => !key.startsWith('./testing') && typeof value === 'object' && value['@org/source'])
      .map(([, value]) => join(root, 'packages/core', value['@org/source']));
const wanted = process.argv.slice(2).filter((arg) => arg !== entryFlag);
for (const flag of wanted) {
  if (!(flag in checks)) {
    console.error(`Unknown option ${flag}; use ${Object.keys(checks).join(', ')} or nothing for all`);
    process.exit(2);
  }
}
let ok = true;
for (const [flag, check] of Object.entries(checks)) {
  if (wanted.length > 0 && !wanted.includes(flag)) continue;
  ok = (await check()) && ok;
}
process.exit(ok ? 0 : 1);

#!/usr/bin/env node
// Packaging gate for every published package: publint --strict, are-the-types-wrong, and a consumer
// smoke test that packs the packages, installs the tarballs into a fresh project and loads each
// entry point through both `import` and `require`. Run after `pnpm build`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const packagesDir = join(root, 'packages');
const bin = (name) => join(root, 'node_modules', '.bin', name);

const packages = readdirSync(packagesDir)
  .map((dir) => ({ dir: join(packagesDir, dir), manifest: readJson(join(packagesDir, dir, 'package.json')) }))
  .filter((p) => p.manifest && !p.manifest.private && existsDist(p.dir));

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

function existsDist(dir) {
  try {
    return readdirSync(join(dir, 'dist')).length > 0;
  } catch {
    return false;
  }
}

let failures = 0;
function step(label, fn) {
  try {
    fn();
    console.log(`ok   ${label}`);
  } catch (error) {
    failures++;
    console.log(`FAIL ${label}`);
    const output = `${error.stdout ?? ''}${error.stderr ?? ''}` || error.message;
    console.log(String(output).split('\n').slice(-25).join('\n'));
  }
}

const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: 'pipe', encoding: 'utf8', timeout: 300_000 });

for (const { dir, manifest } of packages) {
  step(`${manifest.name}: publint --strict`, () => {
    const out = run(bin('publint'), ['--strict'], dir);
    if (!/All good/.test(out)) throw Object.assign(new Error('publint reported issues'), { stdout: out });
  });
  step(`${manifest.name}: are-the-types-wrong (node16, bundler)`, () => {
    run(bin('attw'), ['--pack', '.', '--profile', 'node16', '--format', 'table-flipped'], dir);
  });
}

// Consumer smoke test: what a user gets from the registry, installed with npm into an empty project.
const work = mkdtempSync(join(tmpdir(), 'session-consumer-'));
try {
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);
  for (const { dir } of packages) run('pnpm', ['pack', '--pack-destination', tarballs], dir);
  const files = readdirSync(tarballs);
  const app = join(work, 'app');
  mkdirSync(app);
  const dependencies = Object.fromEntries(
    packages.map(({ manifest }) => {
      const file = files.find((f) => f.startsWith(`${manifest.name.replace('@', '').replace('/', '-')}-`));
      return [manifest.name, `file:${join(tarballs, file)}`];
    }),
  );
  // Peer dependencies the packages declare (frameworks and drivers), at the versions we test with.
  for (const { manifest } of packages) {
    for (const [peer, range] of Object.entries(manifest.peerDependencies ?? {})) {
      if (peer.startsWith('@org/') || manifest.peerDependenciesMeta?.[peer]?.optional) continue;
      dependencies[peer] ??= manifest.devDependencies?.[peer] ?? range;
    }
  }
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, dependencies }, null, 2));
  step('consumer: npm install of the packed tarballs', () => {
    run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], app);
  });
  const entries = packages.flatMap(({ manifest }) =>
    Object.keys(manifest.exports ?? { '.': null })
      .filter((key) => key !== './package.json')
      .map((key) => (key === '.' ? manifest.name : `${manifest.name}/${key.slice(2)}`))
      // The suites entry imports vitest, an optional peer the consumer does not install; attw checks
      // it above. `./testing` itself must load without vitest.
      .filter((entry) => !entry.endsWith('/testing/vitest')),
  );
  // Beyond loading: a whole session round trip through the packed core, from ESM and from CJS.
  const roundTrip = `const s = createSessionManager({ store: new MemoryStore() });
    const { cookies } = await s.create({ userId: 'u1' });
    const r = await s.validateCookie(cookies[0].split(';')[0]);
    if (r.session?.userId !== 'u1') throw new Error('round trip failed');`;
  step('consumer: session round trip (ESM)', () => {
    run(
      'node',
      [
        '--input-type=module',
        '-e',
        `import { createSessionManager, MemoryStore } from '@org/session-core'; ${roundTrip}`,
      ],
      app,
    );
  });
  step('consumer: session round trip (CJS)', () => {
    run(
      'node',
      [
        '-e',
        `const { createSessionManager, MemoryStore } = require('@org/session-core'); (async () => { ${roundTrip} })().catch((e) => { console.error(e); process.exit(1); });`,
      ],
      app,
    );
  });
  for (const entry of entries) {
    step(`consumer: import('${entry}')`, () => {
      run(
        'node',
        [
          '--input-type=module',
          '-e',
          `const m = await import('${entry}'); if (!Object.keys(m).length) throw new Error('no exports');`,
        ],
        app,
      );
    });
    step(`consumer: require('${entry}')`, () => {
      run(
        'node',
        ['-e', `const m = require('${entry}'); if (!Object.keys(m).length) throw new Error('no exports');`],
        app,
      );
    });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

console.log(
  failures === 0
    ? `packages: all checks passed (${packages.length} packages)`
    : `packages: ${failures} check(s) failed`,
);
process.exit(failures === 0 ? 0 : 1);

#!/usr/bin/env node
// Packaging gate for every published package: publint --strict, are-the-types-wrong, and a consumer
// smoke test that packs the packages, installs the tarballs into a fresh project and loads each
// entry point through both `import` and `require`; then, with every peer and its types installed,
// a strict typecheck of every entry point's published declarations (node16 ESM and CJS, bundler).
// Run after `pnpm build`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const rootManifest = readJson(join(root, 'package.json'));
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

const run = (cmd, args, cwd, timeout = 300_000) =>
  execFileSync(cmd, args, { cwd, stdio: 'pipe', encoding: 'utf8', timeout });
// npm compiles better-sqlite3 from source where its prebuilt binary cannot be downloaded (no
// network but the registry): minutes on a loaded 2-CPU machine.
const NPM_INSTALL_TIMEOUT_MS = 20 * 60_000;

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
    run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], app, NPM_INSTALL_TIMEOUT_MS);
  });
  const entries = packages.flatMap(({ manifest }) =>
    Object.keys(manifest.exports ?? { '.': null })
      .filter((key) => key !== './package.json')
      .map((key) => (key === '.' ? manifest.name : `${manifest.name}/${key.slice(2)}`)),
  );
  // The suites entry imports vitest, an optional peer not installed yet; the typecheck below covers
  // it. `./testing` itself must load without vitest.
  const runtimeEntries = entries.filter((entry) => !entry.endsWith('/testing/vitest'));
  // Beyond loading: a whole session round trip through the packed core, from ESM and from CJS. A
  // manager from the main entry handed to another entry (CSRF) proves the entries share one module
  // state under both formats (shared chunks), as the manager's private runtime needs.
  const roundTrip = `const s = createSessionManager({ store: new MemoryStore() });
    const { cookies } = await s.create({ userId: 'u1' });
    const r = await s.validateCookie(cookies[0].split(';')[0]);
    if (r.session?.userId !== 'u1') throw new Error('round trip failed');
    createCsrfProtection({ key: new Uint8Array(32).fill(1), allowedOrigins: ['https://app.test'], manager: s });`;
  step('consumer: session round trip (ESM)', () => {
    run(
      'node',
      [
        '--input-type=module',
        '-e',
        `import { createSessionManager, MemoryStore } from '@org/session-core'; import { createCsrfProtection } from '@org/session-core/csrf'; ${roundTrip}`,
      ],
      app,
    );
  });
  step('consumer: session round trip (CJS)', () => {
    run(
      'node',
      [
        '-e',
        `const { createSessionManager, MemoryStore } = require('@org/session-core'); const { createCsrfProtection } = require('@org/session-core/csrf'); (async () => { ${roundTrip} })().catch((e) => { console.error(e); process.exit(1); });`,
      ],
      app,
    );
  });
  for (const entry of runtimeEntries) {
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

  // Strict typecheck of the published declarations, as a TypeScript user with skipLibCheck off
  // sees them (hardening item 17). Every peer is installed now, optional ones included (vitest,
  // @types/*), and @types/node as in any Node project. A declaration that fails under --strict, an
  // augmentation that resolves a name to the framework's own type, or a types package our
  // declarations need but no manifest declares as a peer (item 18) fails here.
  // A Next app also has React's and React DOM's types (create-next-app installs both): Next's own
  // declarations import them.
  const typePackages = {
    '@types/node': rootManifest.devDependencies['@types/node'],
    '@types/react': '^19.2.0',
    '@types/react-dom': '^19.2.0',
  };
  for (const { manifest } of packages) {
    for (const [peer, range] of Object.entries(manifest.peerDependencies ?? {})) {
      if (!peer.startsWith('@org/')) typePackages[peer] ??= manifest.devDependencies?.[peer] ?? range;
    }
  }
  step('consumer: npm install of every peer and its types', () => {
    const specs = Object.entries(typePackages).map(([name, range]) => `${name}@${range}`);
    run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...specs], app, NPM_INSTALL_TIMEOUT_MS);
  });
  // Next apps compile with the DOM lib (create-next-app's tsconfig has it), which Next's
  // declarations need. The Next entry is checked in programs of its own with that lib; every other
  // entry without it, as a Node server compiles them.
  const isNext = (entry) => entry === '@org/session-next' || entry.startsWith('@org/session-next/');
  const nodeEntries = entries.filter((entry) => !isNext(entry));
  const nextEntries = entries.filter(isNext);
  for (const extension of ['mts', 'cts', 'ts']) {
    writeFileSync(join(app, `consumer.${extension}`), consumerSource(nodeEntries));
    writeFileSync(join(app, `consumer-next.${extension}`), consumerSource(nextEntries));
  }
  const strict = {
    strict: true,
    skipLibCheck: false,
    noEmit: true,
    target: 'ES2022',
    esModuleInterop: true,
    forceConsistentCasingInFileNames: true,
  };
  // Node resolution from an ES module (`import` condition, .d.ts) and from a CommonJS one (`require`
  // condition, .d.cts), in separate programs as apps are (one program holding both would see each
  // augmentation twice). `module: node20` models the Node our engines field asks for, which can
  // require() an ES module such as jose; its resolution is node16's.
  const node = { ...strict, module: 'node20', moduleResolution: 'node16' };
  const bundler = { ...strict, module: 'esnext', moduleResolution: 'bundler' };
  // Next's declarations also use ES2024's PromiseWithResolvers.
  const dom = { lib: ['ES2024', 'DOM', 'DOM.Iterable'] };
  const configs = {
    'node16 (ESM)': { compilerOptions: node, files: ['consumer.mts'] },
    'node16 (CJS)': { compilerOptions: node, files: ['consumer.cts'] },
    bundler: { compilerOptions: bundler, files: ['consumer.ts'] },
  };
  if (nextEntries.length > 0) {
    Object.assign(configs, {
      'node16 (ESM), Next with the DOM lib': { compilerOptions: { ...node, ...dom }, files: ['consumer-next.mts'] },
      'node16 (CJS), Next with the DOM lib': { compilerOptions: { ...node, ...dom }, files: ['consumer-next.cts'] },
      'bundler, Next with the DOM lib': { compilerOptions: { ...bundler, ...dom }, files: ['consumer-next.ts'] },
    });
  }
  for (const [name, config] of Object.entries(configs)) {
    const file = `tsconfig.${name.replace(/\W+/g, '-')}.json`;
    writeFileSync(join(app, file), JSON.stringify(config, null, 2));
    step(`consumer: tsc --strict, skipLibCheck false, moduleResolution ${name}`, () => strictTypecheck(file, app));
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

/**
 * tsc over the consumer project. Errors inside a framework's own declarations are the framework's,
 * not ours: they are counted and reported, and only errors in our packages' declarations or in the
 * consumer module fail the step. With @types/react-dom installed and the DOM lib, Next 16.5's
 * declarations still fail under skipLibCheck false (create-next-app sets it true): they import
 * types Next does not ship (react-server-dom-webpack, members of its compiled webpack, sharp's,
 * @vercel/og's satori) and name URLPattern, which TypeScript 5.9's DOM lib lacks.
 */
function strictTypecheck(file, cwd) {
  try {
    run(bin('tsc'), ['-p', file], cwd);
    return undefined;
  } catch (error) {
    const output = `${error.stdout ?? ''}${error.stderr ?? ''}`;
    const errors = output.split('\n').filter((line) => /^\S+\(\d+,\d+\): error TS/.test(line));
    const foreign = errors.filter((line) => /^node_modules\//.test(line) && !/^node_modules\/@org\//.test(line));
    if (errors.length === 0 || foreign.length < errors.length) throw error;
    const owners = [
      ...new Set(
        foreign.map((line) =>
          line
            .split('/')
            .slice(1, line.startsWith('node_modules/@') ? 3 : 2)
            .join('/'),
        ),
      ),
    ];
    console.log(`     (${foreign.length} errors inside third-party declarations ignored: ${owners.join(', ')})`);
    return undefined;
  }
}

/**
 * A consumer module that imports every entry point and checks that what the adapters add to the
 * frameworks' types is typed. A broken augmentation makes the property `any` (an error type, which
 * even generic `IsAny` checks accept), so each property must refuse a number, and a validation
 * result must be what `sessionResult` holds.
 */
function consumerSource(entryPoints) {
  const names = entryPoints.map((_, i) => `entry${i}`);
  const lines = entryPoints.map((entry, i) => `import * as ${names[i]} from '${entry}';`);
  lines.push(`export const modules = [${names.join(', ')}];`);
  const result = "import('@org/session-core').ValidationResult<import('@org/session-core').SessionData> | null";
  const typed = (label, type, expected) => {
    lines.push(`// @ts-expect-error: unused when ${type} is any`, `export const ${label}Refuses: ${type} = 42;`);
    if (expected) {
      lines.push(
        `export const ${label}Holds: ${type} = null as unknown as ${expected};`,
        `export const ${label}Is: ${expected} = null as unknown as ${type};`,
      );
    }
  };
  if (entryPoints.includes('@org/session-fastify')) {
    lines.push("import type { FastifyInstance, FastifyRequest } from 'fastify';");
    typed('fastifyResult', "FastifyRequest['sessionResult']", result);
    typed('fastifySession', "FastifyRequest['session']");
    typed('fastifySessions', "FastifyInstance['sessions']");
  }
  if (entryPoints.includes('@org/session-express')) {
    lines.push("import type { Request } from 'express';");
    typed('expressResult', "Request['sessionResult']", result);
    typed('expressSession', "Request['session']");
  }
  if (entryPoints.includes('@org/session-hono')) {
    lines.push("import type { ContextVariableMap } from 'hono';");
    lines.push("import type { SessionEnv } from '@org/session-hono';");
    typed('honoResult', "ContextVariableMap['sessionResult']", result);
    typed('honoSession', "ContextVariableMap['session']");
    typed('honoEnvSession', "SessionEnv['Variables']['session']");
  }
  return `${lines.join('\n')}\n`;
}

console.log(
  failures === 0
    ? `packages: all checks passed (${packages.length} packages)`
    : `packages: ${failures} check(s) failed`,
);
process.exit(failures === 0 ? 0 : 1);

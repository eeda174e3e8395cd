// Bundles a test Worker as wrangler would (esbuild, one ES module, no Node built-ins) and serves
// it from workerd through miniflare, with a local D1 database persisted in a temp directory whose
// files the tests read around the store. Under CI a missing miniflare fails; elsewhere it skips.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Miniflare } from 'miniflare';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
export const shim = join(here, '..', '..', 'hono', 'test', 'core-on-runtimes', 'vitest-shim.ts');

/** Why the Worker tests cannot run here, or null. */
export function workerdMissing(): string | null {
  try {
    require.resolve('miniflare');
    require.resolve('workerd/package.json', { paths: [dirname(require.resolve('miniflare'))] });
    return null;
  } catch {
    return 'miniflare (with workerd) is not installed: run pnpm install';
  }
}

/** The workerd version miniflare runs, for test titles and reports. */
export function workerdVersion(): string {
  const miniflareDir = dirname(require.resolve('miniflare'));
  const path = require.resolve('workerd/package.json', { paths: [miniflareDir] });
  return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
}

export async function bundleWorker(entry: string, alias: Record<string, string> = {}): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions: ['@org/source', 'workerd', 'worker', 'import'],
    alias,
    // Test suites register their cases as side effects of imports that say sideEffects: false.
    ignoreAnnotations: true,
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]?.text ?? '';
}

/** Every file under `dir`, as latin1 text: what a copy of the disk would give an attacker. */
export function readFilesRaw(dir: string): string {
  const out: string[] = [];
  const walk = (path: string) => {
    for (const name of readdirSync(path)) {
      const file = join(path, name);
      if (statSync(file).isDirectory()) walk(file);
      else out.push(readFileSync(file, 'latin1'));
    }
  };
  walk(dir);
  return out.join('\n');
}

export interface D1Worker {
  mf: Miniflare;
  url: string;
  /** The directory D1's SQLite files live in. */
  persist: string;
  dispose(): Promise<void>;
}

/**
 * Serves `script` on loopback with a D1 binding `DB` and a binding `RAW` (a Node function) that
 * answers the raw bytes of D1's files.
 */
export async function startD1Worker(script: string, bindings: Record<string, string> = {}): Promise<D1Worker> {
  const { Miniflare, Response } = await import('miniflare');
  const persist = mkdtempSync(join(tmpdir(), 'session-d1-'));
  const mf = new Miniflare({
    modules: true,
    script,
    compatibilityDate: '2025-04-01',
    host: '127.0.0.1',
    port: 0,
    d1Databases: { DB: 'session-store-test' },
    d1Persist: persist,
    bindings,
    // Strings of latin1 characters travel as UTF-8 and decode back to the same string.
    serviceBindings: { RAW: async () => new Response(readFilesRaw(persist)) },
  });
  try {
    const url = (await mf.ready).origin;
    return {
      mf,
      url,
      persist,
      dispose: async () => {
        await mf.dispose();
        rmSync(persist, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await mf.dispose().catch(() => {});
    rmSync(persist, { recursive: true, force: true });
    throw error;
  }
}

// Serves the Worker variant from Node: bundles worker.ts as wrangler would (esbuild, one ES module,
// no Node built-ins) and runs it in workerd through miniflare, with a local D1 database persisted
// under the data folder and the demo's keys from demo-shared's secrets file.
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportSigningJwk, generateSigningKey } from '@org/session-core/jwt';
import { loadSecrets, saveJwtSigningJwk } from 'demo-shared/secrets';
import { loopbackOrigins } from 'demo-shared/web';
import { build } from 'esbuild';
import type { Miniflare } from 'miniflare';

const here = dirname(fileURLToPath(import.meta.url));

export interface WorkerDemoOptions {
  dataDir: string;
  /** 0: a free port. */
  port: number;
  idleTimeoutMs?: number;
  absoluteTimeoutMs?: number;
  reauthAfterMs?: number;
}

export interface RunningWorkerDemo {
  mf: Miniflare;
  port: number;
  /** `http://localhost:<port>` */
  origin: string;
  workerdVersion: string;
  close(): Promise<void>;
}

/** A port free on loopback now (workerd needs to know it before it starts: the origins name it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

export async function bundleDemoWorker(): Promise<string> {
  const result = await build({
    entryPoints: [join(here, 'worker.ts')],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions: ['@org/source', 'workerd', 'worker', 'import'],
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]?.text ?? '';
}

export async function startWorkerDemo(options: WorkerDemoOptions): Promise<RunningWorkerDemo> {
  const secrets = loadSecrets(options.dataDir);
  let jwk = secrets.jwtSigningJwk;
  if (!jwk) {
    jwk = (await exportSigningJwk(await generateSigningKey('EdDSA', { extractable: true }))) as Record<string, unknown>;
    saveJwtSigningJwk(options.dataDir, jwk);
  }
  const port = options.port === 0 ? await freePort() : options.port;
  const encode = (key: Uint8Array) => Buffer.from(key).toString('base64url');
  const optional = (name: string, value: number | undefined) => (value === undefined ? {} : { [name]: String(value) });
  const { Miniflare } = await import('miniflare');
  const mf = new Miniflare({
    modules: true,
    script: await bundleDemoWorker(),
    compatibilityDate: '2025-04-01',
    host: '127.0.0.1',
    port,
    d1Databases: { DB: 'demo-hono' },
    d1Persist: join(options.dataDir, 'd1'),
    bindings: {
      ORIGINS: loopbackOrigins(port).join(','),
      CSRF_KEY: encode(secrets.csrfKey),
      LOG_KEY: encode(secrets.logKey),
      JWT_SIGNING_JWK: JSON.stringify(jwk),
      ...optional('IDLE_TIMEOUT_MS', options.idleTimeoutMs),
      ...optional('ABSOLUTE_TIMEOUT_MS', options.absoluteTimeoutMs),
      ...optional('REAUTH_AFTER_MS', options.reauthAfterMs),
    },
  });
  await mf.ready;
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  const workerd = require.resolve('workerd/package.json', { paths: [dirname(require.resolve('miniflare'))] });
  return {
    mf,
    port,
    origin: `http://localhost:${port}`,
    workerdVersion: (require(workerd) as { version: string }).version,
    close: () => mf.dispose(),
  };
}

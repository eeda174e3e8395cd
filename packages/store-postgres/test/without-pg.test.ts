/**
 * `pg` is an optional peer: an app that installed only `postgres` (porsager) can use the store.
 * A child process runs fixtures/without-pg.ts from source (tsx) with `pg` made unresolvable for
 * both `import` and `require` (fixtures/block-pg.mjs), against the real server.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { adminPool, dropSchema, freshSchema, PG_URL, postgresAvailable } from './helpers.js';

const available = await postgresAvailable();
const here = dirname(fileURLToPath(import.meta.url));
const packageDir = join(here, '..');
const tsx = createRequire(import.meta.url).resolve('tsx');

/** Runs the fixture in a child process (with `pg` blocked when asked); its exit code, report and stderr. */
function runFixture(
  schema: string,
  blockPg: boolean,
): Promise<{ code: number | null; report: unknown; stderr: string }> {
  const args = [
    '--conditions=@org/source',
    '--import',
    tsx,
    ...(blockPg ? ['--import', join(here, 'fixtures/block-pg.mjs')] : []),
    join(here, 'fixtures/without-pg.ts'),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: packageDir,
      env: { ...process.env, PG_URL, PG_SCHEMA: schema },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const line = stdout.trim().split('\n').at(-1) ?? '';
      let report: unknown = null;
      try {
        report = JSON.parse(line);
      } catch {
        report = stdout;
      }
      resolve({ code, report, stderr });
    });
  });
}

describe.skipIf(!available)('PostgresStore without pg installed', () => {
  const admin = adminPool();
  const schemas: string[] = [];
  afterAll(async () => {
    for (const schema of schemas) await dropSchema(admin, schema);
    await admin.end();
  });
  const schema = () => {
    const name = freshSchema('nopg');
    schemas.push(name);
    return name;
  };

  it('works on a postgres client; a connection string or a revocation channel says pg is needed', async () => {
    const { code, report, stderr } = await runFixture(schema(), true);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(report).toEqual({
      // pg really is out of reach in the child, both ways.
      pgImport: 'ERR_MODULE_NOT_FOUND',
      pgRequire: 'MODULE_NOT_FOUND',
      migrated: true,
      readBack: 'user-1',
      markOnce: [true, false],
      connectionString: 'CONFIG_INVALID:pg_missing',
      revocationChannel: 'CONFIG_INVALID:pg_missing',
    });
  }, 90_000);

  it('with pg installed the same fixture resolves it, and a connection string opens a pool', async () => {
    const { code, report, stderr } = await runFixture(schema(), false);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(report).toMatchObject({
      pgImport: 'resolved',
      pgRequire: 'resolved',
      readBack: 'user-1',
      markOnce: [true, false],
      connectionString: 'no error',
      revocationChannel: 'no error',
    });
  }, 90_000);
});

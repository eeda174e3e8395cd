/**
 * The DPoP client script of the README, run as written (a child `node` in this folder, where the
 * `dpop` package resolves) against the demo on loopback; then the sessions page of the same user.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { signUpThenLogIn } from 'demo-shared/test-support/accounts';
import { DemoClient } from 'demo-shared/test-support/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDemo } from '../src/app.js';
import { bootDemo, makeDataDir, removeDataDir } from './support/demo.js';

const folder = fileURLToPath(new URL('..', import.meta.url));
const PASSWORD = 'correct horse battery';
let demo: RunningDemo;
let dataDir: string;

/** The script under the `dpop-client` marker of the README. */
function readmeScript(): string {
  const readme = readFileSync(`${folder}README.md`, 'utf8');
  const match = /<!-- dpop-client -->\s*```js\n([\s\S]*?)```/.exec(readme);
  if (!match) throw new Error('README has no dpop-client script');
  return (match[1] as string).replace(/^ {3}/gm, '');
}

function runScript(env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['--input-type=module'],
      { cwd: folder, env: { ...process.env, ...env }, timeout: 20_000 },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
    );
    child.stdin?.end(readmeScript());
  });
}

beforeAll(async () => {
  dataDir = makeDataDir();
  demo = await bootDemo(dataDir);
});
afterAll(async () => {
  await demo?.close();
  removeDataDir(dataDir);
});

describe('demo-express: the JSON API with DPoP', () => {
  it('the README script gets a key-bound JWT, uses it with proofs, and the copied token is refused', async () => {
    const email = 'dpop@example.com';
    const browser = new DemoClient(demo.origin);
    expect((await signUpThenLogIn(browser, email, PASSWORD)).status).toBe(303);

    const output = (await runScript({ ORIGIN: demo.origin, EMAIL: email, PASSWORD: PASSWORD })).trim().split('\n');
    expect(output).toHaveLength(2);
    const [type, status, body] = (output[0] as string).split(' ');
    expect([type, status]).toEqual(['DPoP', '200']);
    expect(JSON.parse(body as string)).toMatchObject({ user: { email }, keyBound: true });
    expect(output[1]).toMatch(/^copied 401 DPoP error="invalid_token", /);

    // The browser's own session is a cookie session; the script's is listed as key-bound.
    const page = await browser.get('/sessions');
    expect(page.status).toBe(200);
    expect(page.body).toContain('Not key-bound');
    expect(page.body).toContain('API client (DPoP)');
    expect(page.body).toContain('key-bound (DPoP)');
  });

  it('a token request without a proof, or with wrong credentials, gets no token', async () => {
    const noProof = await fetch(`${demo.origin}/api/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'nobody@example.com', password: 'x' }),
      signal: AbortSignal.timeout(5000),
    });
    expect(noProof.status).toBe(400);
    expect(await noProof.json()).toMatchObject({ error: 'invalid_dpop_proof' });
  });
});

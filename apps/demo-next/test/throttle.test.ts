/**
 * The Next demo's login throttle over HTTP, as the other demos': per account, 429 with
 * Retry-After counted before any password check, a success clears the count. The demo runs as
 * `next start` with the real clock, so the test waits out real (short, doubling) lockouts.
 */
import { DemoClient } from 'demo-shared/test-support/client';
import { makeDataDir, removeDataDir } from 'demo-shared/test-support/data-dir';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type RunningProcess, startDemoProcess } from '../../demo-shared/test/store-scenarios.js';
import { nextLauncher } from './next-store-launcher.js';

const PASSWORD = 'correct horse battery';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the Next demo throttles logins (SQLite counters)', () => {
  let demo: RunningProcess | undefined;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = makeDataDir();
    demo = await startDemoProcess(nextLauncher, await freePort(), { DATA_DIR: dataDir });
  });
  afterAll(async () => {
    await demo?.stop();
    if (dataDir) removeDataDir(dataDir);
  });

  async function login(email: string, password: string) {
    const client = new DemoClient((demo as RunningProcess).origin);
    await client.get('/login');
    return client.post('/login', { email, password });
  }

  it('answers 429 with Retry-After past five wrong passwords, even for the right one; a wait and a success clear it', async () => {
    const owner = new DemoClient((demo as RunningProcess).origin);
    await owner.get('/signup');
    expect((await owner.post('/signup', { email: 'target@example.com', password: PASSWORD })).status).toBe(303);

    for (let i = 0; i < 5; i++) expect((await login('target@example.com', 'wrong password')).status).toBe(401);
    // Each attempt after a wait doubles the next wait (1 s, 2 s, 4 s, 8 s): go on until it is 8 s or
    // more, so the checks below land inside it on a loaded machine too.
    let retryAfter = 0;
    for (let round = 0; round < 10 && retryAfter < 8; round++) {
      const answer = await login('target@example.com', 'wrong password');
      if (answer.status === 429) {
        retryAfter = Number(answer.headers.get('retry-after'));
        expect(retryAfter).toBeGreaterThanOrEqual(1);
        expect(answer.body).toContain('Too many attempts');
        if (retryAfter < 8) await sleep(retryAfter * 1000 + 200);
      } else {
        expect(answer.status).toBe(401);
      }
    }
    expect(retryAfter).toBeGreaterThanOrEqual(8);
    // The right password is refused too: the attempt is counted before the check.
    const refused = await login('Target@Example.com', PASSWORD);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Another account is not affected.
    expect((await login('someone-else@example.com', 'wrong password')).status).toBe(401);

    await sleep(Number(refused.headers.get('retry-after')) * 1000 + 500);
    // The right password after the wait: logged in, and the account's count is cleared.
    expect((await login('target@example.com', PASSWORD)).status).toBe(303);
    for (let i = 0; i < 4; i++) expect((await login('target@example.com', 'wrong password')).status).toBe(401);
  }, 180_000); // real waits of 1 + 2 + 4 + 8 s and about twenty scrypt checks on a shared machine
});

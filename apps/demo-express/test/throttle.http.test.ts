/** The demo's login throttle over HTTP: per account, 429 with Retry-After, a success clears the count. */
import { createTestClock } from '@org/session-core/testing';
import { DemoClient } from 'demo-shared/test-support/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDemo } from '../src/app.js';
import { bootDemo, makeDataDir, removeDataDir } from './support/demo.js';

const PASSWORD = 'correct horse battery';

describe('the Express demo throttles logins (SQLite counters)', () => {
  const clock = createTestClock(Date.now());
  let demo: RunningDemo;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = makeDataDir();
    demo = await bootDemo(dataDir, {}, clock);
  });
  afterAll(async () => {
    await demo?.close();
    if (dataDir) removeDataDir(dataDir);
  });

  async function login(email: string, password: string) {
    const client = new DemoClient(demo.origin);
    await client.get('/login');
    return client.post('/login', { email, password });
  }

  it('answers 429 with Retry-After after five wrong passwords, before any password check; waits double', async () => {
    const owner = new DemoClient(demo.origin);
    await owner.get('/signup');
    expect((await owner.post('/signup', { email: 'target@example.com', password: PASSWORD })).status).toBe(303);

    for (let i = 0; i < 5; i++) expect((await login('target@example.com', 'wrong password')).status).toBe(401);
    // Even the right password is refused now: the attempt is counted before the check.
    const refused = await login('Target@Example.com', PASSWORD);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body).toContain('Too many attempts');
    // Another account from the same address is not affected.
    expect((await login('someone-else@example.com', 'wrong password')).status).toBe(401);

    clock.advance(1000);
    expect((await login('target@example.com', 'wrong password')).status).toBe(401);
    const again = await login('target@example.com', PASSWORD);
    expect(again.status).toBe(429);
    expect(again.headers.get('retry-after')).toBe('2');
    clock.advance(2000);
    // The right password after the wait: logged in, and the count is cleared.
    expect((await login('target@example.com', PASSWORD)).status).toBe(303);
    for (let i = 0; i < 4; i++) expect((await login('target@example.com', 'wrong password')).status).toBe(401);
  });
});

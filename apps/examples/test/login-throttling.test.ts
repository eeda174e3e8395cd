/**
 * The app of docs/login-throttling.md on a real port: five free wrong guesses per account, then 429
 * with Retry-After before any password check (the right password included), the wait doubling, and
 * a login once the wait has passed. Time comes from an injected clock, so no test waits for real.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { start } from '../src/login-throttling.js';
import { Client, freePort } from './support.js';

describe('login throttling example', () => {
  let close: (() => Promise<unknown>) | undefined;
  afterEach(async () => close?.());

  it('refuses guesses past the free attempts with 429 and Retry-After, then lets the right password in after the wait', async () => {
    let now = Date.UTC(2026, 0, 1);
    const app = await start({ port: await freePort(), clock: { now: () => now } });
    close = app.close;
    const client = new Client(app.origin);
    await client.refreshCsrf();
    const guess = (password: string) => client.request('POST', '/login', { username: 'ada', password });

    for (let i = 0; i < 5; i++) expect((await guess('wrong')).status).toBe(401);
    const refused = await guess('correct horse battery');
    expect(refused).toMatchObject({ status: 429, retryAfter: '1', json: { error: { code: 'RATE_LIMITED' } } });
    expect(client.cookies.has('__Host-sid')).toBe(false);

    // The wait passes; the next wrong guess is counted and doubles the wait.
    now += 1_000;
    expect((await guess('wrong')).status).toBe(401);
    expect(await guess('wrong')).toMatchObject({ status: 429, retryAfter: '2' });

    now += 2_000;
    expect(await guess('correct horse battery')).toMatchObject({ status: 200, json: { userId: 'user-ada' } });
    expect(client.cookies.has('__Host-sid')).toBe(true);
  });

  it('a body of the wrong shape is a wrong guess, one that is not a JSON object a 400: never a 500', async () => {
    const app = await start({ port: await freePort() });
    close = app.close;
    const client = new Client(app.origin);
    await client.refreshCsrf();
    expect((await client.request('POST', '/login', { username: ['ada'], password: 42 })).status).toBe(401);
    expect((await client.request('POST', '/login', 'not an object')).status).toBe(400); // express.json is strict
  });
});

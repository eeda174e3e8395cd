/**
 * Device Bound Session Credentials in the Express demo (SQLite store) over real HTTP, with the
 * DBSC client written from the spec standing in for the browser: Chromium 156 on this machine does
 * not run DBSC (docs/device-bound-sessions.md says what was tried; dbsc.browser.test.ts checks the
 * fallback in it).
 */
import {
  createTestClock,
  type DbscTestKey,
  generateDbscKey,
  parseChallengeHeader,
  parseRegistrationHeader,
  sessionResponseHeader,
  signDbscProof,
} from '@org/session-core/testing';
import { signUpThenLogIn } from 'demo-shared/test-support/accounts';
import { DemoClient } from 'demo-shared/test-support/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDemo } from '../src/app.js';
import { bootDemo, makeDataDir, removeDataDir } from './support/demo.js';

const MINUTE = 60_000;
const PASSWORD = 'correct horse battery';
const clock = createTestClock(Date.now());
let demo: RunningDemo;
let dataDir: string;
let accounts = 0;

beforeAll(async () => {
  dataDir = makeDataDir();
  demo = await bootDemo(dataDir, { idleTimeoutMs: 60 * MINUTE, absoluteTimeoutMs: 120 * MINUTE }, clock);
});
afterAll(async () => {
  await demo?.close();
  if (dataDir) removeDataDir(dataDir);
});

/** Signs up, then logs in as a DBSC browser: registers a device key with the offered challenge. */
async function boundDevice(): Promise<{ client: DemoClient; key: DbscTestKey; id: string }> {
  const email = `dbsc${++accounts}@example.com`;
  const signup = new DemoClient(demo.origin);
  await signup.get('/signup');
  await signup.post('/signup', { email, password: PASSWORD });
  const client = new DemoClient(demo.origin);
  await client.get('/login');
  const login = await client.post('/login', { email, password: PASSWORD });
  expect(login.status).toBe(303);
  const offer = parseRegistrationHeader(login.headers.get('secure-session-registration') ?? '');
  expect(offer.path).toBe('/dbsc/register');
  const key = await generateDbscKey('ES256');
  const proof = await signDbscProof(key, { challenge: offer.challenge, registration: true });
  const registration = await client.request('POST', offer.path, undefined, {
    'secure-session-response': sessionResponseHeader(proof),
  });
  expect(registration.status).toBe(200);
  const instructions = JSON.parse(registration.body) as { session_identifier: string; refresh_url: string };
  expect(instructions.refresh_url).toBe('/dbsc/refresh');
  return { client, key, id: instructions.session_identifier };
}

async function state(client: DemoClient): Promise<string> {
  const response = await client.get('/api/device-binding');
  expect(response.status).toBe(200);
  return (JSON.parse(response.body) as { state: string }).state;
}

async function refresh(client: DemoClient, key: DbscTestKey, id: string) {
  const headers = { 'sec-secure-session-id': `"${id}"` };
  const asked = await client.request('POST', '/dbsc/refresh', undefined, headers);
  expect(asked.status).toBe(403);
  const { challenge } = parseChallengeHeader(asked.headers.get('secure-session-challenge') ?? '');
  const proof = sessionResponseHeader(await signDbscProof(key, { challenge }));
  return client.request('POST', '/dbsc/refresh', undefined, { ...headers, 'secure-session-response': proof });
}

describe('the Express demo with Device Bound Session Credentials', () => {
  it('stores the device key with the session in SQLite and shows the session as bound', async () => {
    const { client } = await boundDevice();
    expect(await state(client)).toBe('fresh');
    expect((await client.get('/api/device-bound')).status).toBe(200);
    const { session } = await demo.services.manager.validateToken(client.sessionToken);
    expect(session?.metadata.dbsc?.alg).toBe('ES256');
    expect(session?.metadata.dbsc?.jwk.kty).toBe('EC');
  });

  it('a copied cookie stops working after the bound lifetime; the device refreshes, a thief cannot', async () => {
    const { client, key, id } = await boundDevice();
    const thief = new DemoClient(demo.origin, { userAgent: 'thief/1.0' });
    for (const [name, value] of client.cookies) thief.cookies.set(name, value);
    expect((await thief.get('/api/device-bound')).status).toBe(200);

    clock.advance(10 * MINUTE);
    expect(await state(client)).toBe('stale');
    expect((await thief.get('/api/device-bound')).status).toBe(401);
    expect((await client.get('/api/device-bound')).status).toBe(401);

    expect((await refresh(client, key, id)).status).toBe(200);
    expect(await state(client)).toBe('fresh');
    expect((await client.get('/api/device-bound')).status).toBe(200);

    const stolen = await refresh(thief, await generateDbscKey('ES256'), id);
    expect(stolen.status).toBe(401);
    expect(JSON.parse(stolen.body)).toMatchObject({ error: { code: 'DBSC_PROOF_INVALID' } });
    expect((await thief.get('/api/device-bound')).status).toBe(401);
    // The ordinary pages still work for the copied long-lived cookie: binding guards what asks for it.
    expect((await thief.get('/sessions')).status).toBe(200);
  });

  it('keeps an ordinary session for a client that ignores the offer, and logout clears the bound cookie', async () => {
    const email = `plain${++accounts}@example.com`;
    const client = new DemoClient(demo.origin);
    expect((await signUpThenLogIn(client, email, PASSWORD)).status).toBe(303);
    await client.get('/sessions');
    expect(await state(client)).toBe('unbound');
    expect((await client.get('/api/device-bound')).status).toBe(200);

    const { client: device } = await boundDevice();
    await device.get('/sessions');
    expect(device.cookies.has('__Host-sid-bound')).toBe(true);
    await device.post('/logout');
    expect(device.cookies.has('__Host-sid-bound')).toBe(false);
  });
});

/**
 * The proxy's verdict handed to the page behind it (src/proxy-verdict.ts), on the built fixture
 * app under Next's production server: one store read per request where the proxy and the page both
 * need the session, the proxy's renewal cookie unchanged, and a verdict header a client sends ignored.
 */

import { createSessionManager, MemoryStore } from '@org/session-core';
import { createTestClock, instrumentStore } from '@org/session-core/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PROXY_VERDICT_HEADER, proxyVerdicts } from '../src/proxy-verdict.js';
import { type RunningApp, startFixtureApp } from './support/next-server.js';

const ORIGIN = 'https://app.example';
const MINUTE = 60_000;
const clock = createTestClock(Date.now());
const probe = instrumentStore(new MemoryStore());
const policy = { idleTimeoutMs: 30 * MINUTE, absoluteTimeoutMs: 24 * 60 * MINUTE, touchIntervalMs: 5 * MINUTE };
const manager = createSessionManager({ store: probe.store, clock, policy });
const SID = manager.cookie.name;
let app: RunningApp;

beforeAll(async () => {
  app = await startFixtureApp({
    store: probe.store,
    clock,
    policy,
    csrf: { key: new Uint8Array(32).fill(7), allowedOrigins: [ORIGIN] },
  });
});
afterAll(async () => {
  await app?.close();
});
beforeEach(() => {
  probe.reset();
});

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${app.url}${path}`, { headers, redirect: 'manual' });
const login = async (userId: string) => (await manager.create({ userId, persistent: true })).token;

describe('the proxy hands its verdict to the page', () => {
  it('reads the store once per request although the proxy and the page both validate', async () => {
    const token = await login('verdict-user');
    for (let round = 0; round < 3; round++) {
      probe.reset();
      const res = await get('/account', { cookie: `${SID}=${token}` });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('verdict-user');
      // Before the handoff: one read in the proxy, one more when the page called requireSession().
      expect(probe.calls.get).toBe(1);
      expect(probe.total()).toBe(1);
    }
  });

  it('hands on only a live session: behind a dead cookie the page validates again itself', async () => {
    const live = await login('signin-user');
    const ok = await get('/signin', { cookie: `${SID}=${live}` });
    expect(ok.status).toBe(200);
    expect(probe.calls.get).toBe(1);
    const dead = await login('revoked-user');
    await manager.revokeAll('revoked-user');
    probe.reset();
    const res = await get('/signin', { cookie: `${SID}=${dead}` });
    expect(res.status).toBe(200);
    // The proxy's read and the page's own (an outcome other than a live session is never handed on).
    expect(probe.calls.get).toBe(2);
  });

  it('a route handler the proxy does not match validates itself: one read, as before', async () => {
    const token = await login('route-user');
    const res = await get('/me', { cookie: `${SID}=${token}` });
    expect(await res.json()).toEqual({ userId: 'route-user' });
    expect(probe.calls.get).toBe(1);
  });

  it('keeps the renewal in the proxy: the touched session renders and its cookie is re-sent once', async () => {
    const token = await login('renew-user');
    clock.advance(policy.touchIntervalMs + MINUTE);
    const before = (await manager.list('renew-user'))[0]?.idleExpiresAt as number;
    probe.reset();
    const res = await get('/account', { cookie: `${SID}=${token}` });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('renew-user');
    const renewed = res.headers.getSetCookie().filter((line) => line.startsWith(`${SID}=`));
    expect(renewed).toHaveLength(1);
    expect(renewed[0]).toMatch(/Max-Age=\d+/);
    expect(res.headers.get('cache-control')).toContain('no-store');
    expect((await manager.list('renew-user'))[0]?.idleExpiresAt).toBeGreaterThan(before);
    // One read by the proxy and its touch; the page asked the store nothing.
    expect(probe.calls.get).toBe(1);
    expect(probe.writes()).toBe(1);
  });
});

describe('a verdict header from the client', () => {
  /** A genuine verdict for the victim's session, planted in this process as if its id had leaked. */
  const plant = async (cookieHeader: string | null) => {
    const victim = await login('victim');
    const result = await manager.validateCookie(`${SID}=${victim}`);
    expect(result.status).toBe('valid');
    return proxyVerdicts.put({ ...result, cookies: [] }, cookieHeader, SID);
  };

  it('is dropped by the proxy: an anonymous visitor still goes to login', async () => {
    const id = await plant(null);
    const res = await get('/account', { [PROXY_VERDICT_HEADER]: id });
    expect(res.status).toBe(303);
    expect(new URL(res.headers.get('location') as string, app.url).pathname).toBe('/signin');
  });

  it('is dropped by the proxy even with a cookie of the visitor’s own: the page shows the visitor', async () => {
    const own = await login('visitor');
    const id = await plant(`${SID}=${own}`);
    const res = await get('/account', { cookie: `${SID}=${own}`, [PROXY_VERDICT_HEADER]: id });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('visitor');
    expect(html).not.toContain('victim');
  });

  it('on a route the proxy does not match, counts for nothing unless the id exists and the Cookie header is the one validated', async () => {
    const forged = await get('/me', { [PROXY_VERDICT_HEADER]: 'A'.repeat(43) });
    expect(await forged.json()).toEqual({ userId: null });
    const own = await login('attacker');
    const id = await plant('some-other-cookie=1');
    const replayed = await get('/me', { cookie: `${SID}=${own}`, [PROXY_VERDICT_HEADER]: id });
    expect(await replayed.json()).toEqual({ userId: 'attacker' });
  });

  it('a verdict is taken once, only for its Cookie header and its session cookie, and only while fresh', async () => {
    const id = await plant('c=1');
    expect(proxyVerdicts.take(id, 'c=2', SID)).toBeNull();
    // A failed take spends the id too.
    expect(proxyVerdicts.take(id, 'c=1', SID)).toBeNull();
    const second = await plant('c=1');
    expect(proxyVerdicts.take(second, 'c=1', 'other-cookie')).toBeNull();
    const third = await plant('c=1');
    expect(proxyVerdicts.take(third, 'c=1', SID)?.session?.userId).toBe('victim');
    expect(proxyVerdicts.take(third, 'c=1', SID)).toBeNull();
  });
});

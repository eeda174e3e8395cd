/**
 * What the proxy guard puts on Next's proxy response, request by request: Set-Cookie only when the
 * session is renewed (past the touch interval), and a request-header override (Next's
 * `x-middleware-override-headers` and one `x-middleware-request-*` per header) only when there is
 * something to hand on: a live session's verdict, a new pre-session cookie, or a client's verdict
 * header to drop. The guard runs on Next's own NextRequest and NextResponse, on a real manager.
 */
import { createSessionManager, MemoryStore } from '@org/session-core';
import { createTestClock, instrumentStore } from '@org/session-core/testing';
import { NextRequest } from 'next/server.js';
import { beforeEach, describe, expect, it } from 'vitest';
import { nextSessions } from '../src/index.js';
import { PROXY_VERDICT_HEADER, proxyVerdicts } from '../src/proxy-verdict.js';

const MINUTE = 60_000;
const ORIGIN = 'http://127.0.0.1:3000';
const clock = createTestClock(Date.now());
const probe = instrumentStore(new MemoryStore());
const policy = { idleTimeoutMs: 30 * MINUTE, absoluteTimeoutMs: 24 * 60 * MINUTE, touchIntervalMs: 5 * MINUTE };
const manager = createSessionManager({ store: probe.store, clock, policy });
const SID = manager.cookie.name;
// Plain http on loopback, as `next start` hands the proxy no peer address.
const auth = nextSessions(manager, {
  trustLoopbackHost: true,
  csrf: { key: new Uint8Array(32).fill(5), allowedOrigins: [ORIGIN] },
});
const guard = auth.proxy({ protect: ['/account'], loginPath: '/signin', preSessionPaths: ['/signin'] });

const request = (path: string, headers: Record<string, string> = {}) =>
  new NextRequest(`${ORIGIN}${path}`, { headers: { host: '127.0.0.1:3000', 'user-agent': 'test', ...headers } });
/** The request headers the proxy hands on, by name, or null when it overrides none. */
const overridden = (res: Response): string[] | null =>
  res.headers.get('x-middleware-override-headers')?.split(',') ?? null;
const forwardedHeader = (res: Response, name: string) => res.headers.get(`x-middleware-request-${name}`);

beforeEach(() => {
  probe.reset();
});

describe('the proxy guard on a live session', () => {
  it('inside the touch interval: one store read, no Set-Cookie, the verdict handed on', async () => {
    const { token } = await manager.create({ userId: 'inside-user' });
    clock.advance(MINUTE);
    for (let round = 0; round < 3; round++) {
      probe.reset();
      const res = await guard(request('/page', { cookie: `${SID}=${token}` }));
      expect(res.headers.get('x-middleware-next')).toBe('1');
      expect(res.headers.getSetCookie()).toEqual([]);
      expect(res.headers.get('cache-control')).toBeNull();
      expect(probe.calls.get).toBe(1);
      expect(probe.writes()).toBe(0);
      // The override carries the verdict: the Cookie header the proxy validated, and the id.
      expect(overridden(res)).toContain(PROXY_VERDICT_HEADER);
      expect(forwardedHeader(res, 'cookie')).toBe(`${SID}=${token}`);
      const id = forwardedHeader(res, PROXY_VERDICT_HEADER) as string;
      expect(proxyVerdicts.take(id, `${SID}=${token}`, SID)?.session?.userId).toBe('inside-user');
    }
  });

  it('past the touch interval: the renewal cookie once, no-store, and one touch', async () => {
    const { token } = await manager.create({ userId: 'renewed-user', persistent: true });
    clock.advance(policy.touchIntervalMs + MINUTE);
    probe.reset();
    const res = await guard(request('/page', { cookie: `${SID}=${token}` }));
    const renewed = res.headers.getSetCookie();
    expect(renewed).toHaveLength(1);
    expect(renewed[0]).toMatch(new RegExp(`^${SID}=${token}; .*Max-Age=\\d+`));
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(probe.calls.get).toBe(1);
    expect(probe.writes()).toBe(1);
    // The next request, inside the new interval, sends nothing again.
    probe.reset();
    const again = await guard(request('/page', { cookie: `${SID}=${token}` }));
    expect(again.headers.getSetCookie()).toEqual([]);
    expect(probe.writes()).toBe(0);
  });
});

describe('the proxy guard with nothing to hand on', () => {
  it('an anonymous visitor: the request goes on unchanged, no override, no cookie', async () => {
    const res = await guard(request('/page'));
    expect(res.headers.get('x-middleware-next')).toBe('1');
    expect(overridden(res)).toBeNull();
    expect([...res.headers.keys()].filter((name) => name.startsWith('x-middleware-request-'))).toEqual([]);
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(probe.total()).toBe(0);
  });

  it('a dead session cookie: no override either (the page validates it itself), and no cookie', async () => {
    const { token } = await manager.create({ userId: 'revoked-user' });
    await manager.revokeAll('revoked-user');
    probe.reset();
    const res = await guard(request('/page', { cookie: `${SID}=${token}` }));
    expect(overridden(res)).toBeNull();
    expect(res.headers.get('x-middleware-next')).toBe('1');
    expect(probe.calls.get).toBe(1);
  });

  it('a verdict header from the client is still dropped: the request headers are overridden without it', async () => {
    const res = await guard(request('/page', { [PROXY_VERDICT_HEADER]: 'A'.repeat(43) }));
    const names = overridden(res);
    expect(names).toContain('user-agent');
    expect(names).not.toContain(PROXY_VERDICT_HEADER);
    expect(forwardedHeader(res, PROXY_VERDICT_HEADER)).toBeNull();
  });

  it('a pre-session page: its new cookie is sent and handed on to the page in the Cookie header', async () => {
    const res = await guard(request('/signin'));
    const pre = res.headers.getSetCookie().find((line) => line.startsWith('__Host-pre='));
    expect(pre).toBeDefined();
    expect(forwardedHeader(res, 'cookie')).toBe((pre as string).slice(0, (pre as string).indexOf(';')));
  });

  it('a protected page without a session still redirects to sign-in', async () => {
    const res = await guard(request('/account/keys'));
    expect(res.status).toBe(303);
    expect(new URL(res.headers.get('location') as string).pathname).toBe('/signin');
    expect(overridden(res)).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { type CsrfProtection, type CsrfRequest, createCsrfProtection } from '../src/csrf.js';
import { isSessionError, MemoryStore } from '../src/index.js';
import { createSessionManager } from '../src/manager.js';
import { createRequestContexts } from '../src/request-context.js';
import { createTestClock } from '../src/testing/index.js';

const key = new Uint8Array(32).fill(9);
const ORIGIN = 'https://example.com';

function setup() {
  const manager = createSessionManager({ store: new MemoryStore(), clock: createTestClock(1_700_000_000_000) });
  const csrf = createCsrfProtection({ key, allowedOrigins: [ORIGIN], manager });
  return { manager, csrf };
}

function post(session: CsrfRequest['session'], token: string | null, fetchSite = 'same-origin'): CsrfRequest {
  const headers: Record<string, string> = { 'sec-fetch-site': fetchSite, cookie: '__Host-sid=x' };
  if (token !== null) headers['x-csrf-token'] = token;
  return { method: 'POST', headers, session };
}

function outcome(csrf: CsrfProtection, request: CsrfRequest, logout = false): string {
  try {
    return csrf.verify(request, { logout }).outcome;
  } catch (error) {
    if (isSessionError(error, 'CSRF_REJECTED')) return `${error.code}:${error.reason}`;
    throw error;
  }
}

describe('CSRF tokens across rotation', () => {
  it('gives every new session its own CSRF id and keeps it through rotation, with or without new metadata', async () => {
    const { manager } = setup();
    const a = await manager.create({ userId: 'u1', metadata: { csrfId: 'AAAAAAAAAAAAAAAAAAAAAA' } });
    const b = await manager.create({ userId: 'u1' });
    expect(a.session.metadata.csrfId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // Never the one a caller passed in: a login always starts a new binding.
    expect(a.session.metadata.csrfId).not.toBe('AAAAAAAAAAAAAAAAAAAAAA');
    expect(b.session.metadata.csrfId).not.toBe(a.session.metadata.csrfId);

    const rotated = await manager.rotate(a.session);
    expect(rotated.session.id).not.toBe(a.session.id);
    expect(rotated.session.metadata.csrfId).toBe(a.session.metadata.csrfId);
    const again = await manager.rotate(rotated.session, {
      reauthenticated: true,
      metadata: { userAgent: 'new', csrfId: 'BBBBBBBBBBBBBBBBBBBBBB' },
    });
    expect(again.session.metadata).toMatchObject({ userAgent: 'new', csrfId: a.session.metadata.csrfId });
  });

  it('accepts a token issued before a rotation after it, and refuses it for another session of the same user', async () => {
    const { manager, csrf } = setup();
    const first = await manager.create({ userId: 'u1' });
    const other = await manager.create({ userId: 'u1' });
    const token = csrf.token({ session: first.session }).token;
    const rotated = await manager.rotate(first.session, { reauthenticated: true });

    expect(outcome(csrf, post(rotated.session, token))).toBe('passed');
    expect(outcome(csrf, post(first.session, token))).toBe('passed');
    expect(outcome(csrf, post(other.session, token))).toBe('CSRF_REJECTED:token_invalid');
    // A new login is a new binding: the old page's token is dead there.
    const relogin = await manager.create({ userId: 'u1', replaces: rotated.session.id });
    expect(outcome(csrf, post(relogin.session, token))).toBe('CSRF_REJECTED:token_invalid');
  });

  it('still accepts tokens bound to the session id (sessions created before CSRF ids existed)', () => {
    const { csrf } = setup();
    const legacy = { id: 'AAAAAAAAAAAAAAAAAAAAAA', userId: 'u1', metadata: {} };
    const token = csrf.token({ session: legacy }).token;
    expect(outcome(csrf, post(legacy, token))).toBe('passed');
    // The same session once it has a CSRF id: the old id-bound token still passes.
    expect(outcome(csrf, post({ ...legacy, metadata: { csrfId: 'CCCCCCCCCCCCCCCCCCCCCC' } }, token))).toBe('passed');
  });

  it('through a request context: a page rendered before rotate posts after it', async () => {
    const { manager, csrf } = setup();
    const contexts = createRequestContexts({ manager, csrf });
    const issued = await manager.create({ userId: 'u1' });
    const input = (cookie: string, method = 'GET', token?: string) => ({
      cookieHeader: cookie,
      method,
      headers: { 'sec-fetch-site': 'same-origin', ...(token ? { 'x-csrf-token': token } : {}) },
      protocol: 'https',
      host: 'example.com',
    });
    const page = await contexts.open(input(`__Host-sid=${issued.token}`));
    const token = page.csrfToken();
    // Another tab rotates (re-authentication, password change).
    const tab2 = await contexts.open(input(`__Host-sid=${issued.token}`, 'POST'));
    await tab2.rotate({ reauthenticated: true });
    const cookie = (tab2.responseHeaders(null)?.setCookie ?? []).find((c) => c.startsWith('__Host-sid='));
    expect(cookie).toBeDefined();
    const later = await contexts.open(input((cookie as string).split(';')[0] as string, 'POST', token));
    expect(later.session?.id).not.toBe(issued.session.id);
    expect(later.verifyCsrf().outcome).toBe('passed');
  });
});

describe('logout routes ({ logout: true })', () => {
  it('pass a same-origin request with a stale, foreign or missing token, with or without a session', async () => {
    const { manager, csrf } = setup();
    const mine = await manager.create({ userId: 'u1' });
    const foreign = csrf.token({ session: (await manager.create({ userId: 'u2' })).session }).token;
    expect(outcome(csrf, post(mine.session, null), true)).toBe('passed');
    expect(outcome(csrf, post(mine.session, foreign), true)).toBe('passed');
    expect(outcome(csrf, post(null, null), true)).toBe('passed');
    // Without the option the same requests are refused.
    expect(outcome(csrf, post(mine.session, null))).toBe('CSRF_REJECTED:token_missing');
    expect(outcome(csrf, post(mine.session, foreign))).toBe('CSRF_REJECTED:token_invalid');
  });

  it('still refuse another site: the origin checks run as always', async () => {
    const { manager, csrf } = setup();
    const mine = await manager.create({ userId: 'u1' });
    const token = csrf.token({ session: mine.session }).token;
    expect(outcome(csrf, post(mine.session, token, 'cross-site'), true)).toBe('CSRF_REJECTED:cross_site');
    expect(outcome(csrf, post(mine.session, token, 'same-site'), true)).toBe('CSRF_REJECTED:same_site');
    const noSignal: CsrfRequest = { method: 'POST', headers: { cookie: '__Host-sid=x' }, session: mine.session };
    expect(outcome(csrf, noSignal, true)).toBe('CSRF_REJECTED:origin_missing');
  });
});

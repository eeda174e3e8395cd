import { MemoryStore } from '@org/session-core';
import { resolveCookiePolicy } from '@org/session-core/adapter';
import { createTestClock, lintHttpResponse } from '@org/session-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startFixtureApp } from './support/next-server.js';

// The lint must catch what it claims to catch on Next's responses too: each route of the fixture
// app's /lint/[mistake] sends one mistake on purpose, through Next's cookies() and NextResponse.
const policy = { sessionCookie: resolveCookiePolicy(), preSessionCookieName: '__Host-pre' };

let app: RunningApp;
beforeAll(async () => {
  app = await startFixtureApp({
    store: new MemoryStore(),
    clock: createTestClock(Date.UTC(2026, 0, 1)),
    csrf: { key: new Uint8Array(32).fill(7), allowedOrigins: ['https://app.example'] },
  });
});
afterAll(() => app.close());

async function lint(path: string): Promise<string[]> {
  const res = await fetch(`${app.url}/lint/${path}`, { redirect: 'manual' });
  const body = await res.text();
  return lintHttpResponse(
    { status: res.status, headers: res.headers, setCookies: res.headers.getSetCookie(), body },
    policy,
  );
}

describe('header-lint on Next responses', () => {
  it.each([
    ['clean', []],
    ['no-httponly', ['HttpOnly is missing']],
    ['wrong-samesite', ['SameSite must be Lax']],
    // What Next's cookies().set prints for `sameSite: 'lax'`: why the adapter keeps core's `Lax`.
    ['lowercase-samesite', ['SameSite must be Lax']],
    ['no-secure', ['Secure']],
    ['cacheable', ['without Cache-Control: no-store']],
    ['token-in-body', ['a token appears in the body']],
    ['token-in-location', ['session parameter']],
    ['bad-deletion', ['a deletion needs Max-Age=0']],
    ['error-extra-field', ['exactly { error: { code, message } }']],
  ])('%s', async (path, expected) => {
    const problems = await lint(path);
    expect(problems).toHaveLength(expected.length);
    expected.forEach((fragment, i) => {
      expect(problems[i]).toContain(fragment);
    });
  });
});

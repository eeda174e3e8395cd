import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { safeNextPath } from '../src/index.js';

describe('safeNextPath: the next= target after login never leaves the site', () => {
  it.each([
    ['/account', '/account'],
    ['/account/settings?tab=keys#top', '/account/settings?tab=keys#top'],
    ['/a/../b', '/b'],
    ['/%2F%2Fevil.example', '/%2F%2Fevil.example'],
  ])('keeps the same-origin path %s', (value, expected) => {
    expect(safeNextPath(value)).toBe(expected);
  });

  it.each([
    '//evil.example',
    '//evil.example/account',
    '/\\evil.example',
    '\\\\evil.example',
    '/\t/evil.example',
    '/\n/evil.example',
    ' /account',
    'https://evil.example/account',
    'http:evil.example',
    'javascript:alert(1)',
    'data:text/html,x',
    'account',
    '/.//evil.example',
    '/..//evil.example',
    '',
    `/${'a'.repeat(3000)}`,
  ])('refuses %j', (value) => {
    expect(safeNextPath(value)).toBe('/');
  });

  it('refuses non-strings and uses the given fallback', () => {
    for (const value of [null, undefined, 42, ['/account'], { toString: () => '/account' }]) {
      expect(safeNextPath(value, '/home')).toBe('/home');
    }
  });

  it('whatever the input, the result is a path that resolves to this origin', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.webUrl(),
          fc.string().map((s) => `/${s}`),
        ),
        (value) => {
          const path = safeNextPath(value);
          expect(path.startsWith('/')).toBe(true);
          expect(path.startsWith('//')).toBe(false);
          expect(new URL(path, 'https://app.example').origin).toBe('https://app.example');
        },
      ),
      { numRuns: 500 },
    );
  });
});

import { describe, expect, expectTypeOf, it } from 'vitest';
import { resolveCookiePolicy } from '../src/entries/adapter.js';
import {
  type CookieNameWithoutHostPrefix,
  type CookieOptions,
  isSessionError,
  MemoryStore,
  type SessionManagerOptions,
} from '../src/index.js';
import { SessionManager } from '../src/manager.js';

// The compile-time half of this file is checked by `tsc -p packages/core` (CI's typecheck) and by
// type-tests.node.test.ts, which compiles it and fails on any diagnostic, unused
// `@ts-expect-error` lines included.

describe('CookieOptions: the __Host- rules in the type', () => {
  it('a __Host- name takes no domain and only the path /', () => {
    const accepted: CookieOptions[] = [
      {},
      { sameSite: 'strict', partitioned: true },
      { name: '__Host-sid' },
      { name: '__Host-sid', path: '/' },
      { name: '__Host-sid', path: '/', domain: undefined },
      { name: '__Secure-sid', domain: 'example.com' },
      { name: '__Secure-sid', path: '/app' },
      { name: 'app_sid', domain: 'example.com', path: '/app', allowWithoutHostPrefix: true },
      { name: '__Hostile', domain: 'example.com' },
      { name: '_Host-sid', domain: 'example.com' },
      { domain: 'example.com' },
      { path: '/app' },
    ];
    const refused: CookieOptions[] = [
      // @ts-expect-error a __Host- cookie is host-only
      { name: '__Host-sid', domain: 'example.com' },
      // @ts-expect-error a __Host- cookie has Path=/
      { name: '__Host-sid', path: '/app' },
      // @ts-expect-error browsers match the prefix in any letter case
      { name: '__host-sid', domain: 'example.com' },
      // @ts-expect-error browsers match the prefix in any letter case
      { name: '__HOST-sid', path: '/app' },
      // @ts-expect-error the prefix alone is a __Host- name too
      { name: '__Host-', domain: 'example.com' },
    ];
    expect(accepted.length + refused.length).toBe(17);
  });

  it('the rules hold where the options are used: SessionManagerOptions.cookie and resolveCookiePolicy', () => {
    const store = new MemoryStore();
    const options: SessionManagerOptions[] = [
      { store, cookie: { name: '__Host-sid' } },
      { store, cookie: { name: '__Secure-sid', domain: 'example.com' } },
      // @ts-expect-error a __Host- cookie is host-only
      { store, cookie: { name: '__Host-sid', domain: 'example.com' } },
    ];
    expect(options).toHaveLength(3);
    // @ts-expect-error a __Host- cookie has Path=/
    const refused = () => resolveCookiePolicy({ name: '__Host-sid', path: '/app' });
    expect(refused).toThrow();
  });

  it('a name typed only as string is fine host-only at /; with a domain or path it must show it has no __Host-', () => {
    const fromConfig: string = '__Secure-sid';
    const hostOnly: CookieOptions = { name: fromConfig, sameSite: 'strict' };
    // @ts-expect-error `string` could be a __Host- name
    const shared: CookieOptions = { name: fromConfig, domain: 'example.com' };
    const checked = fromConfig as CookieNameWithoutHostPrefix;
    const sharedChecked: CookieOptions = { name: checked, domain: 'example.com' };
    expect([hostOnly, shared, sharedChecked]).toHaveLength(3);

    expectTypeOf<'__Secure-sid'>().toExtend<CookieNameWithoutHostPrefix>();
    expectTypeOf<'sid'>().toExtend<CookieNameWithoutHostPrefix>();
    expectTypeOf<'__Host-sid'>().not.toExtend<CookieNameWithoutHostPrefix>();
    expectTypeOf<'__hOsT-sid'>().not.toExtend<CookieNameWithoutHostPrefix>();
    expectTypeOf<string>().not.toExtend<CookieNameWithoutHostPrefix>();
  });
});

describe('CookieOptions: the same rules at run time, for JavaScript callers', () => {
  // What a JavaScript caller (or a cast) can pass: the types cannot stop it.
  const untyped = (options: Record<string, unknown>) => options as CookieOptions;
  const codeOf = (run: () => unknown): string => {
    try {
      run();
      return 'no error';
    } catch (error) {
      return isSessionError(error) ? error.code : String(error);
    }
  };

  it('resolveCookiePolicy and the manager refuse what the type refuses, with CONFIG_INVALID', () => {
    const refused = [
      { name: '__Host-sid', domain: 'example.com' },
      { name: '__Host-sid', path: '/app' },
      { name: '__host-sid', domain: 'example.com' },
      { name: '__HOST-sid', path: '/app' },
      { name: '__Host-', domain: 'example.com' },
    ];
    for (const options of refused) {
      const label = JSON.stringify(options);
      expect(
        codeOf(() => resolveCookiePolicy(untyped(options))),
        label,
      ).toBe('CONFIG_INVALID');
      expect(
        codeOf(() => new SessionManager({ store: new MemoryStore(), cookie: untyped(options) })),
        label,
      ).toBe('CONFIG_INVALID');
    }
  });

  it('accepts what the type accepts', () => {
    const accepted = [
      { name: '__Host-sid', path: '/', allowWithoutHostPrefix: true },
      { name: '__Secure-sid', domain: 'example.com', allowWithoutHostPrefix: true },
      { name: 'app_sid', domain: 'example.com', path: '/app', allowWithoutHostPrefix: true },
      { name: '__Hostile', domain: 'example.com', allowWithoutHostPrefix: true },
    ];
    for (const options of accepted) {
      expect(resolveCookiePolicy(untyped(options))).toMatchObject({
        name: options.name,
        domain: options.domain,
        path: options.path ?? '/',
      });
    }
  });
});

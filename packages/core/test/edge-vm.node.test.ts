/**
 * Core bundled for a neutral platform (as scripts/check-core-purity.mjs does) and run inside
 * `@edge-runtime/vm`: a Web-only global scope with no process, Buffer or require. The scenario
 * covers create, validate, rotate, revoke, cookie parse/serialize and expiry with a test clock.
 */
import { fileURLToPath } from 'node:url';
import { EdgeVM } from '@edge-runtime/vm';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';

const coreRoot = fileURLToPath(new URL('..', import.meta.url));

let bundle: string;

beforeAll(async () => {
  const result = await build({
    stdin: {
      // Every public entry point, plus the internals the scenario checks directly.
      contents: [
        "export * from './src/index.ts';",
        "export * from './src/entries/adapter.ts';",
        "export * from './src/entries/csrf.ts';",
        "export * from './src/entries/jwt.ts';",
        "export * from './src/entries/refresh.ts';",
        "export { createTestClock } from './src/testing/clock.ts';",
        "export { expiryStatus, initialExpiry } from './src/expiry.ts';",
        "export { sha256 } from './src/hash.ts';",
        "export { toHex } from './src/encoding.ts';",
      ].join('\n'),
      resolveDir: coreRoot,
      loader: 'ts',
    },
    bundle: true,
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions: ['@org/source', 'import'],
    target: 'es2022',
    format: 'iife',
    globalName: 'SessionCore',
    write: false,
    logLevel: 'silent',
  });
  bundle = result.outputFiles[0]?.text ?? '';
});

/** Runs in the VM; returns JSON so that nothing crosses the context boundary but a string. */
const scenario = `(async () => {
  const core = SessionCore;
  const MINUTE = 60000;
  const out = {
    globals: { process: typeof process, Buffer: typeof Buffer, require: typeof require, edge: typeof EdgeRuntime },
  };
  const clock = core.createTestClock(Date.UTC(2026, 0, 1));
  const events = [];
  const sessions = core.createSessionManager({
    store: new core.MemoryStore(),
    clock,
    onEvent: (event) => events.push(event.reason ? event.type + ':' + event.reason : event.type),
  });
  const issued = await sessions.create({ userId: 'edge-user', data: { role: 'member' }, metadata: { userAgent: 'Edge/1' } });
  out.cookie = issued.cookies[0].replace(issued.token, '<token>');
  const header = 'theme=dark; ' + issued.cookies[0].split(';')[0] + '; lang=en';
  out.parsedNames = core.parseCookieHeader(header).map((pair) => pair[0]);
  const first = await sessions.validateCookie(header, { userAgent: 'Edge/1' });
  out.validated = [first.status, first.session.userId, first.cookies.length];
  const rotated = await sessions.rotate(first.session, { data: { role: 'admin' } });
  out.oldTokenAfterRotate = (await sessions.validateToken(issued.token)).status;
  const second = await sessions.validateToken(rotated.token);
  out.rotated = [second.status, second.session.data.role, rotated.token !== issued.token];
  clock.advance(10 * MINUTE);
  const touched = await sessions.validateToken(rotated.token);
  out.idleLeftAfterTouch = touched.session.idleExpiresAt - clock.now();
  clock.advance(30 * MINUTE);
  const expired = await sessions.validateCookie('__Host-sid=' + rotated.token);
  out.expired = [expired.status, expired.error.code, expired.cookies[0]];
  const again = await sessions.create({ userId: 'edge-user' });
  out.revokeResult = await sessions.revoke(again.session.id, { userId: 'edge-user' });
  out.afterRevoke = (await sessions.validateToken(again.token)).status;
  out.malformed = (await sessions.validateCookie('__Host-sid="quoted"')).status;
  out.serialized = core.serializeCookie('pref', 'dark', { path: '/', maxAge: 10 ** 9, sameSite: 'strict' });
  try { core.serializeCookie('bad name', 'x'); out.badName = 'accepted'; } catch (error) { out.badName = error.code; }
  out.expiry = [
    core.expiryStatus(core.initialExpiry(0, sessions.policy), 30 * MINUTE - 1),
    core.expiryStatus(core.initialExpiry(0, sessions.policy), 30 * MINUTE),
  ];
  out.sha256 = core.toHex(core.sha256('abc'));
  out.events = events;
  return JSON.stringify(out);
})()`;

describe('core inside @edge-runtime/vm (no process, Buffer or require)', () => {
  it('bundles for a neutral platform without Node built-ins', () => {
    expect(bundle.length).toBeGreaterThan(10_000);
    expect(bundle).not.toMatch(/\brequire\(["']node:/);
    expect(bundle).not.toMatch(/from ["']node:/);
  });

  it('runs a full session lifecycle with the test clock', async () => {
    const vm = new EdgeVM();
    vm.evaluate(bundle);
    const result = JSON.parse(await vm.evaluate<Promise<string>>(scenario));
    expect(result).toEqual({
      globals: { process: 'undefined', Buffer: 'undefined', require: 'undefined', edge: 'string' },
      cookie: '__Host-sid=<token>; Path=/; Secure; HttpOnly; SameSite=Lax',
      parsedNames: ['theme', '__Host-sid', 'lang'],
      validated: ['valid', 'edge-user', 0],
      oldTokenAfterRotate: 'invalid',
      rotated: ['valid', 'admin', true],
      idleLeftAfterTouch: 30 * 60_000,
      expired: [
        'expired',
        'SESSION_EXPIRED',
        '__Host-sid=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Lax',
      ],
      revokeResult: true,
      afterRevoke: 'invalid',
      malformed: 'malformed',
      serialized: 'pref=dark; Path=/; Max-Age=34560000; Secure; HttpOnly; SameSite=Strict',
      badName: 'COOKIE_INVALID',
      expiry: ['valid', 'idle_expired'],
      sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      events: [
        'session.created',
        'session.rotated:rotated',
        'session.invalid_token:unknown',
        'session.expired:idle_expired',
        'session.created',
        'session.revoked:revoked',
        'session.invalid_token:unknown',
        'session.invalid_token:malformed',
      ],
    });
  });

  it('fails closed in the VM too: a store outage is "unavailable", never a session', async () => {
    const vm = new EdgeVM();
    vm.evaluate(bundle);
    const outcome = await vm.evaluate<Promise<string>>(`(async () => {
      const core = SessionCore;
      const store = new core.MemoryStore();
      const sessions = core.createSessionManager({ store, storeTimeoutMs: 30 });
      const issued = await sessions.create({ userId: 'u1' });
      // A store doing I/O that never answers (such a store offers no synchronous read).
      store.getSync = undefined;
      store.get = () => new Promise(() => {});
      const result = await sessions.validateToken(issued.token);
      return JSON.stringify([result.status, result.session, result.error.code]);
    })()`);
    expect(JSON.parse(outcome)).toEqual(['unavailable', null, 'STORE_UNAVAILABLE']);
  });
});

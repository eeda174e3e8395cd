import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { getCookieValues, parseCookieHeader, readCookieValues, serializeDeletionCookie } from '../src/cookie.js';
import { isLoopbackHost } from '../src/http.js';
import { createSessionManager, MemoryStore, type SessionEvent, type ValidationResult } from '../src/index.js';
import { createTestClock } from '../src/testing/index.js';
import { generateSessionToken, isSessionToken, parseSessionToken } from '../src/token.js';
import { cookieHeaderFrom, DAY, MINUTE, setup } from './helpers/setup.js';

// The read path's shortcuts (one reused values array, a search for the name instead of a walk
// over every pair, a token check without its parts object) must give the general answers.

const NAME = '__Host-sid';

describe('readCookieValues (the manager read path)', () => {
  // Pieces that put the name where a scan could take it for a pair's start: inside values, after
  // "=", glued to other names, behind spaces, tabs and empty segments.
  const piece = fc.constantFrom(
    NAME,
    `${NAME}=`,
    `x${NAME}`,
    `${NAME}x`,
    '__Host-si',
    ';',
    '; ',
    ' ;',
    ' ',
    '\t',
    '=',
    'a',
    'b=c',
    'tok',
    '"',
    'é',
    '\u0001',
  );
  const line = fc.array(piece, { maxLength: 14 }).map((parts) => parts.join(''));
  const header = fc.oneof(line, fc.array(line, { maxLength: 3 }), fc.constantFrom(null, undefined));

  it('agrees with parseCookieHeader, writing over whatever the reused array held (property)', () => {
    const out = ['stale-1', 'stale-2', 'stale-3'];
    fc.assert(
      fc.property(header, fc.integer({ min: 1, max: 5 }), (input, limit) => {
        const expected = [
          ...new Set(
            parseCookieHeader(input)
              .filter(([name, value]) => name === NAME && value !== '')
              .map(([, value]) => value),
          ),
        ].slice(0, limit);
        const count = readCookieValues(input, NAME, limit, out);
        expect(out.slice(0, count)).toEqual(expected);
        expect(getCookieValues(input, NAME, limit)).toEqual(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it('takes the name only where a pair starts', () => {
    const out: string[] = [];
    expect(readCookieValues(`a=${NAME}=x; ${NAME}=y`, NAME, 5, out)).toBe(1);
    expect(out[0]).toBe('y');
    expect(readCookieValues(`x${NAME}=a;\t ${NAME} = b ;${NAME}=b`, NAME, 5, out)).toBe(1);
    expect(out[0]).toBe('b');
    expect(readCookieValues(`${NAME}x=a; b=c`, NAME, 5, out)).toBe(0);
  });
});

describe('isSessionToken', () => {
  // The token grammar as first written: 22 + "." + 43 base64url characters, zero trailing bits.
  const shape = /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/;
  const spec = (text: string) => shape.test(text) && parseSessionToken(text) !== null;
  const valid = generateSessionToken().token;

  it('accepts exactly the tokens parseSessionToken parses, and those match the grammar (property)', () => {
    const mutated = fc
      .tuple(
        fc.nat({ max: valid.length + 1 }),
        fc.nat({ max: 2 }),
        fc.constantFrom('', '.', '..', 'A', '_', '-', '+', '/', '=', ' ', 'é', 'ſ', '\u212a', 'a.b', '\n'),
      )
      .map(([at, drop, insert]) => valid.slice(0, at) + insert + valid.slice(at + drop));
    fc.assert(
      fc.property(fc.oneof(mutated, fc.string({ minLength: 64, maxLength: 68 })), (text) => {
        expect(isSessionToken(text)).toBe(parseSessionToken(text) !== null);
        if (isSessionToken(text)) expect(shape.test(text)).toBe(true);
      }),
      { numRuns: 3000 },
    );
    expect(isSessionToken(valid)).toBe(true);
    expect(spec(valid)).toBe(true);
  });

  it('refuses what is not a string', () => {
    for (const value of [null, undefined, 42, {}, [valid]]) expect(isSessionToken(value)).toBe(false);
  });
});

describe('the manager read path', () => {
  it('a bearer token never gets a cookie: neither a renewal when touched nor a deletion when dead', async () => {
    const { sessions, clock } = setup({ policy: { persistentAbsoluteTimeoutMs: 30 * DAY } });
    const issued = await sessions.create({ userId: 'u1', persistent: true });
    clock.advance(10 * MINUTE);
    const touched = await sessions.validateToken(issued.token);
    expect(touched.status).toBe('valid');
    expect(touched.cookies).toEqual([]);
    // The same read through the cookie renews the persistent cookie once touched.
    clock.advance(10 * MINUTE);
    const viaCookie = await sessions.validateCookie(cookieHeaderFrom(issued.cookies[0]));
    expect(viaCookie.status).toBe('valid');
    expect(viaCookie.cookies).toHaveLength(1);
    await sessions.revoke(issued.session.id);
    const dead = await sessions.validateToken(issued.token);
    expect(dead.status).toBe('invalid');
    expect(dead.cookies).toEqual([]);
  });

  it('of two same-name cookies the live one wins and is renewed; no deletion is sent for the dead one', async () => {
    const { sessions, clock } = setup({ policy: { persistentAbsoluteTimeoutMs: 30 * DAY } });
    const live = await sessions.create({ userId: 'u1', persistent: true });
    const gone = await sessions.create({ userId: 'u2' });
    await sessions.revoke(gone.session.id);
    clock.advance(10 * MINUTE);
    const result = await sessions.validateCookie(`${NAME}=${gone.token}; ${NAME}=${live.token}`);
    expect(result.status).toBe('valid');
    expect(result.session?.id).toBe(live.session.id);
    expect(result.cookies).toHaveLength(1);
    expect(result.cookies[0]).toMatch(/^__Host-sid=.*Max-Age=/);
    const bothDead = await sessions.validateCookie(`${NAME}=${gone.token}; ${NAME}=junk`);
    expect(bothDead.status).toBe('invalid');
    expect(bothDead.cookies).toEqual([]);
  });

  it('a validation started from inside another (a binding policy) leaves the outer one its own cookies', async () => {
    const store = new MemoryStore();
    let inner = null as Promise<ValidationResult> | null;
    let nested = false;
    const sessions = createSessionManager({
      store,
      binding: () => {
        if (nested) return 'allow';
        nested = true;
        inner = sessions.validateCookie(`${NAME}=${first.token}; ${NAME}=${second.token}`);
        return 'allow';
      },
    });
    const first = await sessions.create({ userId: 'u1' });
    const second = await sessions.create({ userId: 'u2' });
    const outer = await sessions.validateCookie(`${NAME}=${first.token}`);
    expect(outer.session?.userId).toBe('u1');
    expect((await inner)?.status).toBe('ambiguous');
    const again = await sessions.validateCookie(`${NAME}=${second.token}`);
    expect(again.session?.userId).toBe('u2');
  });
});

describe('events nobody listens to', () => {
  it('are not built (the address is not read for them); with a listener they are', async () => {
    for (const listening of [false, true]) {
      const events: SessionEvent[] = [];
      const clock = createTestClock();
      const manager = listening
        ? createSessionManager({ store: new MemoryStore(), clock, onEvent: (event) => events.push(event) })
        : createSessionManager({ store: new MemoryStore(), clock });
      const issued = await manager.create({ userId: 'u1' });
      let ipReads = 0;
      const signals = {
        get ip() {
          ipReads++;
          return '203.0.113.7';
        },
        userAgent: null,
      };
      expect((await manager.validateCookie(`${NAME}=junk`, signals)).status).toBe('malformed');
      expect((await manager.validateCookie(`${NAME}=${issued.token.slice(0, -2)}AA`, signals)).status).toBe('invalid');
      clock.advance(31 * MINUTE);
      expect((await manager.validateCookie(cookieHeaderFrom(issued.cookies[0]), signals)).status).toBe('expired');
      expect(ipReads).toBe(listening ? 2 : 0);
      expect(events.map((event) => event.type)).toEqual(
        listening ? ['session.created', 'session.invalid_token', 'session.invalid_token', 'session.expired'] : [],
      );
    }
  });

  it('an empty listener list counts as none', async () => {
    const manager = createSessionManager({ store: new MemoryStore(), onEvent: [] });
    let ipReads = 0;
    const signals = {
      get ip() {
        ipReads++;
        return null;
      },
    };
    expect((await manager.validateCookie(`${NAME}=junk`, signals)).status).toBe('malformed');
    expect(ipReads).toBe(0);
  });
});

describe('isLoopbackHost', () => {
  // The rule without the shortcut for the usual forms.
  const general = (host: string) => {
    const lower = host.toLowerCase();
    const colon = lower.lastIndexOf(':');
    const name = lower.startsWith('[')
      ? lower.slice(0, lower.indexOf(']') + 1 || lower.length)
      : colon === -1 || lower.indexOf(':') !== colon
        ? lower
        : lower.slice(0, colon);
    return ['localhost', '127.0.0.1', '[::1]', '::1'].includes(name) || name.endsWith('.localhost');
  };

  it('answers as the general rule for hosts near the usual forms (property)', () => {
    const host = fc
      .array(fc.constantFrom('localhost', '127.0.0.1', 'LocalHost', '127.0.0.2', ':', '3000', 'x', '.', '[::1]', ''), {
        maxLength: 4,
      })
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(host, (text) => {
        expect(isLoopbackHost(text)).toBe(text !== '' && general(text));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('deletionCookie', () => {
  it('is the serialised deletion of the policy, the same on every call', () => {
    const manager = createSessionManager({ store: new MemoryStore(), cookie: { sameSite: 'strict' } });
    expect(manager.deletionCookie()).toBe(serializeDeletionCookie(manager.cookie));
    expect(manager.deletionCookie()).toBe(manager.deletionCookie());
  });

  it('a policy that cannot be serialised still fails when the cookie is asked for, not before, every time', () => {
    // Partitioned without Secure passes the policy check and fails at serialisation.
    const manager = createSessionManager({
      store: new MemoryStore(),
      mode: 'development',
      cookie: { partitioned: true },
    });
    expect(() => manager.deletionCookie()).toThrow(/Partitioned/);
    expect(() => manager.deletionCookie()).toThrow(/Partitioned/);
  });
});

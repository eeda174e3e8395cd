import { describe, expect, it } from 'vitest';
import { systemClock } from '../src/clock.js';
import { createJwtVerifier, generateSigningKey } from '../src/entries/jwt.js';
import { createEmitter } from '../src/events.js';
import { flagUserAgentChange, rejectUserAgentChange, type SessionEvent } from '../src/index.js';
import { JwtKeySet } from '../src/jwt/key-set.js';
import { setup } from './helpers/setup.js';

const event: SessionEvent = {
  type: 'session.created',
  at: 1,
  sidHash: '0123456789abcdef',
  userId: 'u1',
  ip: null,
  userAgent: null,
};

describe('createEmitter', () => {
  it('calls one listener or each of a list, in order', () => {
    const seen: string[] = [];
    createEmitter((e) => seen.push(`one:${e.type}`))(event);
    createEmitter([(e) => seen.push(`a:${e.at}`), (e) => seen.push(`b:${e.at}`)])(event);
    expect(seen).toEqual(['one:session.created', 'a:1', 'b:1']);
  });

  it('is a no-op without listeners', () => {
    expect(() => createEmitter(undefined)(event)).not.toThrow();
    expect(() => createEmitter([])(event)).not.toThrow();
  });

  it('a throwing listener never stops the others and never reaches the caller', () => {
    const seen: number[] = [];
    const emit = createEmitter([
      () => {
        throw new Error('audit sink down');
      },
      (e) => seen.push(e.at),
    ]);
    expect(() => emit(event)).not.toThrow();
    expect(seen).toEqual([1]);
  });

  it('an async listener that rejects is handled too: no unhandled rejection, the others still run', () => {
    // A thenable that records whether anyone listens for its failure; an unhandled rejection
    // would end a Node process (the default since Node 15).
    let rejectionHandled = false;
    const failedWrite: PromiseLike<void> = {
      // biome-ignore lint/suspicious/noThenProperty: a hand-made thenable, to see the handler attached.
      then(_onFulfilled, onRejected) {
        rejectionHandled = typeof onRejected === 'function';
        return failedWrite as PromiseLike<never>;
      },
    };
    const seen: number[] = [];
    const emit = createEmitter([() => failedWrite, (e) => seen.push(e.at)]);
    expect(() => emit(event)).not.toThrow();
    expect(rejectionHandled).toBe(true);
    expect(seen).toEqual([1]);
  });

  it('a JWT verifier handles the failure of an async jwt.rejected hook the same way', async () => {
    let rejectionHandled = false;
    const failedWrite: PromiseLike<void> = {
      // biome-ignore lint/suspicious/noThenProperty: a hand-made thenable, to see the handler attached.
      then(_onFulfilled, onRejected) {
        rejectionHandled = typeof onRejected === 'function';
        return failedWrite as PromiseLike<never>;
      },
    };
    const keys = new JwtKeySet({ active: await generateSigningKey('EdDSA') });
    const verifier = createJwtVerifier({
      keys,
      issuer: 'https://auth.test',
      audience: 'web',
      onEvent: () => failedWrite,
    });
    await expect(verifier.verify('not.a.jwt')).rejects.toMatchObject({ code: 'JWT_MALFORMED' });
    expect(rejectionHandled).toBe(true);
  });

  it('a throwing audit hook does not change an authentication result', async () => {
    const { sessions } = setup({
      onEvent: () => {
        throw new Error('audit sink down');
      },
    });
    const issued = await sessions.create({ userId: 'u1' });
    expect((await sessions.validateToken(issued.token)).status).toBe('valid');
  });
});

describe('binding policies', () => {
  it('flagUserAgentChange flags a different user agent and allows anything else', () => {
    expect(flagUserAgentChange({ userAgent: 'A' }, { userAgent: 'B' })).toEqual({
      decision: 'flag',
      reason: 'user_agent_changed',
    });
    expect(flagUserAgentChange({ userAgent: 'A' }, { userAgent: 'A', ip: '10.0.0.2' })).toBe('allow');
    expect(flagUserAgentChange({ userAgent: 'A', ip: '10.0.0.1' }, { ip: '10.0.0.2' })).toBe('allow');
    expect(flagUserAgentChange({ userAgent: null }, { userAgent: 'B' })).toBe('allow');
    expect(flagUserAgentChange({ userAgent: 'A' }, { userAgent: null })).toEqual({
      decision: 'flag',
      reason: 'user_agent_changed',
    });
  });

  it('rejectUserAgentChange rejects a different user agent and flags a different IP', () => {
    expect(rejectUserAgentChange({ userAgent: 'A' }, { userAgent: 'B' })).toEqual({
      decision: 'reject',
      reason: 'user_agent_changed',
    });
    expect(rejectUserAgentChange({ userAgent: 'A', ip: '10.0.0.1' }, { userAgent: 'A', ip: '10.0.0.2' })).toEqual({
      decision: 'flag',
      reason: 'ip_changed',
    });
    expect(rejectUserAgentChange({ userAgent: 'A', ip: '10.0.0.1' }, { userAgent: 'A', ip: '10.0.0.1' })).toBe('allow');
  });

  it('a custom policy sees the stored metadata and the request signals; its verdict applies', async () => {
    const calls: unknown[] = [];
    const { sessions, events } = setup({
      binding: (stored, current) => {
        calls.push([stored.ip, current.ip]);
        return current.ip?.startsWith('10.') ? 'allow' : 'reject';
      },
    });
    const issued = await sessions.create({ userId: 'u1', metadata: { ip: '10.0.0.1' } });
    expect((await sessions.validateToken(issued.token, { ip: '10.0.0.9' })).status).toBe('valid');
    const rejected = await sessions.validateToken(issued.token, { ip: '203.0.113.1' });
    expect(rejected.status).toBe('rejected');
    expect(events.at(-1)).toMatchObject({ type: 'session.anomaly', reason: 'binding' });
    expect(calls).toEqual([
      ['10.0.0.1', '10.0.0.9'],
      ['10.0.0.1', '203.0.113.1'],
    ]);
    expect((await sessions.validateToken(issued.token, { ip: '10.0.0.9' })).session).toBeNull();
  });
});

describe('systemClock', () => {
  it('reads the real time in milliseconds', () => {
    const before = Date.now();
    const now = systemClock.now();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });
});

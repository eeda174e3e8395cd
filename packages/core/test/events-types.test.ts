import { describe, expect, expectTypeOf, it } from 'vitest';
import { createCsrfProtection } from '../src/entries/csrf.js';
import { createDbsc } from '../src/entries/dbsc.js';
import { assertSessionDpopBinding, type VerifiedDpopProof } from '../src/entries/dpop.js';
import { createSessionJwt, generateSigningKey } from '../src/entries/jwt.js';
import { createRefreshTokens } from '../src/entries/refresh.js';
import {
  type BindingPolicy,
  MemoryStore,
  rejectUserAgentChange,
  type SessionEvent,
  type SessionEventMap,
  type SessionEventType,
} from '../src/index.js';
import { JwtKeySet } from '../src/jwt/key-set.js';
import { SessionManager } from '../src/manager.js';
import {
  createTestClock,
  generateDbscKey,
  parseChallengeHeader,
  parseRegistrationHeader,
  sessionResponseHeader,
  signDbscProof,
} from '../src/testing/index.js';
import { generateSessionToken } from '../src/token.js';

// The compile-time half of this file is checked by `tsc -p packages/core` (CI's typecheck) and by
// type-tests.node.test.ts, which compiles it and fails on any diagnostic, unused
// `@ts-expect-error` lines included.

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
type OptionalKeys<T> = Exclude<keyof T, RequiredKeys<T>>;
type ReasonOf<T> = T extends { reason: infer R } ? R : never;

/**
 * Each event's keys as data, so the runtime events can be checked against them. `reasons` lists a
 * closed reason union (or is null when the reason is free text). The type below proves the table
 * equal to the declared union, so the runtime check below is a check against the types.
 */
const shapes = {
  'session.created': { required: ['type', 'at', 'sidHash', 'userId', 'ip', 'userAgent'], optional: [], reasons: null },
  'session.rotated': {
    required: ['type', 'at', 'sidHash', 'previousSidHash', 'userId', 'reason'],
    optional: [],
    reasons: ['rotated', 'reauthenticated'],
  },
  'session.extended': { required: ['type', 'at', 'sidHash', 'userId'], optional: [], reasons: null },
  'session.revoked': { required: ['type', 'at', 'reason'], optional: ['sidHash', 'userId'], reasons: null },
  'session.evicted': {
    required: ['type', 'at', 'sidHash', 'userId', 'reason'],
    optional: [],
    reasons: ['session_limit'],
  },
  'session.expired': {
    required: ['type', 'at', 'sidHash', 'userId', 'reason'],
    optional: [],
    reasons: ['idle_expired', 'absolute_expired'],
  },
  'session.invalid_token': {
    required: ['type', 'at', 'reason', 'ip'],
    optional: [],
    reasons: ['malformed', 'unknown', 'secret_mismatch', 'ambiguous'],
  },
  'session.anomaly': {
    required: ['type', 'at', 'sidHash', 'userId', 'reason', 'ip', 'userAgent'],
    optional: [],
    reasons: null,
  },
  'refresh.rotated': { required: ['type', 'at', 'sidHash', 'userId'], optional: [], reasons: null },
  'refresh.reuse_detected': {
    required: ['type', 'at', 'sidHash', 'userId', 'reason'],
    optional: [],
    reasons: ['after_grace', 'older_generation'],
  },
  'refresh.dpop_mismatch': {
    required: ['type', 'at', 'sidHash', 'userId', 'reason'],
    optional: [],
    reasons: ['proof_missing', 'key_mismatch'],
  },
  'session.dpop_mismatch': {
    required: ['type', 'at', 'sidHash', 'userId', 'reason', 'ip'],
    optional: [],
    reasons: ['proof_missing', 'key_mismatch'],
  },
  'session.dbsc_registered': { required: ['type', 'at', 'sidHash', 'userId', 'alg'], optional: [], reasons: null },
  'session.dbsc_rejected': {
    required: ['type', 'at', 'sidHash', 'userId', 'step', 'reason', 'ip'],
    optional: [],
    reasons: ['key_mismatch', 'proof_invalid', 'challenge_invalid', 'not_bound', 'id_mismatch', 'already_bound'],
  },
  'csrf.rejected': { required: ['type', 'at', 'reason', 'ip'], optional: ['sidHash', 'userId'], reasons: null },
  'jwt.rejected': { required: ['type', 'at', 'reason'], optional: [], reasons: null },
} as const satisfies Record<
  SessionEventType,
  { required: readonly string[]; optional: readonly string[]; reasons: readonly string[] | null }
>;

type Shapes = typeof shapes;
type TableMatchesTypes = {
  [T in SessionEventType]: [
    Equal<Shapes[T]['required'][number], RequiredKeys<SessionEventMap[T]>>,
    Equal<Shapes[T]['optional'][number] | never, OptionalKeys<SessionEventMap[T]>>,
    Shapes[T]['reasons'] extends readonly string[]
      ? Equal<Shapes[T]['reasons'][number], ReasonOf<SessionEventMap[T]>>
      : true,
  ];
};

describe('SessionEvent: a union on type', () => {
  it('narrows on `type` to exactly that event’s fields', () => {
    const read = (event: SessionEvent) => {
      if (event.type === 'session.rotated') {
        expectTypeOf(event.previousSidHash).toEqualTypeOf<string>();
        expectTypeOf(event.reason).toEqualTypeOf<'rotated' | 'reauthenticated'>();
      }
      if (event.type === 'session.invalid_token') {
        // @ts-expect-error an invalid token names no session
        void event.sidHash;
        expectTypeOf(event.ip).toEqualTypeOf<string | null>();
      }
      if (event.type === 'session.revoked') expectTypeOf(event.sidHash).toEqualTypeOf<string | undefined>();
      if (event.type === 'session.expired') {
        expectTypeOf(event.reason).toEqualTypeOf<'idle_expired' | 'absolute_expired'>();
      }
      if (event.type === 'csrf.rejected') expectTypeOf(event.reason).toExtend<`report_only:${string}` | string>();
      // @ts-expect-error only session.rotated carries previousSidHash: narrow first
      void event.previousSidHash;
      return event.at;
    };
    expect(read).toBeTypeOf('function');
    expectTypeOf<SessionEvent['type']>().toEqualTypeOf<SessionEventType>();
    expectTypeOf<Extract<SessionEvent, { type: 'session.rotated' }>>().toEqualTypeOf<
      SessionEventMap['session.rotated']
    >();
    expectTypeOf<{ [T in SessionEventType]: SessionEventMap[T]['type'] }>().toEqualTypeOf<{
      [T in SessionEventType]: T;
    }>();
    expectTypeOf<TableMatchesTypes>().toEqualTypeOf<{ [T in SessionEventType]: [true, true, true] }>();
  });

  it('an event literal missing a field of its type, or carrying another type’s field, does not compile', () => {
    const events: SessionEvent[] = [
      // @ts-expect-error session.rotated needs previousSidHash
      { type: 'session.rotated', at: 1, sidHash: 'a', userId: 'u', reason: 'rotated' },
      // @ts-expect-error session.extended carries no reason
      { type: 'session.extended', at: 1, sidHash: 'a', userId: 'u', reason: 'x' },
      // @ts-expect-error not one of the reasons of session.invalid_token
      { type: 'session.invalid_token', at: 1, reason: 'expired', ip: null },
      { type: 'jwt.rejected', at: 1, reason: 'kid_unknown' },
    ];
    expect(events).toHaveLength(4);
  });

  it('every event emitted over a full lifecycle has exactly the keys of its member, and no credential', async () => {
    const clock = createTestClock();
    const events: SessionEvent[] = [];
    const manager = new SessionManager({
      store: new MemoryStore(),
      clock,
      onEvent: (event) => events.push(event),
      maxSessionsPerUser: 2,
      binding: rejectUserAgentChange,
    });
    const credentials: string[] = [];
    const remember = <T extends { token: string }>(issued: T) => {
      credentials.push(issued.token);
      return issued;
    };
    const meta = { userAgent: 'Browser/1', ip: '198.51.100.7' };

    // Sessions: created, evicted, rotated (both reasons), extended, anomaly.
    remember(await manager.create({ userId: 'user-1', metadata: meta }));
    const b = remember(await manager.create({ userId: 'user-1' }));
    remember(await manager.create({ userId: 'user-1', metadata: meta }));
    const rotated = remember(await manager.rotate(b.session));
    const reauthenticated = remember(await manager.rotate(rotated.session, { reauthenticated: true }));
    await manager.extend(reauthenticated.session, { byMs: 60_000 });
    const c = remember(await manager.create({ userId: 'user-2', metadata: meta }));
    await manager.validateToken(c.token, { userAgent: 'Other/2', ip: meta.ip });

    // Tokens that prove nothing: malformed, unknown, wrong secret, ambiguous.
    const d = remember(await manager.create({ userId: 'user-3', metadata: meta }));
    const e = remember(await manager.create({ userId: 'user-3', metadata: meta }));
    await manager.validateToken('not-a-token', { ip: '203.0.113.1' });
    await manager.validateToken(generateSessionToken().token);
    await manager.validateToken(`${d.token.split('.')[0]}.${generateSessionToken().secret}`);
    await manager.validateCookie(`__Host-sid=${d.token}; __Host-sid=${e.token}`);

    // Expiry (aal2: 30 minutes idle), then the three scopes of revocation.
    clock.advance(31 * 60_000);
    await manager.validateToken(d.token);
    const f = remember(await manager.create({ userId: 'user-4' }));
    await manager.revoke(f.session.id);
    await manager.revokeAll('user-4');
    await manager.revokeEveryone();

    // Refresh tokens (rotation, then reuse) and a rejected JWT.
    const jwt = createSessionJwt({
      manager,
      keys: new JwtKeySet({ active: await generateSigningKey('EdDSA') }),
      issuer: 'https://auth.test',
      audience: 'web',
    });
    const refresh = createRefreshTokens({ jwt, secret: new Uint8Array(32).fill(9) });
    const g = remember(await manager.create({ userId: 'user-5' }));
    const pair = await refresh.issue(g.session);
    const next = await refresh.refresh(pair.refreshToken);
    credentials.push(pair.refreshToken, pair.accessToken, next.refreshToken, next.accessToken);
    clock.advance(60_000);
    await expect(refresh.refresh(pair.refreshToken)).rejects.toMatchObject({ code: 'REFRESH_REUSED' });
    await expect(jwt.verify('not.a.jwt')).rejects.toMatchObject({ code: 'JWT_MALFORMED' });

    // DPoP: a bound session's refresh token and session token presented without the key's proof.
    const jkt = 'A'.repeat(43);
    const bound = remember(await manager.create({ userId: 'user-7', metadata: { dpopJkt: jkt } }));
    const proofFromKey = { jkt } as VerifiedDpopProof;
    const boundPair = await refresh.issue(bound.session, { dpop: proofFromKey });
    credentials.push(boundPair.refreshToken, boundPair.accessToken);
    await expect(refresh.refresh(boundPair.refreshToken)).rejects.toMatchObject({ code: 'DPOP_KEY_MISMATCH' });
    expect(() => assertSessionDpopBinding(manager, bound.session, null)).toThrow();

    // DBSC: a browser registers its key, then a refresh signed by another key is refused.
    const dbsc = createDbsc(manager, { secret: new Uint8Array(32).fill(5) });
    const device = remember(await manager.create({ userId: 'user-8' }));
    const { challenge } = parseRegistrationHeader(dbsc.registrationHeader(device.session));
    const deviceKey = await generateDbscKey();
    await dbsc.register(device.session, {
      proof: sessionResponseHeader(await signDbscProof(deviceKey, { challenge, registration: true })),
    });
    const boundSession = (await manager.validateToken(device.token)).session;
    if (!boundSession) throw new Error('the bound session should validate');
    const asked = await dbsc.refresh(boundSession, { proof: null });
    const refreshChallenge = parseChallengeHeader(asked.headers['Secure-Session-Challenge'] ?? '').challenge;
    const thief = await signDbscProof(await generateDbscKey(), { challenge: refreshChallenge });
    await expect(
      dbsc.refresh(boundSession, { proof: sessionResponseHeader(thief), ip: '203.0.113.9' }),
    ).rejects.toMatchObject({
      code: 'DBSC_PROOF_INVALID',
    });

    // CSRF: a rejection with a session, and one in report-only mode without one.
    const h = remember(await manager.create({ userId: 'user-6' }));
    const csrfKey = new Uint8Array(32).fill(7);
    const csrf = createCsrfProtection({ key: csrfKey, allowedOrigins: ['https://example.com'], manager });
    const crossSite = { method: 'POST', headers: { 'sec-fetch-site': 'cross-site' }, ip: '203.0.113.2' };
    expect(() => csrf.verify({ ...crossSite, session: h.session })).toThrow();
    const reporting = createCsrfProtection({
      key: csrfKey,
      allowedOrigins: ['https://example.com'],
      manager,
      reportOnly: true,
    });
    expect(reporting.verify({ ...crossSite, session: null }).outcome).toBe('reported');

    expect(new Set(events.map((event) => event.type))).toEqual(new Set(Object.keys(shapes)));
    for (const event of events) {
      const shape: Shapes[SessionEventType] = shapes[event.type];
      const present = Object.keys(event).filter((key) => (event as Record<string, unknown>)[key] !== undefined);
      const context = JSON.stringify(event);
      expect(
        present.filter((key) => !shape.required.includes(key as never) && !shape.optional.includes(key as never)),
        context,
      ).toEqual([]);
      expect(
        shape.required.filter((key) => !present.includes(key)),
        context,
      ).toEqual([]);
      const fields = event as Record<string, unknown>;
      expect(typeof fields.at, context).toBe('number');
      for (const key of ['sidHash', 'previousSidHash'] as const) {
        if (fields[key] !== undefined) expect(fields[key], context).toMatch(/^[0-9a-f]{16}$/);
      }
      for (const key of ['ip', 'userAgent'] as const) {
        if (key in fields) expect(fields[key] === null || typeof fields[key] === 'string', context).toBe(true);
      }
      if ('reason' in event) {
        expect(typeof event.reason, context).toBe('string');
        if (shape.reasons) expect(shape.reasons, context).toContain(event.reason);
      }
    }

    const text = JSON.stringify(events);
    for (const credential of credentials) {
      for (const part of credential.split('.')) if (part.length >= 8) expect(text).not.toContain(part);
    }
  });
});

describe('BindingPolicy: read-only arguments', () => {
  it('a policy cannot write to the request signals or the stored metadata, and reading them works', async () => {
    const seen: Array<string | null | undefined> = [];
    const policy: BindingPolicy = (stored, current) => {
      // @ts-expect-error the signals may be one frozen object shared by every request
      if (current.ip === 'never') current.ip = null;
      // @ts-expect-error the stored metadata is the record's own
      if (stored.ip === 'never') stored.ip = null;
      seen.push(current.userAgent);
      return 'allow';
    };
    const manager = new SessionManager({ store: new MemoryStore(), binding: policy });
    const { token } = await manager.create({ userId: 'u1', metadata: { userAgent: 'A' } });
    // Without signals, the policy receives the shared frozen object: reading is fine.
    expect((await manager.validateToken(token)).status).toBe('valid');
    expect((await manager.validateToken(token, { userAgent: 'B' })).status).toBe('valid');
    expect(seen).toEqual([undefined, 'B']);
  });
});

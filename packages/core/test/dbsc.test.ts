import { describe, expect, it } from 'vitest';
import { createDbsc, type DbscAnswer, isDbscBinding, readProofHeader } from '../src/entries/dbsc.js';
import { isSessionError } from '../src/errors.js';
import { MemoryStore, type SessionEvent } from '../src/index.js';
import { SessionManager } from '../src/manager.js';
import {
  createTestClock,
  type DbscTestKey,
  generateDbscKey,
  parseChallengeHeader,
  parseRegistrationHeader,
  sessionResponseHeader,
  signDbscProof,
} from '../src/testing/index.js';

const SECRET = new Uint8Array(32).fill(11);

function setup(options: { boundCookieTtlMs?: number; challengeTtlMs?: number } = {}) {
  const clock = createTestClock(Date.UTC(2026, 11, 6));
  const events: SessionEvent[] = [];
  const store = new MemoryStore();
  const manager = new SessionManager({ store, clock, onEvent: (event) => events.push(event) });
  const dbsc = createDbsc(manager, { secret: SECRET, ...options });
  return { clock, events, store, manager, dbsc };
}

async function refusal(promise: Promise<unknown>): Promise<{ code: string; reason: string | undefined }> {
  try {
    await promise;
  } catch (error) {
    if (isSessionError(error)) return { code: error.code, reason: error.reason };
    throw error;
  }
  throw new Error('expected a refusal');
}

/** `name=value` of the first Set-Cookie of an answer, as a browser would send it back. */
function cookiePair(answer: DbscAnswer): string {
  return (answer.cookies[0] ?? '').split(';')[0] as string;
}

/** Login, then registration by the spec client with `key`: the bound session and the answer. */
async function registered(env: ReturnType<typeof setup>, key: DbscTestKey) {
  const issued = await env.manager.create({ userId: 'alice' });
  const header = parseRegistrationHeader(env.dbsc.registrationHeader(issued.session));
  const proof = await signDbscProof(key, { challenge: header.challenge, registration: true });
  const answer = await env.dbsc.register(issued.session, { proof: sessionResponseHeader(proof) });
  const session = (await env.manager.validateToken(issued.token)).session;
  if (!session) throw new Error('session lost');
  return { issued, answer, session };
}

/** The 403 + challenge round of a refresh: the challenge a browser would sign. */
async function challengeFor(env: ReturnType<typeof setup>, session: Parameters<typeof env.dbsc.refresh>[0]) {
  const asked = await env.dbsc.refresh(session, { proof: null });
  expect(asked.status).toBe(403);
  const parsed = parseChallengeHeader(asked.headers['Secure-Session-Challenge'] ?? '');
  expect(parsed.id).toBe(session.metadata.dbsc?.id);
  return parsed.challenge;
}

describe('DBSC registration', () => {
  it('offers ES256 then RS256 with the registration path and a challenge', () => {
    const env = setup();
    const header = parseRegistrationHeader(env.dbsc.registrationHeader({ id: 'x'.repeat(22) }));
    expect(header.algorithms).toEqual(['ES256', 'RS256']);
    expect(header.path).toBe('/dbsc/register');
    expect(header.challenge).toMatch(/^reg\.[0-9a-z]+\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
  });

  for (const alg of ['ES256', 'RS256'] as const) {
    it(`stores the ${alg} public key with the session and answers the session instructions`, async () => {
      const env = setup();
      const key = await generateDbscKey(alg);
      const { answer, session } = await registered(env, key);
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({
        session_identifier: session.metadata.dbsc?.id,
        refresh_url: '/dbsc/refresh',
        scope: { include_site: false, scope_specification: [] },
        credentials: [
          { type: 'cookie', name: '__Host-sid-bound', attributes: 'Path=/; Secure; HttpOnly; SameSite=Lax' },
        ],
      });
      expect(answer.cookies[0]).toMatch(
        /^__Host-sid-bound=[0-9a-z]+\.[A-Za-z0-9_-]{43}; Path=\/; Max-Age=600; Secure; HttpOnly; SameSite=Lax$/,
      );
      const binding = session.metadata.dbsc;
      expect(isDbscBinding(binding)).toBe(true);
      expect(binding?.alg).toBe(alg);
      expect(binding?.jwk).toEqual(key.publicJwk);
      expect(env.events.filter((e) => e.type === 'session.dbsc_registered')).toHaveLength(1);
      // The bound cookie of the answer is fresh for this session.
      expect(env.dbsc.state(session, cookiePair(answer))).toBe('fresh');
    });
  }

  it('refuses a proof without typ dbsc+jwt, with a private key, with alg none, or unsigned by the embedded key', async () => {
    const env = setup();
    const issued = await env.manager.create({ userId: 'alice' });
    const key = await generateDbscKey();
    const other = await generateDbscKey();
    const fresh = () => parseRegistrationHeader(env.dbsc.registrationHeader(issued.session)).challenge;
    const attempts = [
      await signDbscProof(key, { challenge: fresh(), registration: true, header: { typ: 'JWT' } }),
      await signDbscProof(key, {
        challenge: fresh(),
        registration: true,
        header: { jwk: { ...key.publicJwk, d: 'AAAA' } },
      }),
      await signDbscProof(key, { challenge: fresh(), registration: true, header: { jwk: other.publicJwk } }),
      await signDbscProof(key, { challenge: fresh(), registration: false }),
      `${(await signDbscProof(key, { challenge: fresh(), registration: true, header: { alg: 'none' } })).split('.').slice(0, 2).join('.')}.`,
      'not a jwt',
    ];
    for (const proof of attempts) {
      expect(await refusal(env.dbsc.register(issued.session, { proof: sessionResponseHeader(proof) }))).toMatchObject({
        code: 'DBSC_PROOF_INVALID',
      });
    }
    // Nothing was stored: the session is still unbound and a sound proof still registers.
    const still = (await env.manager.validateToken(issued.token)).session;
    expect(still?.metadata.dbsc).toBeUndefined();
    const proof = await signDbscProof(key, { challenge: fresh(), registration: true });
    expect((await env.dbsc.register(issued.session, { proof: sessionResponseHeader(proof) })).status).toBe(200);
  });

  it("refuses another session's challenge, a replayed one, an expired one, and a second registration", async () => {
    const env = setup();
    const key = await generateDbscKey();
    const alice = await env.manager.create({ userId: 'alice' });
    const bob = await env.manager.create({ userId: 'bob' });
    const bobs = parseRegistrationHeader(env.dbsc.registrationHeader(bob.session)).challenge;
    const stolen = await signDbscProof(key, { challenge: bobs, registration: true });
    expect(await refusal(env.dbsc.register(alice.session, { proof: sessionResponseHeader(stolen) }))).toEqual({
      code: 'DBSC_CHALLENGE_INVALID',
      reason: 'challenge_invalid',
    });

    const old = parseRegistrationHeader(env.dbsc.registrationHeader(alice.session)).challenge;
    env.clock.advance(5 * 60_000 + 1);
    const late = await signDbscProof(key, { challenge: old, registration: true });
    expect((await refusal(env.dbsc.register(alice.session, { proof: sessionResponseHeader(late) }))).code).toBe(
      'DBSC_CHALLENGE_INVALID',
    );

    const challenge = parseRegistrationHeader(env.dbsc.registrationHeader(alice.session)).challenge;
    const proof = sessionResponseHeader(await signDbscProof(key, { challenge, registration: true }));
    expect((await env.dbsc.register(alice.session, { proof })).status).toBe(200);
    // The same proof again, and a thief's key with a new challenge: the session keeps the first key.
    expect(await refusal(env.dbsc.register(alice.session, { proof }))).toEqual({
      code: 'DBSC_PROOF_INVALID',
      reason: 'already_bound',
    });
    const thief = await generateDbscKey();
    const again = parseRegistrationHeader(env.dbsc.registrationHeader(alice.session)).challenge;
    const swap = sessionResponseHeader(await signDbscProof(thief, { challenge: again, registration: true }));
    expect((await refusal(env.dbsc.register(alice.session, { proof: swap }))).reason).toBe('already_bound');
    const rejected = env.events.filter((e) => e.type === 'session.dbsc_rejected').map((e) => e.reason);
    expect(rejected).toEqual(['challenge_invalid', 'challenge_invalid', 'already_bound', 'already_bound']);
  });
});

describe('DBSC refresh', () => {
  it('challenges with 403, then issues a fresh bound cookie for a proof from the registered key', async () => {
    const env = setup({ boundCookieTtlMs: 60_000 });
    const key = await generateDbscKey();
    const { session, answer } = await registered(env, key);
    const first = cookiePair(answer);
    env.clock.advance(60_000);
    expect(env.dbsc.state(session, first)).toBe('stale');
    expect(() => env.dbsc.assertBound(session, first)).toThrow(
      expect.objectContaining({ code: 'DBSC_BINDING_REQUIRED' }),
    );

    const challenge = await challengeFor(env, session);
    const proof = sessionResponseHeader(await signDbscProof(key, { challenge }));
    const renewed = await env.dbsc.refresh(session, { proof, sessionIdHeader: `"${session.metadata.dbsc?.id}"` });
    expect(renewed.status).toBe(200);
    expect(renewed.body?.session_identifier).toBe(session.metadata.dbsc?.id);
    expect(env.dbsc.state(session, cookiePair(renewed))).toBe('fresh');
    expect(() => env.dbsc.assertBound(session, cookiePair(renewed))).not.toThrow();
  });

  it('refuses a proof from another key, a replayed challenge, an expired one, and a wrong session id, with events', async () => {
    const env = setup();
    const key = await generateDbscKey();
    const { session } = await registered(env, key);

    const thief = await generateDbscKey();
    const c1 = await challengeFor(env, session);
    expect(
      await refusal(
        env.dbsc.refresh(session, { proof: sessionResponseHeader(await signDbscProof(thief, { challenge: c1 })) }),
      ),
    ).toEqual({
      code: 'DBSC_PROOF_INVALID',
      reason: 'key_mismatch',
    });

    const c2 = await challengeFor(env, session);
    const good = sessionResponseHeader(await signDbscProof(key, { challenge: c2 }));
    expect((await env.dbsc.refresh(session, { proof: good })).status).toBe(200);
    expect(await refusal(env.dbsc.refresh(session, { proof: good }))).toEqual({
      code: 'DBSC_CHALLENGE_INVALID',
      reason: 'challenge_invalid',
    });

    const c3 = await challengeFor(env, session);
    env.clock.advance(5 * 60_000 + 1);
    const late = sessionResponseHeader(await signDbscProof(key, { challenge: c3 }));
    expect((await refusal(env.dbsc.refresh(session, { proof: late }))).code).toBe('DBSC_CHALLENGE_INVALID');

    // A registration challenge is not a refresh challenge, even for the same key.
    const reg = parseRegistrationHeader(env.dbsc.registrationHeader(session)).challenge;
    const wrongPurpose = sessionResponseHeader(await signDbscProof(key, { challenge: reg }));
    expect((await refusal(env.dbsc.refresh(session, { proof: wrongPurpose }))).code).toBe('DBSC_CHALLENGE_INVALID');

    const c4 = await challengeFor(env, session);
    const ok = sessionResponseHeader(await signDbscProof(key, { challenge: c4 }));
    expect(await refusal(env.dbsc.refresh(session, { proof: ok, sessionIdHeader: '"someone-else"' }))).toEqual({
      code: 'DBSC_PROOF_INVALID',
      reason: 'id_mismatch',
    });

    const rejected = env.events.flatMap((e) => (e.type === 'session.dbsc_rejected' ? [`${e.step}:${e.reason}`] : []));
    expect(rejected).toEqual([
      'refresh:key_mismatch',
      'refresh:challenge_invalid',
      'refresh:challenge_invalid',
      'refresh:challenge_invalid',
      'refresh:id_mismatch',
    ]);
  });

  it('refuses to refresh a session that never registered, and lets unbound sessions through unless binding is required', async () => {
    const env = setup();
    const issued = await env.manager.create({ userId: 'carol' });
    expect((await refusal(env.dbsc.refresh(issued.session, { proof: null }))).code).toBe('DBSC_BINDING_REQUIRED');
    expect(env.dbsc.state(issued.session, '')).toBe('unbound');
    expect(() => env.dbsc.assertBound(issued.session, '')).not.toThrow();
    expect(() => env.dbsc.assertBound(issued.session, '', 'always')).toThrow(
      expect.objectContaining({ code: 'DBSC_BINDING_REQUIRED' }),
    );
  });

  it('does not take the bound cookie of another binding, a forged one, or one past its lifetime', async () => {
    const env = setup({ boundCookieTtlMs: 30_000 });
    const a = await registered(env, await generateDbscKey());
    const b = await registered(env, await generateDbscKey());
    expect(env.dbsc.state(a.session, cookiePair(b.answer))).toBe('stale');
    const [name, value = ''] = cookiePair(a.answer).split('=');
    const [expires = '', mac = ''] = value.split('.');
    const later = (Number.parseInt(expires, 36) + 3_600_000).toString(36);
    expect(env.dbsc.state(a.session, `${name}=${later}.${mac}`)).toBe('stale');
    expect(env.dbsc.state(a.session, cookiePair(a.answer))).toBe('fresh');
    env.clock.advance(30_000);
    expect(env.dbsc.state(a.session, cookiePair(a.answer))).toBe('stale');
  });

  it('keeps the binding across rotation, also when the rotation brings new metadata', async () => {
    const env = setup();
    const key = await generateDbscKey();
    const { session } = await registered(env, key);
    const rotated = await env.manager.rotate(session, { metadata: { label: 'laptop' } });
    expect(rotated.session.metadata.dbsc).toEqual(session.metadata.dbsc);
    const challenge = await challengeFor(env, rotated.session);
    const proof = sessionResponseHeader(await signDbscProof(key, { challenge }));
    expect((await env.dbsc.refresh(rotated.session, { proof })).status).toBe(200);
  });
});

describe('DBSC configuration and parsing', () => {
  it('refuses a short secret and a bound cookie lifetime under a second', () => {
    const manager = new SessionManager({ store: new MemoryStore() });
    expect(() => createDbsc(manager, { secret: new Uint8Array(16) })).toThrow(
      expect.objectContaining({ code: 'KEY_WEAK' }),
    );
    expect(() => createDbsc(manager, { secret: SECRET, boundCookieTtlMs: 10 })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
  });

  it('reads the proof as a structured-field string or a bare JWT, and nothing else', () => {
    expect(readProofHeader('"a.b.c"')).toBe('a.b.c');
    expect(readProofHeader('"a.b.c";x=1')).toBe('a.b.c');
    expect(readProofHeader('a.b.c')).toBe('a.b.c');
    expect(readProofHeader('"a.b"')).toBeNull();
    expect(readProofHeader(`"${'a'.repeat(9000)}.b.c"`)).toBeNull();
    expect(readProofHeader(null)).toBeNull();
  });
});

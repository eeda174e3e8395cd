import { describe, expect, it } from 'vitest';
import { utf8 } from '../src/encoding.js';
import { exportSigningJwk, generateSigningKey, importJwtKey, type JwtAlgorithm } from '../src/entries/jwt.js';
import type { SessionErrorCode } from '../src/errors.js';
import { hmacSha256 } from '../src/hash.js';
import { JwtKeySet } from '../src/jwt/key-set.js';
import { DEFAULT_JWT_ALGORITHM, isWeakHmacSecret } from '../src/jwt/keys.js';
import { JwtVerifier } from '../src/jwt/verify.js';
import { createTestClock } from '../src/testing/index.js';
import { AUDIENCE, b64, codeOf, ISSUER, signRaw } from './jwt-support.js';

async function codeOfCall(fn: () => unknown): Promise<SessionErrorCode | 'resolved' | 'not-a-session-error'> {
  return codeOf((async () => fn())());
}

const randomKey = (length = 32) => crypto.getRandomValues(new Uint8Array(length));

describe('generating and importing keys', () => {
  for (const alg of ['EdDSA', 'ES256', 'HS256'] as const) {
    it(`${alg}: a generated key signs, verifies, and is bound to ${alg}`, async () => {
      const key = await generateSigningKey(alg);
      expect(key.alg).toBe(alg);
      expect(key.kid).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
      expect(key.signingKey).not.toBeNull();
      expect(key.signingKey?.extractable).toBe(false);
      expect(Object.isFrozen(key)).toBe(true);
      if (alg === 'HS256') expect(key.publicJwk).toBeNull();
      else expect(key.publicJwk).toMatchObject({ alg, use: 'sig', kid: key.kid });
    });
  }

  it('an extractable key round-trips through its private JWK; a non-extractable one refuses export', async () => {
    for (const alg of ['EdDSA', 'ES256', 'HS256'] as const) {
      const key = await generateSigningKey(alg, { extractable: true, kid: `k-${alg}` });
      const jwk = await exportSigningJwk(key);
      const again = await importJwtKey({ alg, key: jwk });
      expect(again.kid).toBe(key.kid);
      expect(again.publicJwk).toEqual(key.publicJwk);
      const verifier = new JwtVerifier({
        keys: new JwtKeySet({ verifyOnly: [again] }),
        issuer: ISSUER,
        audience: AUDIENCE,
      });
      const now = Math.floor(Date.now() / 1000);
      const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'u', sid: 's', jti: 'j', iat: now, nbf: now, exp: now + 60 };
      const token = await signRaw({ alg, kid: key.kid, typ: 'session+jwt' }, claims, key);
      expect((await verifier.verify(token)).sub).toBe('u');
      expect(await codeOf(exportSigningJwk(await generateSigningKey(alg)))).toBe('CONFIG_INVALID');
    }
  });

  it('imports a CryptoKeyPair, a public CryptoKey, and a public JWK (verify-only)', async () => {
    const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const fromPair = await importJwtKey({ alg: 'ES256', key: pair });
    expect(fromPair.signingKey).toBe(pair.privateKey);
    const fromPublic = await importJwtKey({ alg: 'ES256', key: pair.publicKey });
    expect(fromPublic.signingKey).toBeNull();
    expect(fromPublic.kid).toBe(fromPair.kid);
    const fromJwk = await importJwtKey({ alg: 'ES256', key: fromPair.publicJwk as never });
    expect(fromJwk.signingKey).toBeNull();
    expect(fromJwk.publicJwk).toEqual(fromPair.publicJwk);
  });

  it('F1: a key of the wrong type, curve, use or alg for the declared algorithm is CONFIG_INVALID', async () => {
    const ed = await generateSigningKey('EdDSA', { extractable: true });
    const es = await generateSigningKey('ES256', { extractable: true });
    const edJwk = await exportSigningJwk(ed);
    const esJwk = await exportSigningJwk(es);
    const cases: Array<[JwtAlgorithm, unknown]> = [
      ['ES256', edJwk],
      ['EdDSA', esJwk],
      ['HS256', edJwk],
      ['ES256', { ...esJwk, crv: 'P-384' }],
      ['ES256', { ...esJwk, alg: 'ES384' }],
      ['EdDSA', { ...edJwk, use: 'enc' }],
      ['ES256', ed.verificationKey],
      ['EdDSA', es.signingKey],
      ['EdDSA', randomKey()],
      ['RS256' as JwtAlgorithm, esJwk],
      ['none' as JwtAlgorithm, randomKey()],
    ];
    for (const [alg, key] of cases) {
      expect(await codeOf(importJwtKey({ alg, kid: 'k', key: key as never }))).toBe('CONFIG_INVALID');
    }
  });

  it('F4: a kid outside ^[A-Za-z0-9_-]{1,64}$ is refused at import', async () => {
    for (const kid of ['', 'a b', '../x', 'k'.repeat(65), 'é']) {
      expect(await codeOf(generateSigningKey('EdDSA', { kid }))).toBe('CONFIG_INVALID');
    }
  });
});

describe('F3 / JW-18: HS256 keys are 256+ random bits, never passwords', () => {
  // A few of the most common leaked HS256 secrets (the kind the wallarm/jwt-secrets list holds).
  const weakSecrets = [
    'secret',
    'your-256-bit-secret',
    'your-512-bit-secret',
    'password',
    'changeme',
    'jwt_secret',
    'supersecretkeyyoushouldnotcommit',
    'this-is-a-very-long-passphrase-that-is-still-a-password',
    'a3f1c2d4e5b6a7980112233445566778899aabbccddeeff00112233445566778',
  ];

  it('strings, text bytes and oct JWKs of text are KEY_WEAK', async () => {
    for (const secret of weakSecrets) {
      expect(await codeOf(importJwtKey({ alg: 'HS256', kid: 'k', key: secret as never }))).toBe('KEY_WEAK');
      expect(await codeOf(importJwtKey({ alg: 'HS256', kid: 'k', key: utf8(secret) }))).toBe('KEY_WEAK');
      expect(await codeOf(importJwtKey({ alg: 'HS256', kid: 'k', key: { kty: 'oct', k: b64(secret) } }))).toBe(
        'KEY_WEAK',
      );
    }
  });

  it('31 random bytes, 32 zero bytes and a 128-bit HMAC CryptoKey are KEY_WEAK; 32 random bytes are fine', async () => {
    expect(await codeOf(importJwtKey({ alg: 'HS256', kid: 'k', key: randomKey(31) }))).toBe('KEY_WEAK');
    expect(await codeOf(importJwtKey({ alg: 'HS256', kid: 'k', key: new Uint8Array(32) }))).toBe('KEY_WEAK');
    const short = await crypto.subtle.importKey('raw', randomKey(16), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
      'verify',
    ]);
    expect(await codeOf(importJwtKey({ alg: 'HS256', kid: 'k', key: short }))).toBe('KEY_WEAK');
    expect((await importJwtKey({ alg: 'HS256', kid: 'k', key: randomKey(32) })).alg).toBe('HS256');
    expect(isWeakHmacSecret(randomKey(64))).toBe(false);
  });

  it('an HS256 key needs a kid when given as bytes', async () => {
    expect(await codeOf(importJwtKey({ alg: 'HS256', key: randomKey() }))).toBe('CONFIG_INVALID');
  });

  it('tokens signed with weak secrets fail against our key (signature, not acceptance)', async () => {
    const ours = await importJwtKey({ alg: 'HS256', kid: 'ours', key: randomKey() });
    const clock = createTestClock();
    const verifier = new JwtVerifier({
      keys: new JwtKeySet({ active: ours }),
      issuer: ISSUER,
      audience: AUDIENCE,
      clock,
    });
    const now = Math.floor(clock.now() / 1000);
    const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'admin', sid: 's', jti: 'j', iat: now, nbf: now, exp: now + 60 };
    for (const secret of weakSecrets) {
      const input = `${b64(JSON.stringify({ alg: 'HS256', kid: 'ours', typ: 'session+jwt' }))}.${b64(JSON.stringify(claims))}`;
      const token = `${input}.${b64(hmacSha256(utf8(secret), input))}`;
      expect(await codeOf(verifier.verify(token))).toBe('JWT_SIGNATURE_INVALID');
    }
  });
});

describe('key sets and the public JWKS', () => {
  it('exports only public EdDSA/ES256 members: no d, no k, nothing private', async () => {
    const ed = await generateSigningKey('EdDSA', { extractable: true });
    const es = await generateSigningKey('ES256', { extractable: true });
    const keys = new JwtKeySet({ active: ed, verifyOnly: [es] });
    const jwks = keys.exportJwks();
    expect(jwks.keys.map((k) => k.kid)).toEqual([ed.kid, es.kid]);
    for (const jwk of jwks.keys) {
      expect(Object.keys(jwk).sort()).toEqual(
        jwk.kty === 'EC' ? ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'] : ['alg', 'crv', 'kid', 'kty', 'use', 'x'],
      );
    }
    const privateJwk = await exportSigningJwk(ed);
    expect(JSON.stringify(jwks)).not.toContain(privateJwk.d as string);
  });

  it('an HS256 key set publishes nothing', async () => {
    const keys = new JwtKeySet({ active: await generateSigningKey('HS256') });
    expect(keys.exportJwks()).toEqual({ keys: [] });
  });

  it('refuses an empty set, duplicate kids, a public-only active key and retiring the active key', async () => {
    const ed = await generateSigningKey('EdDSA', { kid: 'one' });
    const publicOnly = await importJwtKey({ alg: 'EdDSA', key: ed.publicJwk as never, kid: 'pub' });
    expect(await codeOfCall(() => new JwtKeySet({}))).toBe('CONFIG_INVALID');
    expect(await codeOfCall(() => new JwtKeySet({ active: ed, verifyOnly: [ed] }))).toBe('CONFIG_INVALID');
    expect(await codeOfCall(() => new JwtKeySet({ active: publicOnly }))).toBe('CONFIG_INVALID');
    const keys = new JwtKeySet({ active: ed, verifyOnly: [publicOnly] });
    expect(await codeOfCall(() => keys.retire('one'))).toBe('CONFIG_INVALID');
    expect(await codeOfCall(() => new JwtKeySet({ verifyOnly: [publicOnly] }).active)).toBe('CONFIG_INVALID');
  });

  it('F11: rotation keeps old tokens verifiable until the old key is retired, cached or not', async () => {
    const clock = createTestClock();
    const first = await generateSigningKey('EdDSA');
    const keys = new JwtKeySet({ active: first });
    const verifier = new JwtVerifier({ keys, issuer: ISSUER, audience: AUDIENCE, clock });
    const now = Math.floor(clock.now() / 1000);
    const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'u', sid: 's', jti: 'j', iat: now, nbf: now, exp: now + 300 };
    const sign = (key = keys.active) => signRaw({ alg: key.alg, kid: key.kid, typ: 'session+jwt' }, claims, key);
    const oldToken = await sign();
    expect((await verifier.verify(oldToken)).sub).toBe('u');

    // Step 1: publish the next key; it does not sign yet.
    const next = await generateSigningKey('EdDSA');
    keys.add(next);
    expect(keys.active.kid).toBe(first.kid);
    expect(keys.exportJwks().keys.map((k) => k.kid)).toEqual([first.kid, next.kid]);
    // Step 2: switch signing; old tokens still verify.
    keys.activate(next.kid);
    const newToken = await sign();
    expect((await verifier.verify(newToken)).sub).toBe('u');
    expect((await verifier.verify(oldToken)).sub).toBe('u');
    // Step 3: after TTL + tolerance the old key goes, and its tokens with it (the cached one too).
    expect(keys.retire(first.kid)).toBe(true);
    expect(await codeOf(verifier.verify(oldToken))).toBe('JWT_KID_UNKNOWN');
    expect((await verifier.verify(newToken)).sub).toBe('u');
  });

  it('an asymmetric set may hold EdDSA and ES256; HS256 never joins it', async () => {
    const keys = new JwtKeySet({ active: await generateSigningKey('EdDSA') });
    keys.add(await generateSigningKey('ES256'));
    expect([...keys.algorithms].sort()).toEqual(['ES256', 'EdDSA']);
    const hs = await generateSigningKey('HS256');
    expect(await codeOfCall(() => keys.add(hs))).toBe('CONFIG_INVALID');
  });
});

describe('item 10: every key form passes the same checks', () => {
  const hmac = (bytes: Uint8Array, extractable: boolean, usages: KeyUsage[] = ['sign', 'verify']) =>
    crypto.subtle.importKey(
      'raw',
      bytes as Uint8Array<ArrayBuffer>,
      { name: 'HMAC', hash: 'SHA-256' },
      extractable,
      usages,
    );

  it('item 10: weak HS256 bytes wrapped in an extractable CryptoKey are KEY_WEAK, as bytes and JWKs are', async () => {
    const passphrase = utf8('correct horse battery staple, and then some more');
    for (const weakBytes of [new Uint8Array(32), passphrase]) {
      expect(await codeOf(importJwtKey({ alg: 'HS256', kid: 'k', key: weakBytes }))).toBe('KEY_WEAK');
      expect(await codeOf(importJwtKey({ alg: 'HS256', kid: 'k', key: { kty: 'oct', k: b64(weakBytes) } }))).toBe(
        'KEY_WEAK',
      );
      expect(await codeOf(importJwtKey({ alg: 'HS256', kid: 'k', key: await hmac(weakBytes, true) }))).toBe('KEY_WEAK');
    }
    // A non-extractable key can only be judged by its length.
    expect(await codeOf(importJwtKey({ alg: 'HS256', kid: 'k', key: await hmac(randomKey(31), false) }))).toBe(
      'KEY_WEAK',
    );
    for (const extractable of [true, false]) {
      const key = await importJwtKey({ alg: 'HS256', kid: 'k', key: await hmac(randomKey(32), extractable) });
      expect(key.signingKey).toBe(key.verificationKey);
    }
  });

  it('item 10: a JWK whose key_ops or use do not allow verification is refused (Wycheproof JWS case 356)', async () => {
    const es = await generateSigningKey('ES256', { extractable: true });
    const publicJwk = { ...(es.publicJwk as NonNullable<typeof es.publicJwk>) } as Record<string, unknown>;
    delete publicJwk.use;
    const privateJwk = await exportSigningJwk(es);
    const secret = { kty: 'oct', k: b64(randomKey()) };
    const refused: Array<[JwtAlgorithm, Record<string, unknown>]> = [
      ['ES256', { ...publicJwk, key_ops: ['encrypt'] }],
      ['ES256', { ...publicJwk, key_ops: ['sign'] }],
      ['ES256', { ...publicJwk, key_ops: ['deriveBits'] }],
      ['ES256', { ...publicJwk, key_ops: ['verify', 'deriveBits'] }],
      ['ES256', { ...publicJwk, key_ops: ['verify', 'verify'] }],
      ['ES256', { ...publicJwk, key_ops: 'verify' }],
      ['ES256', { ...publicJwk, use: 'enc' }],
      ['ES256', { ...privateJwk, key_ops: ['verify'] }],
      ['ES256', { ...privateJwk, key_ops: ['sign', 'encrypt'] }],
      ['HS256', { ...secret, key_ops: ['encrypt'] }],
      ['HS256', { ...secret, key_ops: ['sign'] }],
      ['HS256', { ...secret, use: 'enc' }],
    ];
    for (const [alg, key] of refused) {
      expect(await codeOf(importJwtKey({ alg, kid: 'k', key: key as never }))).toBe('CONFIG_INVALID');
    }
    // What the JWK allows is what the key does.
    expect((await importJwtKey({ alg: 'ES256', key: { ...publicJwk, key_ops: ['verify'] } as never })).kid).toBe(
      es.kid,
    );
    expect((await importJwtKey({ alg: 'ES256', key: { ...privateJwk, key_ops: ['sign'] } })).signingKey).not.toBeNull();
    const verifyOnly = await importJwtKey({ alg: 'HS256', kid: 'k', key: { ...secret, key_ops: ['verify'] } });
    expect(verifyOnly.signingKey).toBeNull();
    expect(verifyOnly.verificationKey.usages).toEqual(['verify']);
    const both = await importJwtKey({ alg: 'HS256', kid: 'k', key: { ...secret, key_ops: ['sign', 'verify'] } });
    expect(both.signingKey).not.toBeNull();
  });

  it('item 10: a CryptoKey whose usages do not allow verification (or signing, for a pair) is refused', async () => {
    const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const jwk = await crypto.subtle.exportKey('jwk', pair.publicKey);
    const ecdsa = { name: 'ECDSA', namedCurve: 'P-256' };
    const unusable = await crypto.subtle.importKey('jwk', jwk, ecdsa, true, []);
    expect(await codeOf(importJwtKey({ alg: 'ES256', key: unusable }))).toBe('CONFIG_INVALID');
    const verifying = await crypto.subtle.importKey('jwk', jwk, ecdsa, true, ['verify']);
    expect(
      await codeOf(importJwtKey({ alg: 'ES256', key: { privateKey: pair.privateKey, publicKey: unusable } })),
    ).toBe('CONFIG_INVALID');
    expect((await importJwtKey({ alg: 'ES256', key: verifying })).signingKey).toBeNull();
    const signOnly = await hmac(randomKey(), false, ['sign']);
    expect(await codeOf(importJwtKey({ alg: 'HS256', kid: 'k', key: signOnly }))).toBe('CONFIG_INVALID');
    const verifyOnly = await importJwtKey({ alg: 'HS256', kid: 'k', key: await hmac(randomKey(), false, ['verify']) });
    expect(verifyOnly.signingKey).toBeNull();
  });
});

describe('item 14: ES256 by default, EdDSA on request', () => {
  it('item 14: generateSigningKey() makes an ES256 key (jsonwebtoken 9 cannot verify EdDSA); EdDSA stays available', async () => {
    expect(DEFAULT_JWT_ALGORITHM).toBe('ES256');
    const key = await generateSigningKey();
    expect(key.alg).toBe('ES256');
    expect(key.publicJwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: key.kid });
    const named = await generateSigningKey(undefined, { kid: 'next' });
    expect([named.alg, named.kid]).toEqual(['ES256', 'next']);
    const keys = new JwtKeySet({ active: key, verifyOnly: [await generateSigningKey('EdDSA')] });
    expect([...keys.algorithms].sort()).toEqual(['ES256', 'EdDSA']);
  });
});

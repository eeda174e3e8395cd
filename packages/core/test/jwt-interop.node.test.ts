/// <reference types="node" />
import { createHmac, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSessionJwt, exportSigningJwk, generateSigningKey, type JwtAlgorithm } from '../src/entries/jwt.js';
import { MemoryStore } from '../src/index.js';
import { JwtKeySet } from '../src/jwt/key-set.js';
import { JwtVerifier } from '../src/jwt/verify.js';
import { SessionManager } from '../src/manager.js';
import { createTestClock } from '../src/testing/index.js';
import { AUDIENCE, ISSUER } from './jwt-support.js';

/**
 * Interop with an independent implementation: Node's own crypto (OpenSSL), which shares no code
 * with jose or Web Crypto's JWS handling. Our JWTs verify there, and tokens it signs verify here.
 */

const algorithms: JwtAlgorithm[] = ['EdDSA', 'ES256', 'HS256'];

function nodeVerify(alg: JwtAlgorithm, input: string, signature: Buffer, key: KeyObject | Buffer): boolean {
  const data = Buffer.from(input, 'ascii');
  if (alg === 'HS256') {
    const expected = createHmac('sha256', key as Buffer)
      .update(data)
      .digest();
    return expected.length === signature.length && expected.equals(signature);
  }
  if (alg === 'EdDSA') return verify(null, data, key as KeyObject, signature);
  return verify('sha256', data, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' }, signature);
}

function nodeSign(alg: JwtAlgorithm, input: string, key: KeyObject | Buffer): Buffer {
  const data = Buffer.from(input, 'ascii');
  if (alg === 'HS256')
    return createHmac('sha256', key as Buffer)
      .update(data)
      .digest();
  if (alg === 'EdDSA') return sign(null, data, key as KeyObject);
  return sign('sha256', data, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' });
}

async function setup(alg: JwtAlgorithm) {
  const clock = createTestClock();
  const manager = new SessionManager({ store: new MemoryStore(), clock });
  const key = await generateSigningKey(alg, { extractable: true });
  const keys = new JwtKeySet({ active: key });
  const jwts = createSessionJwt({ manager, keys, issuer: ISSUER, audience: AUDIENCE });
  const privateJwk = await exportSigningJwk(key);
  const secret = alg === 'HS256' ? Buffer.from(privateJwk.k as string, 'base64url') : null;
  const publicKey = secret ?? createPublicKey({ key: { ...key.publicJwk } as never, format: 'jwk' });
  const privateKey = secret ?? createPrivateKey({ key: privateJwk as never, format: 'jwk' });
  return { clock, manager, key, jwts, publicKey, privateKey };
}

describe('interop with node:crypto (OpenSSL)', () => {
  for (const alg of algorithms) {
    it(`${alg}: our session JWT verifies with node:crypto, and its claims read the same`, async () => {
      const { manager, jwts, publicKey, key, clock } = await setup(alg);
      const { session } = await manager.create({ userId: 'user-42' });
      const { token } = await jwts.issue(session);
      const [h, p, s] = token.split('.') as [string, string, string];
      expect(nodeVerify(alg, `${h}.${p}`, Buffer.from(s, 'base64url'), publicKey)).toBe(true);
      expect(nodeVerify(alg, `${h}.${p}x`, Buffer.from(s, 'base64url'), publicKey)).toBe(false);
      const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
      expect(header).toEqual({ alg, kid: key.kid, typ: 'session+jwt' });
      expect(claims).toMatchObject({ iss: ISSUER, aud: AUDIENCE, sub: 'user-42', sid: session.id });
      expect(claims.exp).toBe(Math.floor(clock.now() / 1000) + 300);
    });

    it(`${alg}: a token signed by node:crypto verifies through our verifier`, async () => {
      const { jwts, privateKey, key, clock } = await setup(alg);
      const now = Math.floor(clock.now() / 1000);
      const header = Buffer.from(JSON.stringify({ typ: 'session+jwt', kid: key.kid, alg })).toString('base64url');
      const payload = Buffer.from(
        JSON.stringify({
          sub: 'user-7',
          sid: 'sid-7',
          jti: 'j',
          iss: ISSUER,
          aud: [AUDIENCE],
          iat: now,
          nbf: now,
          exp: now + 120,
        }),
      ).toString('base64url');
      const signature = nodeSign(alg, `${header}.${payload}`, privateKey).toString('base64url');
      const verifier = new JwtVerifier({ keys: jwts.keys, issuer: ISSUER, audience: AUDIENCE, clock });
      const claims = await verifier.verify(`${header}.${payload}.${signature}`);
      expect(claims).toMatchObject({ sub: 'user-7', sid: 'sid-7', exp: now + 120 });
    });
  }
});

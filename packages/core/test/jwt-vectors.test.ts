import { CompactSign, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { importJwtKey } from '../src/entries/jwt.js';
import { fromJoseError } from '../src/jwt/compact.js';
import { JwtKeySet } from '../src/jwt/key-set.js';
import { JwtVerifier, verifyCompactJws } from '../src/jwt/verify.js';
import { createTestClock } from '../src/testing/index.js';
import { codeOf } from './jwt-support.js';
import { jwsVectors, rfc7515A1, rfc7515A3, rfc8037A3Thumbprint, rfc8037A4 } from './vectors/jws-rfc.js';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const publicPart = ({ d: _d, ...rest }: Record<string, string>) => rest;

describe('published JWS vectors through our verify path', () => {
  for (const vector of jwsVectors) {
    it(`${vector.name}: verifies with its key and yields the published payload`, async () => {
      const key = await importJwtKey({ alg: vector.alg, kid: 'vector', key: publicPart(vector.jwk) });
      const { header, payload } = await verifyCompactJws(vector.compact, key);
      expect(text(payload)).toBe(vector.payload);
      expect(header.alg).toBe(vector.alg);
      expect(JSON.stringify(header)).toBe(JSON.stringify(JSON.parse(vector.header)));
    });

    it(`${vector.name}: refused by a key of another algorithm (JWT_ALG_REJECTED, no crypto)`, async () => {
      const other = vector.alg === 'EdDSA' ? rfc7515A3 : rfc8037A4;
      const key = await importJwtKey({ alg: other.alg, kid: 'other', key: publicPart(other.jwk) });
      expect(await codeOf(verifyCompactJws(vector.compact, key))).toBe('JWT_ALG_REJECTED');
    });

    it(`${vector.name}: one flipped payload bit fails the signature`, async () => {
      const key = await importJwtKey({ alg: vector.alg, kid: 'vector', key: publicPart(vector.jwk) });
      const [h, p, s] = vector.compact.split('.') as [string, string, string];
      const flipped = `${h}.${p.slice(0, 4)}${p[4] === 'A' ? 'B' : 'A'}${p.slice(5)}.${s}`;
      expect(await codeOf(verifyCompactJws(flipped, key))).toBe('JWT_SIGNATURE_INVALID');
    });
  }

  it('RFC 8037 A.3/A.4: the Ed25519 kid defaults to the RFC 7638 thumbprint, and signing is reproduced', async () => {
    const key = await importJwtKey({ alg: 'EdDSA', key: rfc8037A4.jwk });
    expect(key.kid).toBe(rfc8037A3Thumbprint);
    expect(key.publicJwk).toEqual({ ...publicPart(rfc8037A4.jwk), kid: rfc8037A3Thumbprint, alg: 'EdDSA', use: 'sig' });
    const signed = await new CompactSign(new TextEncoder().encode(rfc8037A4.payload))
      .setProtectedHeader({ alg: 'EdDSA' })
      .sign(key.signingKey as CryptoKey);
    expect(signed).toBe(rfc8037A4.compact);
  });

  it('an EdDSA-only session verifier refuses the ES256 vector before any crypto (F1)', async () => {
    const key = await importJwtKey({ alg: 'EdDSA', kid: 'ed', key: publicPart(rfc8037A4.jwk) });
    const verifier = new JwtVerifier({ keys: new JwtKeySet({ verifyOnly: [key] }), issuer: 'joe', audience: 'x' });
    expect(await codeOf(verifier.verify(rfc7515A3.compact))).toBe('JWT_ALG_REJECTED');
  });

  it('JW-19: RFC 7515 A.1 has a valid MAC, yet the session verifier rejects it on its claims', async () => {
    const key = await importJwtKey({ alg: 'HS256', kid: 'rfc7515-a1', key: rfc7515A1.jwk });
    // The MAC is right: the low-level path accepts it.
    expect(text((await verifyCompactJws(rfc7515A1.compact, key)).payload)).toBe(rfc7515A1.payload);

    // On the clock of 2011, when the token was still within its exp.
    const clock = createTestClock(1_300_819_000_000);
    const verifier = new JwtVerifier({
      keys: new JwtKeySet({ active: key }),
      issuer: 'joe',
      audience: 'any',
      clock,
    });
    // typ "JWT" is not a session JWT: rejected before the MAC is even checked.
    expect(await codeOf(verifier.verify(rfc7515A1.compact))).toBe('JWT_TYP_INVALID');
    // jose with our pinned options agrees on typ...
    const options = verifier.joseOptions(key);
    const viaJose = (opts: typeof options) =>
      jwtVerify(rfc7515A1.compact, key.verificationKey, opts).catch((error: unknown) => {
        throw fromJoseError(error);
      });
    expect(await codeOf(viaJose(options))).toBe('JWT_TYP_INVALID');
    // ...and without the typ rule it still fails: no aud, no sid, no jti, no nbf.
    expect(await codeOf(viaJose({ ...options, typ: undefined }))).toBe('JWT_CLAIM_INVALID');
    // In the present it is long expired as well.
    const later = new JwtVerifier({ keys: new JwtKeySet({ active: key }), issuer: 'joe', audience: 'any' });
    expect(await codeOf(viaJose({ ...later.joseOptions(key), typ: undefined, requiredClaims: [] }))).toBe(
      'JWT_CLAIM_INVALID',
    );
    expect(
      await codeOf(
        viaJose({
          ...later.joseOptions(key),
          typ: undefined,
          requiredClaims: [],
          audience: undefined,
          maxTokenAge: undefined,
        }),
      ),
    ).toBe('JWT_EXPIRED');
  });
});

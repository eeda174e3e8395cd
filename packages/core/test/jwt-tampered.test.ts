import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { fromHex, utf8 } from '../src/encoding.js';
import { generateSigningKey } from '../src/entries/jwt.js';
import { isSessionError } from '../src/errors.js';
import { hmacSha256 } from '../src/hash.js';
import { MemoryStore } from '../src/index.js';
import { JwtKeySet } from '../src/jwt/key-set.js';
import { JwtVerifier } from '../src/jwt/verify.js';
import { SessionManager } from '../src/manager.js';
import { parseRefreshToken } from '../src/refresh.js';
import {
  AUDIENCE,
  b64,
  codeOf,
  ISSUER,
  signRaw,
  type VerifierFixture,
  verifierFixture,
  withHeader,
  withPayload,
} from './jwt-support.js';

/**
 * Security checklist section 2.3: the tampered-JWT corpus, JW-01 to JW-16. Each case is rejected
 * with its own code; the ones the pre-checks catch never reach a signature check.
 */

let ed: VerifierFixture;
let es: VerifierFixture;
let hs: VerifierFixture;
let signatureChecks: ReturnType<typeof vi.spyOn>;

beforeAll(async () => {
  [ed, es, hs] = await Promise.all([verifierFixture('EdDSA'), verifierFixture('ES256'), verifierFixture('HS256')]);
});
beforeEach(() => {
  // A spy that calls through: counts how often a token reached Web Crypto's verify.
  signatureChecks = vi.spyOn(crypto.subtle, 'verify');
});
afterEach(() => {
  signatureChecks.mockRestore();
});

/** HS256 over the token's signing input with arbitrary bytes as the "secret". */
function hs256With(secret: Uint8Array, header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
  return `${input}.${b64(hmacSha256(secret, input))}`;
}

function randomSignature(bytes = 64): string {
  return b64(crypto.getRandomValues(new Uint8Array(bytes)));
}

describe('the spy on Web Crypto verify sees real signature checks', () => {
  it('a valid token costs exactly one signature check', async () => {
    expect((await ed.verifier.verify(await ed.token())).sub).toBe('user-1');
    expect(signatureChecks).toHaveBeenCalledTimes(1);
  });
});

describe('JW-01 / F2: alg "none" in any spelling', () => {
  for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
    it(`rejects alg "${alg}" with an empty and with a random signature, before any crypto`, async () => {
      const unsigned = `${b64(JSON.stringify(ed.header({ alg })))}.${b64(JSON.stringify(ed.claims()))}`;
      expect(await codeOf(ed.verifier.verify(`${unsigned}.`))).toBe('JWT_ALG_REJECTED');
      expect(await codeOf(ed.verifier.verify(`${unsigned}.${randomSignature()}`))).toBe('JWT_ALG_REJECTED');
      expect(signatureChecks).not.toHaveBeenCalled();
    });
  }

  it('compares alg exactly: "eddsa" and "EDDSA" are not EdDSA', async () => {
    for (const alg of ['eddsa', 'EDDSA', 'EdDSA ', 'Ed25519']) {
      expect(await codeOf(ed.verifier.verify(await ed.token({}, { alg })))).toBe('JWT_ALG_REJECTED');
    }
  });
});

describe('JW-02 / F1: HS256 signed with our public key as the secret (algorithm confusion)', () => {
  for (const name of ['EdDSA', 'ES256'] as const) {
    it(`${name}: PEM, SPKI DER, JWK text and raw point as HMAC secrets are all refused`, async () => {
      const fixture = name === 'EdDSA' ? ed : es;
      const spki = new Uint8Array(await crypto.subtle.exportKey('spki', fixture.key.verificationKey));
      const pem = `-----BEGIN PUBLIC KEY-----\n${btoa(String.fromCharCode(...spki))}\n-----END PUBLIC KEY-----\n`;
      const raw = new Uint8Array(await crypto.subtle.exportKey('raw', fixture.key.verificationKey));
      const jwk = JSON.stringify(fixture.key.publicJwk);
      for (const secret of [utf8(pem), spki, utf8(jwk), raw, raw.slice(1)]) {
        const token = hs256With(secret, fixture.header({ alg: 'HS256' }), fixture.claims());
        expect(await codeOf(fixture.verifier.verify(token))).toBe('JWT_ALG_REJECTED');
      }
      expect(signatureChecks).not.toHaveBeenCalled();
    });
  }

  it('symmetric and asymmetric keys never share a key set', async () => {
    const error = (() => {
      try {
        new JwtKeySet({ active: ed.key, verifyOnly: [hs.key] });
      } catch (e) {
        return e;
      }
    })();
    expect(isSessionError(error, 'CONFIG_INVALID')).toBe(true);
  });
});

describe('JW-03 / F1: swapping to another algorithm', () => {
  it('RS256, PS256, ES384, ES256K, ES256 headers against an EdDSA verifier are refused before crypto', async () => {
    for (const alg of ['RS256', 'PS256', 'ES384', 'ES256K', 'ES256', 'HS512']) {
      const token = `${b64(JSON.stringify(ed.header({ alg })))}.${b64(JSON.stringify(ed.claims()))}.${randomSignature(256)}`;
      expect(await codeOf(ed.verifier.verify(token))).toBe('JWT_ALG_REJECTED');
    }
    expect(signatureChecks).not.toHaveBeenCalled();
  });

  it('with EdDSA and ES256 keys in one set, each kid accepts only its own algorithm', async () => {
    const keys = new JwtKeySet({ active: ed.key, verifyOnly: [es.key] });
    const verifier = new JwtVerifier({ keys, issuer: ISSUER, audience: AUDIENCE, clock: ed.clock });
    const attacker = await generateSigningKey('ES256');
    const swapped = await signRaw(ed.header({ alg: 'ES256' }), ed.claims(), attacker);
    expect(await codeOf(verifier.verify(swapped))).toBe('JWT_ALG_REJECTED');
    const genuine = await signRaw(es.header(), es.claims(), es.key);
    expect((await verifier.verify(genuine)).sub).toBe('user-1');
  });
});

describe('JW-04: ES256 signature edge cases (psychic signatures, DER)', () => {
  const n = fromHex('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551') as Uint8Array;

  it('r = s = 0, r = n, s = n are invalid signatures', async () => {
    const valid = await es.token();
    const [h, p, s] = valid.split('.') as [string, string, string];
    const signature = Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
    const r = signature.slice(0, 32);
    const sPart = signature.slice(32);
    const cases = [new Uint8Array(64), Uint8Array.from([...n, ...sPart]), Uint8Array.from([...r, ...n])];
    for (const forged of cases) {
      expect(await codeOf(es.verifier.verify(`${h}.${p}.${b64(forged)}`))).toBe('JWT_SIGNATURE_INVALID');
    }
  });

  it('a DER-encoded signature is refused by length, before crypto', async () => {
    const valid = await es.token();
    const [h, p, s] = valid.split('.') as [string, string, string];
    const raw = Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
    const integer = (bytes: Uint8Array) => {
      const body = (bytes[0] as number) & 0x80 ? [0, ...bytes] : [...bytes];
      return [0x02, body.length, ...body];
    };
    const sequence = [...integer(raw.slice(0, 32)), ...integer(raw.slice(32))];
    const der = Uint8Array.from([0x30, sequence.length, ...sequence]);
    signatureChecks.mockClear();
    // 70 to 72 bytes where ES256 has exactly 64 (raw r || s).
    expect(await codeOf(es.verifier.verify(`${h}.${p}.${b64(der)}`))).toBe('JWT_SIGNATURE_INVALID');
    expect(signatureChecks).not.toHaveBeenCalled();
  });
});

describe('JW-05 / F4: key material named in the header is never trusted', () => {
  it('an embedded jwk with the attacker key and our kid is refused', async () => {
    const attacker = await generateSigningKey('EdDSA');
    const token = await signRaw(ed.header({ jwk: attacker.publicJwk }), ed.claims(), attacker);
    expect(await codeOf(ed.verifier.verify(token))).toBe('JWT_HEADER_REJECTED');
  });

  it('jku, x5u and x5c are refused before anything is fetched or checked', async () => {
    const headers = [
      { jku: 'http://127.0.0.1:9/jwks.json' },
      { x5u: 'http://127.0.0.1:9/cert.pem' },
      { x5c: ['MIIBszCCAVmgAwIBAgIU'] },
    ];
    for (const extra of headers) {
      expect(await codeOf(ed.verifier.verify(await ed.token({}, extra)))).toBe('JWT_HEADER_REJECTED');
    }
    expect(signatureChecks).not.toHaveBeenCalled();
  });
});

describe('JW-06 / F4: hostile kid values', () => {
  const hostile: unknown[] = ['../../../../dev/null', '/proc/self/environ', "' OR '1'='1", 'x\u0000', 123, {}, [], ''];

  it('path-like, injection, control, non-string and empty kids are JWT_KID_UNKNOWN, with no echo', async () => {
    for (const kid of hostile) {
      const token = await ed.token({}, { kid });
      const error = await ed.verifier.verify(token).catch((e: unknown) => e);
      expect(isSessionError(error, 'JWT_KID_UNKNOWN')).toBe(true);
      if (typeof kid === 'string' && kid.length > 0) expect((error as Error).message).not.toContain(kid);
    }
    const { kid: _kid, ...noKid } = ed.header();
    expect(await codeOf(ed.verifier.verify(await signRaw(noKid, ed.claims(), ed.key)))).toBe('JWT_KID_UNKNOWN');
    expect(signatureChecks).not.toHaveBeenCalled();
  });

  it('a 10 KB kid makes the token oversized: JWT_MALFORMED before parsing', async () => {
    expect(await codeOf(ed.verifier.verify(await ed.token({}, { kid: 'k'.repeat(10_000) })))).toBe('JWT_MALFORMED');
  });
});

describe('JW-07: a well-formed unknown kid', () => {
  it('is JWT_KID_UNKNOWN, even when the token is validly signed by that (foreign) key', async () => {
    const foreign = await generateSigningKey('EdDSA', { kid: 'not-in-our-set' });
    const token = await signRaw(ed.header({ kid: foreign.kid }), ed.claims(), foreign);
    expect(await codeOf(ed.verifier.verify(token))).toBe('JWT_KID_UNKNOWN');
    expect(signatureChecks).not.toHaveBeenCalled();
  });
});

describe('JW-08 / F5 / CL-01: exp', () => {
  it('exp 31 s ago is expired; 29 s ago is inside the 30 s tolerance', async () => {
    const now = ed.now();
    expect(
      await codeOf(
        ed.verifier.verify(await ed.token({ iat: now - 200, nbf: now - 200, exp: now - 31, auth_time: now - 200 })),
      ),
    ).toBe('JWT_EXPIRED');
    expect(
      (
        await ed.verifier.verify(
          await ed.token({ iat: now - 200, nbf: now - 200, exp: now - 29, auth_time: now - 200 }),
        )
      ).exp,
    ).toBe(now - 29);
  });

  it('exp missing, a string, a float or 1e309 is JWT_CLAIM_INVALID; NaN is not JSON', async () => {
    const { exp: _exp, ...noExp } = ed.claims();
    expect(await codeOf(ed.verifier.verify(await signRaw(ed.header(), noExp, ed.key)))).toBe('JWT_CLAIM_INVALID');
    expect(await codeOf(ed.verifier.verify(await ed.token({ exp: String(ed.now() + 60) })))).toBe('JWT_CLAIM_INVALID');
    expect(await codeOf(ed.verifier.verify(await ed.token({ exp: ed.now() + 60.5 })))).toBe('JWT_CLAIM_INVALID');
    const text = JSON.stringify(ed.claims({ exp: 424242 }));
    const infinite = await signRaw(ed.header(), text.replace('424242', '1e309'), ed.key);
    expect(await codeOf(ed.verifier.verify(infinite))).toBe('JWT_CLAIM_INVALID');
    const notANumber = await signRaw(ed.header(), text.replace('424242', 'NaN'), ed.key);
    expect(await codeOf(ed.verifier.verify(notANumber))).toBe('JWT_MALFORMED');
  });
});

describe('JW-09 / F5 / CL-01 / CL-02: nbf and iat', () => {
  it('nbf 31 s ahead is not yet valid; 29 s ahead is accepted', async () => {
    const now = ed.now();
    expect(await codeOf(ed.verifier.verify(await ed.token({ nbf: now + 31 })))).toBe('JWT_NOT_YET_VALID');
    expect((await ed.verifier.verify(await ed.token({ nbf: now + 29 }))).nbf).toBe(now + 29);
  });

  it('iat 31 s ahead (an issuer clock running fast) is not yet valid; 29 s ahead is accepted', async () => {
    const now = ed.now();
    expect(await codeOf(ed.verifier.verify(await ed.token({ iat: now + 31, auth_time: now })))).toBe(
      'JWT_NOT_YET_VALID',
    );
    expect((await ed.verifier.verify(await ed.token({ iat: now + 29, auth_time: now }))).iat).toBe(now + 29);
    // An issuer two minutes ahead is refused until its tokens' iat is within the tolerance.
    const ahead = await ed.token({ iat: now + 120, nbf: now + 120, exp: now + 420, auth_time: now + 120 });
    expect(await codeOf(ed.verifier.verify(ahead))).toBe('JWT_NOT_YET_VALID');
    ed.clock.advance(90_000);
    try {
      expect((await ed.verifier.verify(ahead)).iat).toBe(now + 120);
    } finally {
      ed.clock.advance(-90_000);
    }
  });

  it('iat older than TTL + tolerance is expired even with a far-future exp', async () => {
    const now = ed.now();
    const token = await ed.token({ iat: now - 331, nbf: now - 331, exp: now + 365 * 86_400, auth_time: now - 331 });
    expect(await codeOf(ed.verifier.verify(token))).toBe('JWT_EXPIRED');
  });

  it('a lifetime (exp - iat) longer than the max token age is refused', async () => {
    const now = ed.now();
    expect(await codeOf(ed.verifier.verify(await ed.token({ exp: now + 301 })))).toBe('JWT_CLAIM_INVALID');
  });

  it('auth_time later than iat is refused', async () => {
    expect(await codeOf(ed.verifier.verify(await ed.token({ auth_time: ed.now() + 60 })))).toBe('JWT_CLAIM_INVALID');
  });
});

describe('JW-10 / F6: iss and aud', () => {
  it('wrong, missing or near-miss issuer and audience values are JWT_CLAIM_INVALID', async () => {
    const { aud: _aud, ...noAud } = ed.claims();
    const { iss: _iss, ...noIss } = ed.claims();
    const tokens = [
      await ed.token({ aud: 'other' }),
      await ed.token({ aud: ['other', 'another'] }),
      await signRaw(ed.header(), noAud, ed.key),
      await ed.token({ iss: 'https://evil.example' }),
      await ed.token({ iss: `${ISSUER}/` }),
      await signRaw(ed.header(), noIss, ed.key),
      await ed.token({ aud: AUDIENCE.toUpperCase() }),
    ];
    for (const token of tokens) expect(await codeOf(ed.verifier.verify(token))).toBe('JWT_CLAIM_INVALID');
  });

  it('an audience list naming us is accepted', async () => {
    expect((await ed.verifier.verify(await ed.token({ aud: ['billing', AUDIENCE] }))).aud).toEqual([
      'billing',
      AUDIENCE,
    ]);
  });
});

describe('JW-11 / F7: typ', () => {
  it('missing, JWT, at+jwt and Session+JWT are JWT_TYP_INVALID, before crypto', async () => {
    const { typ: _typ, ...noTyp } = ed.header();
    expect(await codeOf(ed.verifier.verify(await signRaw(noTyp, ed.claims(), ed.key)))).toBe('JWT_TYP_INVALID');
    for (const typ of ['JWT', 'at+jwt', 'Session+JWT', 'session+JWT', 'application/Session+JWT', 7]) {
      expect(await codeOf(ed.verifier.verify(await ed.token({}, { typ })))).toBe('JWT_TYP_INVALID');
    }
    expect(signatureChecks).not.toHaveBeenCalled();
  });

  it('application/session+jwt is the same media type and is accepted', async () => {
    expect((await ed.verifier.verify(await ed.token({}, { typ: 'application/session+jwt' }))).sub).toBe('user-1');
  });
});

describe('JW-12 / F8: crit and b64', () => {
  it('any crit is JWT_CRIT_UNSUPPORTED; b64 is JWT_HEADER_REJECTED', async () => {
    for (const crit of [['exp'], ['x-unknown'], [], 'b64']) {
      expect(await codeOf(ed.verifier.verify(await ed.token({}, { crit, 'x-unknown': 1 })))).toBe(
        'JWT_CRIT_UNSUPPORTED',
      );
    }
    expect(await codeOf(ed.verifier.verify(await ed.token({}, { crit: ['b64'], b64: false })))).toBe(
      'JWT_CRIT_UNSUPPORTED',
    );
    expect(await codeOf(ed.verifier.verify(await ed.token({}, { b64: false })))).toBe('JWT_HEADER_REJECTED');
    expect(signatureChecks).not.toHaveBeenCalled();
  });
});

describe('JW-13 / F9: not a compact JWS', () => {
  it('JSON serialization, JWE, wrong segment counts, padding, other alphabets, whitespace and > 8 KiB', async () => {
    const valid = await ed.token();
    const [h, p, s] = valid.split('.') as [string, string, string];
    const corpus = [
      JSON.stringify({ payload: p, signatures: [{ protected: h, signature: s }] }),
      JSON.stringify({ payload: p, protected: h, signature: s }),
      `${b64('{"alg":"RSA-OAEP","enc":"A256GCM"}')}.${p}.${p}.${p}.${p}`,
      `${h}.${p}`,
      `${h}.${p}.${s}.${s}`,
      `.${p}.${s}`,
      `${h}..${s}`,
      `${h}.${p}.`,
      `${h}=.${p}.${s}`,
      `${h}.${p}.${s}==`,
      `${h}.${p.slice(0, -1)}+.${s}`,
      `${h}.${p}.${s.slice(0, -1)}/`,
      ` ${valid}`,
      `${valid}\n`,
      `${h}.${p} .${s}`,
      `${h}.${p}.${s}${'A'.repeat(8 * 1024)}`,
      '',
    ];
    for (const token of corpus) expect(await codeOf(ed.verifier.verify(token))).toBe('JWT_MALFORMED');
    for (const notAString of [null, undefined, 42, { token: valid }]) {
      expect(await codeOf(ed.verifier.verify(notAString as never))).toBe('JWT_MALFORMED');
    }
    expect(signatureChecks).not.toHaveBeenCalled();
  });

  it('a header that is not a JSON object, or not UTF-8, is JWT_MALFORMED', async () => {
    const valid = await ed.token();
    for (const header of ['[]', '"alg"', 'null', '{"alg":"EdDSA"', '\uFEFF{"alg":"EdDSA"}']) {
      expect(await codeOf(ed.verifier.verify(withHeader(valid, header)))).toBe('JWT_MALFORMED');
    }
    const [, p, s] = valid.split('.');
    expect(await codeOf(ed.verifier.verify(`${b64(Uint8Array.of(0x7b, 0xff, 0x7d))}.${p}.${s}`))).toBe('JWT_MALFORMED');
  });

  it('non-canonical base64url (non-zero trailing bits) is JWT_MALFORMED', async () => {
    const valid = await ed.token();
    const [h, p, s] = valid.split('.') as [string, string, string];
    // 64 signature bytes leave 2 spare bits in the last character; setting one re-encodes the same bytes.
    const last = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.indexOf(s.slice(-1));
    const reencoded = `${h}.${p}.${s.slice(0, -1)}${'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[last | 1]}`;
    expect(await codeOf(ed.verifier.verify(reencoded))).toBe('JWT_MALFORMED');
  });
});

describe('JW-14 / F10: the payload', () => {
  it('an array, a string, a number or invalid UTF-8 is JWT_MALFORMED', async () => {
    for (const payload of ['[1,2]', '"sub"', '42', 'null']) {
      expect(await codeOf(ed.verifier.verify(await signRaw(ed.header(), payload, ed.key)))).toBe('JWT_MALFORMED');
    }
    const invalidUtf8 = Uint8Array.of(0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d);
    expect(await codeOf(ed.verifier.verify(await signRaw(ed.header(), invalidUtf8, ed.key)))).toBe('JWT_MALFORMED');
  });

  it('duplicate members: the last one wins (JSON.parse), as documented', async () => {
    const text = JSON.stringify(ed.claims({ sub: 'first' })).replace('{', '{"sub":"zero",');
    const claims = await ed.verifier.verify(await signRaw(ed.header(), text, ed.key));
    expect(claims.sub).toBe('first');
    const last = JSON.stringify(ed.claims({ sub: 'first' })).replace(/}$/, ',"sub":"last"}');
    expect((await ed.verifier.verify(await signRaw(ed.header(), last, ed.key))).sub).toBe('last');
  });

  it('sub, sid and jti must be non-empty strings', async () => {
    for (const claim of ['sub', 'sid', 'jti']) {
      for (const value of ['', 42, null, 'x'.repeat(257)]) {
        expect(await codeOf(ed.verifier.verify(await ed.token({ [claim]: value })))).toBe('JWT_CLAIM_INVALID');
      }
    }
  });
});

describe('JW-15: signatures', () => {
  for (const name of ['EdDSA', 'ES256', 'HS256'] as const) {
    it(`${name}: a flipped payload bit, a truncated or extended signature, or another key's signature fail`, async () => {
      const fixture = name === 'EdDSA' ? ed : name === 'ES256' ? es : hs;
      const valid = await fixture.token();
      const [h, p, s] = valid.split('.') as [string, string, string];
      const flipped = withPayload(valid, JSON.stringify(fixture.claims({ sub: 'user-2' })));
      expect(await codeOf(fixture.verifier.verify(flipped))).toBe('JWT_SIGNATURE_INVALID');
      const truncated = `${h}.${p}.${s.length % 4 === 2 ? s.slice(0, -2) : s.slice(0, -3)}`;
      expect(await codeOf(fixture.verifier.verify(truncated))).toBe('JWT_SIGNATURE_INVALID');
      expect(await codeOf(fixture.verifier.verify(`${h}.${p}.${s}AAAA`))).toBe('JWT_SIGNATURE_INVALID');
      const other = await generateSigningKey(name);
      const foreign = await signRaw(fixture.header(), fixture.claims(), other);
      expect(await codeOf(fixture.verifier.verify(foreign))).toBe('JWT_SIGNATURE_INVALID');
    });
  }

  it('a token signed by one key of the set under the kid of another fails', async () => {
    const second = await generateSigningKey('EdDSA');
    const keys = new JwtKeySet({ active: ed.key, verifyOnly: [second] });
    const verifier = new JwtVerifier({ keys, issuer: ISSUER, audience: AUDIENCE, clock: ed.clock });
    const token = await signRaw(ed.header({ kid: ed.key.kid }), ed.claims(), second);
    expect(await codeOf(verifier.verify(token))).toBe('JWT_SIGNATURE_INVALID');
    expect((await verifier.verify(await signRaw(ed.header({ kid: second.kid }), ed.claims(), second))).sub).toBe(
      'user-1',
    );
  });
});

describe('JW-16 / F7: cross-token confusion', () => {
  it('a token of the same key but another typ or audience is refused', async () => {
    expect(await codeOf(ed.verifier.verify(await ed.token({}, { typ: 'email-verify+jwt' })))).toBe('JWT_TYP_INVALID');
    expect(await codeOf(ed.verifier.verify(await ed.token({ aud: 'email-verify' })))).toBe('JWT_CLAIM_INVALID');
  });

  it('a session JWT is neither a refresh token nor a session token', async () => {
    const token = await ed.token();
    expect(parseRefreshToken(token)).toBeNull();
    const manager = new SessionManager({ store: new MemoryStore(), clock: ed.clock });
    expect((await manager.validateToken(token)).status).toBe('malformed');
  });
});

import * as dpopClient from 'dpop';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  accessTokenHash,
  assertDpopBinding,
  authenticateDpopRequest,
  createDpopVerifier,
  type DpopAlgorithm,
  dpopErrorResponse,
  normaliseHtu,
  readAuthorization,
} from '../src/entries/dpop.js';
import { isSessionError, SessionError } from '../src/errors.js';
import { MemoryStore } from '../src/index.js';
import { createTestClock } from '../src/testing/index.js';

const TOKEN_URL = 'https://api.example.test/token';
const RESOURCE_URL = 'https://api.example.test/api/me';

/** A verifier on a store of its own and a test clock that starts now (the client library stamps real time). */
function setup(options: Parameters<typeof createDpopVerifier>[0] extends infer O ? Partial<O> : never = {}) {
  const clock = createTestClock(Date.now());
  const store = new MemoryStore();
  const verifier = createDpopVerifier({ replay: store, clock, ...options });
  return { clock, store, verifier };
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

function b64(value: string): string {
  return Buffer.from(value).toString('base64url');
}

/** A proof signed by `signer` with any header and claims: the verifier is the only judge. */
async function craftProof(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  signer: CryptoKey,
): Promise<string> {
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(signer);
}

async function es256() {
  const pair = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(pair.publicKey);
  return { ...pair, jwk };
}

function claimsFor(method: string, url: string, iatSeconds: number, extra: Record<string, unknown> = {}) {
  return { jti: crypto.randomUUID(), htm: method, htu: url, iat: iatSeconds, ...extra };
}

describe('DPoP interop: proofs made by an independent client library (the dpop package)', () => {
  const cases: [dpopClient.JWSAlgorithm, DpopAlgorithm[]][] = [
    ['ES256', ['ES256']],
    ['Ed25519', ['Ed25519']],
    ['PS256', ['PS256']],
    ['RS256', ['RS256']],
  ];
  for (const [clientAlg, allowed] of cases) {
    it(`accepts a ${clientAlg} token-request proof and binds to the key's RFC 7638 thumbprint`, async () => {
      const { verifier } = setup({ algorithms: allowed });
      const keys = await dpopClient.generateKeyPair(clientAlg);
      const proof = await dpopClient.generateProof(keys, TOKEN_URL, 'POST');
      const verified = await verifier.verify(proof, { method: 'POST', url: TOKEN_URL });
      expect(verified.jkt).toBe(await dpopClient.calculateThumbprint(keys.publicKey));
      expect(verified.alg).toBe(clientAlg);
      expect(verified.htu).toBe(TOKEN_URL);
    });
  }

  it('accepts a resource proof with ath, and refuses it for another token or without one', async () => {
    const { verifier } = setup();
    const keys = await dpopClient.generateKeyPair('ES256');
    const token = 'an-access-token.with-dots~and_tildes';
    const proof = await dpopClient.generateProof(keys, RESOURCE_URL, 'GET', undefined, token);
    const verified = await verifier.verify(proof, { method: 'GET', url: RESOURCE_URL, accessToken: token });
    expect(verified.jkt).toBe(await dpopClient.calculateThumbprint(keys.publicKey));

    const other = await dpopClient.generateProof(keys, RESOURCE_URL, 'GET', undefined, token);
    expect(await refusal(verifier.verify(other, { method: 'GET', url: RESOURCE_URL, accessToken: 'another' }))).toEqual(
      {
        code: 'DPOP_PROOF_INVALID',
        reason: 'ath_mismatch',
      },
    );
    const noAth = await dpopClient.generateProof(keys, RESOURCE_URL, 'GET');
    expect(await refusal(verifier.verify(noAth, { method: 'GET', url: RESOURCE_URL, accessToken: token }))).toEqual({
      code: 'DPOP_PROOF_INVALID',
      reason: 'ath_missing',
    });
  });

  it('refuses RSA proofs unless RS256 or PS256 is allowed', async () => {
    const { verifier } = setup();
    const keys = await dpopClient.generateKeyPair('PS256');
    const proof = await dpopClient.generateProof(keys, TOKEN_URL, 'POST');
    expect(await refusal(verifier.verify(proof, { method: 'POST', url: TOKEN_URL }))).toEqual({
      code: 'DPOP_PROOF_INVALID',
      reason: 'alg',
    });
  });
});

describe('DPoP: tampered and replayed proofs are refused with stable codes', () => {
  it('a replayed jti, on this verifier or another sharing the store', async () => {
    const { verifier, store, clock } = setup();
    const keys = await dpopClient.generateKeyPair('ES256');
    const proof = await dpopClient.generateProof(keys, TOKEN_URL, 'POST');
    await verifier.verify(proof, { method: 'POST', url: TOKEN_URL });
    expect(await refusal(verifier.verify(proof, { method: 'POST', url: TOKEN_URL }))).toEqual({
      code: 'DPOP_PROOF_REPLAYED',
      reason: undefined,
    });
    const secondInstance = createDpopVerifier({ replay: store, clock });
    expect((await refusal(secondInstance.verify(proof, { method: 'POST', url: TOKEN_URL }))).code).toBe(
      'DPOP_PROOF_REPLAYED',
    );
  });

  it('wrong htu, wrong htm', async () => {
    const { verifier } = setup();
    const keys = await dpopClient.generateKeyPair('ES256');
    const proof = await dpopClient.generateProof(keys, 'https://evil.example.test/token', 'POST');
    expect(await refusal(verifier.verify(proof, { method: 'POST', url: TOKEN_URL }))).toEqual({
      code: 'DPOP_PROOF_INVALID',
      reason: 'htu',
    });
    const get = await dpopClient.generateProof(keys, TOKEN_URL, 'GET');
    expect(await refusal(verifier.verify(get, { method: 'POST', url: TOKEN_URL }))).toEqual({
      code: 'DPOP_PROOF_INVALID',
      reason: 'htm',
    });
  });

  it('htu compared normalised: scheme and host case, default port, query and fragment', async () => {
    expect(normaliseHtu('HTTPS://API.Example.TEST:443/token?x=1#f')).toBe(TOKEN_URL);
    expect(normaliseHtu('http://api.example.test:80/token')).toBe('http://api.example.test/token');
    expect(normaliseHtu('https://api.example.test:8443/token')).toBe('https://api.example.test:8443/token');
    expect(normaliseHtu('/token')).toBeNull();
    expect(normaliseHtu('ftp://api.example.test/token')).toBeNull();
    const { verifier } = setup();
    const keys = await dpopClient.generateKeyPair('ES256');
    const proof = await dpopClient.generateProof(keys, 'HTTPS://API.EXAMPLE.TEST:443/token', 'POST');
    const verified = await verifier.verify(proof, { method: 'post', url: `${TOKEN_URL}?grant_type=refresh#x` });
    expect(verified.htu).toBe(TOKEN_URL);
    // The path is not case-folded.
    const upper = await dpopClient.generateProof(keys, 'https://api.example.test/TOKEN', 'POST');
    expect((await refusal(verifier.verify(upper, { method: 'POST', url: TOKEN_URL }))).reason).toBe('htu');
  });

  it('stale and future iat, judged by the injected clock', async () => {
    const { verifier, clock } = setup();
    const keys = await dpopClient.generateKeyPair('ES256');
    const proof = await dpopClient.generateProof(keys, TOKEN_URL, 'POST');
    clock.advance(61_000);
    expect(await refusal(verifier.verify(proof, { method: 'POST', url: TOKEN_URL }))).toEqual({
      code: 'DPOP_PROOF_INVALID',
      reason: 'iat_stale',
    });
    clock.advance(-61_000 - 10_000);
    const early = await dpopClient.generateProof(keys, TOKEN_URL, 'POST');
    expect(await refusal(verifier.verify(early, { method: 'POST', url: TOKEN_URL }))).toEqual({
      code: 'DPOP_PROOF_INVALID',
      reason: 'iat_future',
    });
  });

  it('signed by another key than the embedded jwk', async () => {
    const { verifier, clock } = setup();
    const embedded = await es256();
    const signer = await es256();
    const proof = await craftProof(
      { typ: 'dpop+jwt', alg: 'ES256', jwk: embedded.jwk },
      claimsFor('POST', TOKEN_URL, Math.floor(clock.now() / 1000)),
      signer.privateKey,
    );
    expect(await refusal(verifier.verify(proof, { method: 'POST', url: TOKEN_URL }))).toEqual({
      code: 'DPOP_PROOF_INVALID',
      reason: 'signature',
    });
  });

  it('wrong typ, alg none, an HMAC alg, a private key in the jwk, a missing jwk', async () => {
    const { verifier, clock } = setup();
    const key = await es256();
    const iat = Math.floor(clock.now() / 1000);
    const request = { method: 'POST', url: TOKEN_URL };
    const jwt = await craftProof(
      { typ: 'JWT', alg: 'ES256', jwk: key.jwk },
      claimsFor('POST', TOKEN_URL, iat),
      key.privateKey,
    );
    expect(await refusal(verifier.verify(jwt, request))).toEqual({ code: 'DPOP_PROOF_INVALID', reason: 'typ' });

    const none = `${b64(JSON.stringify({ typ: 'dpop+jwt', alg: 'none', jwk: key.jwk }))}.${b64(JSON.stringify(claimsFor('POST', TOKEN_URL, iat)))}.`;
    expect(await refusal(verifier.verify(none, request))).toEqual({ code: 'DPOP_PROOF_INVALID', reason: 'alg' });

    const hmacKey = new Uint8Array(32).fill(7);
    const hs = await new SignJWT(claimsFor('POST', TOKEN_URL, iat))
      .setProtectedHeader({ typ: 'dpop+jwt', alg: 'HS256', jwk: { kty: 'oct', k: b64('x'.repeat(32)) } as JWK })
      .sign(hmacKey);
    expect(await refusal(verifier.verify(hs, request))).toEqual({ code: 'DPOP_PROOF_INVALID', reason: 'alg' });

    const privateJwk = await exportJWK(key.privateKey);
    const leaky = await craftProof(
      { typ: 'dpop+jwt', alg: 'ES256', jwk: privateJwk },
      claimsFor('POST', TOKEN_URL, iat),
      key.privateKey,
    );
    expect(await refusal(verifier.verify(leaky, request))).toEqual({
      code: 'DPOP_PROOF_INVALID',
      reason: 'jwk_private',
    });

    const bare = await craftProof({ typ: 'dpop+jwt', alg: 'ES256' }, claimsFor('POST', TOKEN_URL, iat), key.privateKey);
    expect(await refusal(verifier.verify(bare, request))).toEqual({
      code: 'DPOP_PROOF_INVALID',
      reason: 'jwk_missing',
    });
  });

  it('missing, malformed, oversized and multiple proofs; a missing jti', async () => {
    const { verifier, clock } = setup();
    const request = { method: 'POST', url: TOKEN_URL };
    expect((await refusal(verifier.verify(undefined, request))).reason).toBe('missing');
    expect((await refusal(verifier.verify('not.a-jwt', request))).reason).toBe('malformed');
    expect((await refusal(verifier.verify('a'.repeat(9000), request))).reason).toBe('too_long');
    const key = await es256();
    const noJti = await craftProof(
      { typ: 'dpop+jwt', alg: 'ES256', jwk: key.jwk },
      { htm: 'POST', htu: TOKEN_URL, iat: Math.floor(clock.now() / 1000) },
      key.privateKey,
    );
    expect((await refusal(verifier.verify(noJti, request))).reason).toBe('jti');
    const keys = await dpopClient.generateKeyPair('ES256');
    const one = await dpopClient.generateProof(keys, TOKEN_URL, 'POST');
    const two = await dpopClient.generateProof(keys, TOKEN_URL, 'POST');
    expect(
      (await refusal(authenticateDpopRequest(verifier, { ...request, authorization: null, dpop: [one, two] }))).reason,
    ).toBe('multiple');
  });
});

describe('DPoP: RFC 9449 examples as vectors (verified at the RFC moment with an injected clock)', () => {
  // Section 4.1 / Figure 5: the token-request proof; section 7.1: the resource proof with ath.
  const RFC_TOKEN_PROOF =
    'eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg';
  const RFC_RESOURCE_PROOF =
    'eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA';
  const RFC_ACCESS_TOKEN = 'Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU';
  const RFC_ATH = 'fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo';
  const RFC_JKT = '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I';

  it('the token-request proof: accepted at its iat, thumbprint as in the cnf example', async () => {
    const { verifier } = setup({ clock: createTestClock(1_562_262_616_000) });
    const verified = await verifier.verify(RFC_TOKEN_PROOF, {
      method: 'POST',
      url: 'https://server.example.com/token',
    });
    expect(verified.jkt).toBe(RFC_JKT);
    expect(verified.jti).toBe('-BwC3ESc6acc2lTc');
  });

  it('the resource proof: ath of the RFC access token; refused today as stale', async () => {
    expect(accessTokenHash(RFC_ACCESS_TOKEN)).toBe(RFC_ATH);
    const { verifier } = setup({ clock: createTestClock(1_562_262_620_000) });
    const request = {
      method: 'GET',
      url: 'https://resource.example.org/protectedresource',
      accessToken: RFC_ACCESS_TOKEN,
    };
    expect((await verifier.verify(RFC_RESOURCE_PROOF, request)).jkt).toBe(RFC_JKT);
    const today = setup();
    expect(await refusal(today.verifier.verify(RFC_RESOURCE_PROOF, request))).toEqual({
      code: 'DPOP_PROOF_INVALID',
      reason: 'iat_stale',
    });
  });

  it('the example key thumbprint through jose agrees', async () => {
    const header = JSON.parse(Buffer.from(RFC_TOKEN_PROOF.split('.')[0] as string, 'base64url').toString());
    expect(await calculateJwkThumbprint(header.jwk)).toBe(RFC_JKT);
  });
});

describe('DPoP: server nonces (RFC 9449 section 8 and 9)', () => {
  it('asks for a nonce with use_dpop_nonce, accepts the retry, refuses an expired nonce', async () => {
    const { verifier, clock } = setup({ nonce: { secret: new Uint8Array(32).fill(3), lifetimeSeconds: 60 } });
    const keys = await dpopClient.generateKeyPair('ES256');
    const first = await dpopClient.generateProof(keys, RESOURCE_URL, 'GET', undefined, 'tok');
    let error: unknown;
    try {
      await verifier.verify(first, { method: 'GET', url: RESOURCE_URL, accessToken: 'tok' });
    } catch (caught) {
      error = caught;
    }
    expect(isSessionError(error, 'DPOP_NONCE_REQUIRED')).toBe(true);
    const answer = dpopErrorResponse(error as SessionError, verifier);
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toMatch(/^DPoP error="use_dpop_nonce"/);
    const nonce = answer.headers['dpop-nonce'] as string;
    expect(nonce).toBe(verifier.currentNonce());
    const atTokenEndpoint = dpopErrorResponse(error as SessionError, verifier, { tokenEndpoint: true });
    expect(atTokenEndpoint.status).toBe(400);
    expect(atTokenEndpoint.body.error).toBe('use_dpop_nonce');
    expect(atTokenEndpoint.headers['www-authenticate']).toBeUndefined();

    const retry = await dpopClient.generateProof(keys, RESOURCE_URL, 'GET', nonce, 'tok');
    expect((await verifier.verify(retry, { method: 'GET', url: RESOURCE_URL, accessToken: 'tok' })).jkt).toBe(
      await dpopClient.calculateThumbprint(keys.publicKey),
    );
    // A nonce lives between one and two steps (30 s each here); the proof itself must be fresh.
    clock.advance(61_000);
    const key = await es256();
    const stale = await craftProof(
      { typ: 'dpop+jwt', alg: 'ES256', jwk: key.jwk },
      claimsFor('GET', RESOURCE_URL, Math.floor(clock.now() / 1000), { nonce }),
      key.privateKey,
    );
    expect(await refusal(verifier.verify(stale, { method: 'GET', url: RESOURCE_URL }))).toEqual({
      code: 'DPOP_NONCE_REQUIRED',
      reason: 'stale',
    });
  });

  it('answers with the RFC error shapes for invalid proofs and bound tokens', () => {
    const { verifier } = setup();
    const invalid = dpopErrorResponse(new SessionError('DPOP_PROOF_INVALID', 'detail', { reason: 'htu' }), verifier);
    expect(invalid.status).toBe(401);
    expect(invalid.headers['www-authenticate']).toBe(
      'DPoP error="invalid_dpop_proof", error_description="The DPoP proof is invalid", algs="ES256 EdDSA Ed25519"',
    );
    expect(invalid.headers['dpop-nonce']).toBeUndefined();
    const stolen = dpopErrorResponse(new SessionError('DPOP_KEY_MISMATCH'), verifier);
    expect(stolen.headers['www-authenticate']).toMatch(/^DPoP error="invalid_token"/);
    const outage = dpopErrorResponse(new SessionError('STORE_UNAVAILABLE'), verifier);
    expect(outage.status).toBe(503);
    expect(outage.headers['www-authenticate']).toBeUndefined();
  });
});

describe('DPoP: requests and bindings', () => {
  it('reads DPoP and Bearer authorization schemes', () => {
    expect(readAuthorization('DPoP abc.def')).toEqual({ scheme: 'DPoP', token: 'abc.def' });
    expect(readAuthorization('dpop abc')).toEqual({ scheme: 'DPoP', token: 'abc' });
    expect(readAuthorization('Bearer abc')).toEqual({ scheme: 'Bearer', token: 'abc' });
    expect(readAuthorization('Basic abc')).toBeNull();
    expect(readAuthorization('DPoP a b')).toBeNull();
  });

  it('Authorization: DPoP needs a proof whose ath is the token; Bearer passes without a proof', async () => {
    const { verifier } = setup();
    const keys = await dpopClient.generateKeyPair('ES256');
    const token = 'tok-123';
    const proof = await dpopClient.generateProof(keys, RESOURCE_URL, 'GET', undefined, token);
    const auth = await authenticateDpopRequest(verifier, {
      method: 'GET',
      url: RESOURCE_URL,
      authorization: `DPoP ${token}`,
      dpop: proof,
    });
    expect(auth.scheme).toBe('DPoP');
    expect(auth.token).toBe(token);
    expect(auth.proof?.jkt).toBe(await dpopClient.calculateThumbprint(keys.publicKey));
    const noProof = authenticateDpopRequest(verifier, {
      method: 'GET',
      url: RESOURCE_URL,
      authorization: `DPoP ${token}`,
      dpop: null,
    });
    expect(await refusal(noProof)).toEqual({ code: 'DPOP_PROOF_INVALID', reason: 'missing' });
    const bearer = await authenticateDpopRequest(verifier, {
      method: 'GET',
      url: RESOURCE_URL,
      authorization: `Bearer ${token}`,
      dpop: undefined,
    });
    expect(bearer).toEqual({ scheme: 'Bearer', token, proof: null });
  });

  it('a bound credential needs a proof from its key; an unbound one passes', async () => {
    const { verifier } = setup();
    const keys = await dpopClient.generateKeyPair('ES256');
    const proof = await verifier.verify(await dpopClient.generateProof(keys, TOKEN_URL, 'POST'), {
      method: 'POST',
      url: TOKEN_URL,
    });
    expect(() => assertDpopBinding(proof.jkt, proof)).not.toThrow();
    expect(() => assertDpopBinding(null, null)).not.toThrow();
    const missing = (() => {
      try {
        assertDpopBinding(proof.jkt, null);
      } catch (error) {
        return error as SessionError;
      }
    })();
    expect([missing?.code, missing?.reason]).toEqual(['DPOP_KEY_MISMATCH', 'proof_missing']);
    const other = { ...proof, jkt: 'x'.repeat(43) };
    expect(() => assertDpopBinding(proof.jkt, other)).toThrow(expect.objectContaining({ reason: 'key_mismatch' }));
  });

  it('refuses a replay store without markOnce, and bad options, at construction', () => {
    expect(() => createDpopVerifier({ replay: {} })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    const store = new MemoryStore();
    expect(() => createDpopVerifier({ replay: store, algorithms: ['HS256' as DpopAlgorithm] })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
    expect(() => createDpopVerifier({ replay: store, nonce: { secret: new Uint8Array(8) } })).toThrow(
      expect.objectContaining({ code: 'KEY_WEAK' }),
    );
    for (const replayTimeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '50' as unknown as number]) {
      expect(() => createDpopVerifier({ replay: store, replayTimeoutMs }), String(replayTimeoutMs)).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID' }),
      );
    }
  });

  it('a replay store that does not answer fails the proof closed (503 STORE_UNAVAILABLE) at replayTimeoutMs', async () => {
    const hung = { markOnce: () => new Promise<boolean>(() => {}) };
    const verifier = createDpopVerifier({ replay: hung, replayTimeoutMs: 50 });
    const keys = await dpopClient.generateKeyPair('ES256');
    const proof = await dpopClient.generateProof(keys, TOKEN_URL, 'POST');
    expect(await refusal(verifier.verify(proof, { method: 'POST', url: TOKEN_URL }))).toEqual({
      code: 'STORE_UNAVAILABLE',
      reason: 'dpop_replay_cache',
    });
    // A failing store keeps its own outcome: the same code, with the failure as the cause.
    const failing = createDpopVerifier({ replay: { markOnce: async () => Promise.reject(new Error('down')) } });
    const other = await dpopClient.generateProof(keys, TOKEN_URL, 'POST');
    expect(await refusal(failing.verify(other, { method: 'POST', url: TOKEN_URL }))).toEqual({
      code: 'STORE_UNAVAILABLE',
      reason: 'dpop_replay_cache',
    });
  });
});

describe('MemoryStore.markOnce: the replay cache', () => {
  it('true once per key until the key expires; bounded, refusing rather than forgetting', async () => {
    const store = new MemoryStore({ maxOnceKeys: 2 });
    expect(await store.markOnce('a', 1000, 0)).toBe(true);
    expect(await store.markOnce('a', 1000, 999)).toBe(false);
    expect(await store.markOnce('a', 1000, 1000)).toBe(true);
    expect(await store.markOnce('b', 1000, 1000)).toBe(true);
    await expect(store.markOnce('c', 1000, 1500)).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    expect(await store.markOnce('a', 1000, 1500)).toBe(false);
    // Once the old keys expire there is room again.
    expect(await store.markOnce('c', 1000, 2001)).toBe(true);
  });
});

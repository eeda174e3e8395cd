import { createDpopVerifier } from '@org/session-core/dpop';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../src/index.js';
import { assertServices, dropUnder, LOCAL_URL, localRedis, skipWithout, uniquePrefix } from './support.js';

const local = await localRedis();

const b64 = (bytes: Uint8Array | string) =>
  Buffer.from(typeof bytes === 'string' ? Buffer.from(bytes) : bytes).toString('base64url');

/** A DPoP proof made with Web Crypto alone (ES256), as a client would send it. */
async function proofFor(method: string, url: string): Promise<string> {
  const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', pair.publicKey);
  const header = b64(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } }));
  const claims = { jti: crypto.randomUUID(), htm: method, htu: url, iat: Math.floor(Date.now() / 1000) };
  const input = `${header}.${b64(JSON.stringify(claims))}`;
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, pair.privateKey, Buffer.from(input));
  return `${input}.${b64(new Uint8Array(signature))}`;
}

describe.skipIf(skipWithout(local))('RedisStore.markOnce: the shared DPoP replay cache', () => {
  const prefix = uniquePrefix('once');
  let a: RedisStore;
  let b: RedisStore;

  beforeAll(() => {
    assertServices(local);
    a = new RedisStore({ url: LOCAL_URL, prefix });
    b = new RedisStore({ url: LOCAL_URL, prefix });
  });
  afterAll(async () => {
    if (!a) return;
    await dropUnder(a.client, prefix);
    await a.close();
    await b.close();
  });

  it('one winner among concurrent callers on two instances; the key expires with its TTL', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).markOnce('race', 300, Date.now())),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    const ttl = await a.client.pttl(a.onceKey('race'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(300);
    // Bounded wait for Redis to expire the key.
    const deadline = Date.now() + 3000;
    while ((await a.client.exists(a.onceKey('race'))) === 1 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await b.markOnce('race', 300, Date.now())).toBe(true);
  });

  it('a proof accepted by one instance is refused as replayed by another', async () => {
    const url = 'https://api.example.test/token';
    const proof = await proofFor('POST', url);
    const first = createDpopVerifier({ replay: a });
    const second = createDpopVerifier({ replay: b });
    expect((await first.verify(proof, { method: 'POST', url })).jkt).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await expect(second.verify(proof, { method: 'POST', url })).rejects.toMatchObject({ code: 'DPOP_PROOF_REPLAYED' });
    // Only a fixed-size hash of key and jti is stored, with a TTL.
    // The 300 ms key of the test before may be expiring right now: left out.
    const keys = (await a.client.keys(`${prefix}o:*`)).filter((key) => key !== a.onceKey('race'));
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(await a.client.pttl(key)).toBeGreaterThan(0);
  });
});

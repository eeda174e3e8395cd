/**
 * DPoP section: the cost of one DPoP proof check (RFC 9449: header checks, importing the embedded
 * public key, the signature, claims, `ath`, the RFC 7638 thumbprint and the replay-cache write)
 * next to jose verifying the same proof, in the same run. The floor is jose's `compactVerify` with
 * the key already imported; jose importing the embedded key first is what any DPoP check must do.
 */
import { MemoryStore } from '@org/session-core';
import { createDpopVerifier, type DpopAlgorithm } from '@org/session-core/dpop';
import { compactVerify, exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import { type BenchResult, bench, printTable, printTarget } from './lib.ts';

const url = 'https://api.example.test/api/me';
const accessToken = 'bench-access-token-0123456789abcdef';

async function section(alg: DpopAlgorithm): Promise<void> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  const now = Date.now();
  const ath = Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(accessToken))).toString(
    'base64url',
  );
  const proof = await new SignJWT({ jti: crypto.randomUUID(), htm: 'GET', htu: url, iat: Math.floor(now / 1000), ath })
    .setProtectedHeader({ typ: 'dpop+jwt', alg, jwk })
    .sign(privateKey);
  const clock = { now: () => now };
  // The same proof again and again: a replay store that accepts every key isolates the check itself.
  const acceptAll = { markOnce: async () => true };
  const checkOnly = createDpopVerifier({ replay: acceptAll, clock, algorithms: [alg] });
  // With the memory replay cache: each call writes a new key (a suffix stands in for a new jti).
  const memory = new MemoryStore({ maxOnceKeys: 50_000_000 });
  let n = 0;
  const withCache = createDpopVerifier({
    replay: { markOnce: (key: string, ttl: number, at: number) => memory.markOnce(`${key}${n++}`, ttl, at) },
    clock,
    algorithms: [alg],
  });
  const request = { method: 'GET', url, accessToken };
  const imported = await importJWK(jwk, alg);

  const results: BenchResult[] = [];
  results.push(await bench(`jose compactVerify ${alg} (key imported once)`, () => compactVerify(proof, imported)));
  results.push(
    await bench(`jose importJWK + compactVerify ${alg}`, async () => compactVerify(proof, await importJWK(jwk, alg))),
  );
  results.push(await bench(`DpopVerifier.verify ${alg} (no replay cache)`, () => checkOnly.verify(proof, request)));
  results.push(await bench(`DpopVerifier.verify ${alg} (memory replay cache)`, () => withCache.verify(proof, request)));
  printTable(`dpop ${alg}: one proof check vs jose on the same proof (same run)`, results, results[1]?.name);
  const [, joseWithImport, ours] = results as [BenchResult, BenchResult, BenchResult, BenchResult];
  printTarget(`${alg} proof check / jose importJWK + compactVerify`, ours.nsPerOp / joseWithImport.nsPerOp, 1.5);
}

export async function run(): Promise<void> {
  for (const alg of ['ES256', 'EdDSA'] as const) await section(alg);
}

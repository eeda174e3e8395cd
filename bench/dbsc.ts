/**
 * DBSC section: the cost of verifying one Device Bound Session refresh (the challenge's MAC and
 * age, the ES256 or RS256 signature against the key stored with the session, the one-use mark,
 * a new bound cookie) next to jose verifying the same proof, in the same run; and the bound-cookie
 * check that routes requiring binding run on every request. The proof comes from the spec-written
 * Web Crypto client of `@org/session-core/testing`, as a browser would send it.
 */
import { createSessionManager, MemoryStore } from '@org/session-core';
import { createDbsc, type DbscAlgorithm } from '@org/session-core/dbsc';
import {
  generateDbscKey,
  parseChallengeHeader,
  parseRegistrationHeader,
  sessionResponseHeader,
  signDbscProof,
} from '@org/session-core/testing';
import { compactVerify, importJWK, type JWK } from 'jose';
import { type BenchResult, bench, printTable, printTarget } from './lib.ts';

async function section(alg: DbscAlgorithm): Promise<void> {
  const now = Date.now();
  const clock = { now: () => now };
  const store = new MemoryStore({ maxOnceKeys: 50_000_000 });
  const manager = createSessionManager({ store, clock });
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const registrar = createDbsc(manager, { secret, algorithms: [alg] });
  const key = await generateDbscKey(alg);
  const issued = await manager.create({ userId: 'bench' });
  const { challenge: regChallenge } = parseRegistrationHeader(registrar.registrationHeader(issued.session));
  const registration = await signDbscProof(key, { challenge: regChallenge, registration: true });
  const answer = await registrar.register(issued.session, { proof: sessionResponseHeader(registration) });
  const session = (await manager.validateToken(issued.token)).session;
  if (!session) throw new Error('bench session lost');

  const asked = await registrar.refresh(session, { proof: null });
  const { challenge } = parseChallengeHeader(asked.headers['Secure-Session-Challenge'] ?? '');
  const token = await signDbscProof(key, { challenge });
  const header = sessionResponseHeader(token);
  // The same proof again and again: a replay store that accepts every key isolates the check itself.
  const checkOnly = createDbsc(manager, { secret, algorithms: [alg], replayStore: { markOnce: async () => true } });
  let n = 0;
  const withCache = createDbsc(manager, {
    secret,
    algorithms: [alg],
    replayStore: { markOnce: (k: string, ttl: number, at: number) => store.markOnce(`${k}${n++}`, ttl, at) },
  });
  const jwk = session.metadata.dbsc?.jwk as JWK;
  const imported = await importJWK(jwk, alg);
  const boundCookie = (answer.cookies[0] ?? '').split(';')[0] as string;

  const results: BenchResult[] = [];
  results.push(await bench(`jose compactVerify ${alg} (key imported once)`, () => compactVerify(token, imported)));
  results.push(
    await bench(`jose importJWK + compactVerify ${alg}`, async () => compactVerify(token, await importJWK(jwk, alg))),
  );
  results.push(
    await bench(`Dbsc.refresh ${alg} (no replay cache)`, () => checkOnly.refresh(session, { proof: header })),
  );
  results.push(
    await bench(`Dbsc.refresh ${alg} (memory replay cache)`, () => withCache.refresh(session, { proof: header })),
  );
  results.push(
    await bench('Dbsc.state (bound cookie check, per request)', () => checkOnly.state(session, boundCookie)),
  );
  printTable(`dbsc ${alg}: one refresh verification vs jose on the same proof (same run)`, results, results[1]?.name);
  const [, joseWithImport, ours] = results as [BenchResult, BenchResult, BenchResult];
  printTarget(
    `${alg} refresh verification / jose importJWK + compactVerify`,
    ours.nsPerOp / joseWithImport.nsPerOp,
    1.5,
  );
}

export async function run(): Promise<void> {
  for (const alg of ['ES256', 'RS256'] as const) await section(alg);
}

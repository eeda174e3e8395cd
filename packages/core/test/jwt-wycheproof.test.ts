import type { JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { base64urlDecode } from '../src/encoding.js';
import { generateSigningKey, importJwtKey, type JwtAlgorithm, type JwtKey } from '../src/entries/jwt.js';
import { isSessionError } from '../src/errors.js';
import { inspectCompactJws } from '../src/jwt/compact.js';
import { JwtKeySet } from '../src/jwt/key-set.js';
import { JWT_ALGORITHMS } from '../src/jwt/keys.js';
import { verifyCompactJws } from '../src/jwt/verify.js';
import { codeOf } from './jwt-support.js';
import jwkVectors from './vectors/wycheproof/json_web_key_test.json';
import jwsVectors from './vectors/wycheproof/json_web_signature_test.json';

/**
 * Wycheproof's JSON Web Signature and JSON Web Key vectors (C2SP/wycheproof `testvectors_v1` at
 * dac1dd4, Apache-2.0: see test/vectors/wycheproof/README.md) through our verify path. Each group's
 * key, or key set, is imported with `importJwtKey` under the algorithm it is for and put in a
 * `JwtKeySet`; each token then goes through `inspectCompactJws` (which also picks the key by `kid`)
 * and `verifyCompactJws`. A valid case must verify, an invalid one must be refused, and every
 * refusal is a coded `SessionError`.
 *
 * A group applies to a session-JWT verifier when its key is for EdDSA, ES256 or HS256: by its
 * `alg` member, or, when that is absent or names no JWS algorithm (`ES521`, `A256GCM`), by its key
 * type and curve. The other groups (RSA keys, P-521, HS384 and HS512) are counted, never skipped:
 * each of their keys imports under no algorithm of ours, and each of their tokens is refused by a
 * key of ours for every algorithm we allow-list. JSON serialization is among the applicable cases:
 * we refuse it by design, and Wycheproof expects it refused.
 */

interface WycheproofCase {
  tcId: number;
  comment: string;
  jws: string;
  result: 'valid' | 'invalid' | 'acceptable';
  flags: string[];
}

type KeyMaterial = JWK | { keys: JWK[] };

interface WycheproofGroup {
  comment: string;
  public?: KeyMaterial;
  private?: KeyMaterial;
  tests: WycheproofCase[];
}

interface WycheproofFile {
  numberOfTests: number;
  testGroups: WycheproofGroup[];
}

const files = [
  { name: 'json_web_signature', data: jwsVectors as unknown as WycheproofFile },
  { name: 'json_web_key', data: jwkVectors as unknown as WycheproofFile },
] as const;

type FileName = (typeof files)[number]['name'];

const ours: ReadonlySet<string> = new Set(JWT_ALGORITHMS);
/** RFC 7518 signature algorithms a session-JWT verifier does not allow-list. */
const notAllowListed = new Set([
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES384',
  'ES512',
]);

/**
 * Cases whose expected result contradicts the standard or another case of the same file. We follow
 * the standard and keep the consistent answer; each entry shows its contradiction on the token.
 */
interface Contradiction {
  reason: string;
  /** Shows the contradiction on the case's own token. */
  check(jws: string): void;
}

const sameAs357: Contradiction = {
  reason: 'marked invalid, yet byte-identical to the valid case 357: accepted like 357',
  check: (jws) => expect(jws).toBe(caseById('json_web_signature', 357).jws),
};
const questionMark: Contradiction = {
  reason: 'marked valid, yet it contains "?", which RFC 7515 section 5.2 requires rejecting: refused',
  check: (jws) => expect(jws).toContain('?'),
};
const contradictory: Record<FileName, Map<number, Contradiction>> = {
  json_web_signature: new Map([
    [367, sameAs357],
    [370, sameAs357],
    [372, questionMark],
    [373, questionMark],
  ]),
  json_web_key: new Map(),
};

/**
 * Groups whose key our key policy refuses although Wycheproof uses it for valid cases. Their
 * tokens still test our JWS parsing: they run with the key bytes imported by Web Crypto directly.
 */
const stricterKeyPolicy: Record<FileName, Map<string, string>> = {
  json_web_signature: new Map([['base64', 'its HS256 key is 32 zero bytes, refused by importJwtKey (KEY_WEAK, F3)']]),
  json_web_key: new Map(),
};

function caseById(file: FileName, tcId: number): WycheproofCase {
  const data = files.find((f) => f.name === file)?.data as WycheproofFile;
  const found = data.testGroups.flatMap((group) => group.tests).find((test) => test.tcId === tcId);
  if (!found) throw new Error(`no case ${tcId} in ${file}`);
  return found;
}

function keysOf(group: WycheproofGroup): JWK[] {
  const material = group.public ?? group.private;
  if (!material) return [];
  return Array.isArray((material as { keys?: unknown }).keys) ? (material as { keys: JWK[] }).keys : [material as JWK];
}

/** The algorithm a verifier would configure for this key, or why none of ours fits it. */
function algorithmOf(jwk: JWK): { alg: JwtAlgorithm } | { reason: string } {
  if (typeof jwk.alg === 'string' && ours.has(jwk.alg)) return { alg: jwk.alg as JwtAlgorithm };
  if (typeof jwk.alg === 'string' && notAllowListed.has(jwk.alg)) {
    return { reason: `a key for ${jwk.alg}, which we do not allow-list` };
  }
  if (jwk.kty === 'oct') return { alg: 'HS256' };
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return { alg: 'ES256' };
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return { alg: 'EdDSA' };
  return { reason: `a ${[jwk.kty, jwk.crv].filter(Boolean).join(' ')} key, which no algorithm of ours uses` };
}

type Plan =
  | { applies: true; keys: Array<{ jwk: JWK; alg: JwtAlgorithm }> }
  | { applies: false; reason: string; jwks: JWK[] };

function planFor(group: WycheproofGroup): Plan {
  const jwks = keysOf(group);
  const keys: Array<{ jwk: JWK; alg: JwtAlgorithm }> = [];
  for (const jwk of jwks) {
    const fit = algorithmOf(jwk);
    if ('reason' in fit) return { applies: false, reason: fit.reason, jwks };
    keys.push({ jwk, alg: fit.alg });
  }
  return keys.length > 0 ? { applies: true, keys } : { applies: false, reason: 'no key', jwks };
}

type Verdict = { accepted: true } | { accepted: false; stage: 'key' | 'key set' | 'token'; code: string };

function refused(stage: 'key' | 'key set' | 'token', error: unknown): Verdict {
  return { accepted: false, stage, code: isSessionError(error) ? error.code : 'not-a-session-error' };
}

async function keySet(keys: Array<{ jwk: JWK; alg: JwtAlgorithm }>): Promise<JwtKeySet | Verdict> {
  const imported: JwtKey[] = [];
  for (const { jwk, alg } of keys) {
    try {
      imported.push(await importJwtKey({ alg, key: jwk }));
    } catch (error) {
      return refused('key', error);
    }
  }
  try {
    return new JwtKeySet({ verifyOnly: imported });
  } catch (error) {
    return refused('key set', error);
  }
}

/** An HS256 key straight from its bytes, past our key policy: for the parsing cases of a weak key. */
async function unvettedHmacKey(jwk: JWK): Promise<JwtKey> {
  const bytes = base64urlDecode(jwk.k as string) as Uint8Array<ArrayBuffer>;
  const key = await crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  return { kid: jwk.kid as string, alg: 'HS256', signingKey: null, verificationKey: key, publicJwk: null };
}

async function verifyWith(keys: JwtKeySet, jws: string): Promise<Verdict> {
  try {
    const header = inspectCompactJws(jws, { algorithms: keys.algorithms, requireKid: false });
    const all = keys.list();
    const key = header.kid !== undefined ? keys.resolve(header.kid) : all.length === 1 ? all[0] : undefined;
    if (!key) return { accepted: false, stage: 'token', code: 'JWT_KID_UNKNOWN' };
    await verifyCompactJws(jws, key);
    return { accepted: true };
  } catch (error) {
    return refused('token', error);
  }
}

let ourKeys: Promise<JwtKey[]> | undefined;
/** One key of ours per allow-listed algorithm, for the tokens of groups that do not apply. */
function keysOfOurs(): Promise<JwtKey[]> {
  ourKeys ??= Promise.all(JWT_ALGORITHMS.map((alg) => generateSigningKey(alg)));
  return ourKeys;
}

const counts = { total: 0, applicable: 0, notApplicable: 0, contradictory: 0, viaUnvettedKey: 0 };
for (const { name, data } of files) {
  for (const group of data.testGroups) {
    const plan = planFor(group);
    counts.total += group.tests.length;
    if (!plan.applies) counts.notApplicable += group.tests.length;
    else {
      counts.applicable += group.tests.length;
      if (stricterKeyPolicy[name].has(group.comment)) counts.viaUnvettedKey += group.tests.length;
    }
    counts.contradictory += group.tests.filter((test) => contradictory[name].has(test.tcId)).length;
  }
}

describe('Wycheproof JWS and JWK vectors through our verify path', () => {
  it('every case is counted: 96 apply and agree, 331 do not apply and are refused', () => {
    expect(counts.total).toBe(jwsVectors.numberOfTests + jwkVectors.numberOfTests);
    expect(counts.total).toBe(427);
    expect(counts.applicable).toBe(96);
    expect(counts.notApplicable).toBe(331);
    expect(counts.contradictory).toBe(4);
    expect(counts.viaUnvettedKey).toBe(21);
  });

  for (const { name, data } of files) {
    data.testGroups.forEach((group, index) => {
      const ids = group.tests.map((test) => test.tcId);
      const label = `${name} group ${index} (${group.comment}), cases ${Math.min(...ids)}-${Math.max(...ids)}`;
      const plan = planFor(group);

      if (!plan.applies) {
        it(`${label}: does not apply (${plan.reason}); the key imports under no algorithm of ours and every token is refused`, async () => {
          for (const jwk of plan.jwks) {
            const algorithms = new Set([...(typeof jwk.alg === 'string' ? [jwk.alg] : []), ...JWT_ALGORITHMS]);
            for (const alg of algorithms) {
              const code = await codeOf(importJwtKey({ alg: alg as JwtAlgorithm, kid: 'k', key: jwk }));
              expect([alg, code]).toEqual([alg, expect.stringMatching(/^(CONFIG_INVALID|KEY_WEAK)$/)]);
            }
          }
          const accepted: number[] = [];
          for (const test of group.tests) {
            for (const key of await keysOfOurs()) {
              const code = await codeOf(verifyCompactJws(test.jws, key));
              if (code === 'resolved' || code === 'not-a-session-error') accepted.push(test.tcId);
            }
          }
          expect(accepted).toEqual([]);
        });
        return;
      }

      const policy = stricterKeyPolicy[name].get(group.comment);
      it(`${label}: ${policy ? `${policy}; the tokens run with the raw key and ` : ''}every case agrees`, async () => {
        let keys: JwtKeySet | Verdict = await keySet(plan.keys);
        if (policy) {
          expect(keys).toEqual({ accepted: false, stage: 'key', code: 'KEY_WEAK' });
          keys = new JwtKeySet({ verifyOnly: await Promise.all(plan.keys.map(({ jwk }) => unvettedHmacKey(jwk))) });
        }
        const disagreements: Array<{ tcId: number; comment: string; expected: string; got: Verdict }> = [];
        for (const test of group.tests) {
          const verdict = keys instanceof JwtKeySet ? await verifyWith(keys, test.jws) : keys;
          if (!verdict.accepted) expect(verdict.code).not.toBe('not-a-session-error');
          const known = contradictory[name].get(test.tcId);
          if (known) known.check(test.jws);
          const published = test.result === 'valid';
          const expected = known ? !published : published;
          if (test.result !== 'acceptable' && verdict.accepted !== expected) {
            disagreements.push({ tcId: test.tcId, comment: test.comment, expected: test.result, got: verdict });
          }
        }
        expect(disagreements).toEqual([]);
      });
    });
  }

  it('the contradictory cases are listed with their reasons', () => {
    expect([...contradictory.json_web_signature].map(([tcId, { reason }]) => `${tcId}: ${reason}`)).toEqual([
      '367: marked invalid, yet byte-identical to the valid case 357: accepted like 357',
      '370: marked invalid, yet byte-identical to the valid case 357: accepted like 357',
      '372: marked valid, yet it contains "?", which RFC 7515 section 5.2 requires rejecting: refused',
      '373: marked valid, yet it contains "?", which RFC 7515 section 5.2 requires rejecting: refused',
    ]);
  });
});

/**
 * A DBSC client written from the spec (W3C WebAppSec DBSC, editor's draft of 2026-02-17) with
 * Web Crypto only, no jose (so it checks the server rather than sharing its library): it plays the
 * browser in tests where Chromium cannot run DBSC. Proofs are JWS
 * compact serialisations with `typ: dbsc+jwt`, `alg` ES256 (P-256, raw r||s signature) or RS256,
 * `jwk` in the header of a registration proof only, and `jti` set to the challenge.
 */
const encoder = new TextEncoder();

function b64url(bytes: Uint8Array | string): string {
  const raw = typeof bytes === 'string' ? encoder.encode(bytes) : bytes;
  let binary = '';
  for (const byte of raw) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A DBSC key pair as a browser would hold it: the private key never leaves the client. */
export interface DbscTestKey {
  alg: 'ES256' | 'RS256';
  privateKey: CryptoKey;
  publicJwk: JsonWebKey;
}

/**
 * A new DBSC key pair.
 *
 * @example
 * ```ts
 * const key = await generateDbscKey('ES256')
 * ```
 */
export async function generateDbscKey(alg: 'ES256' | 'RS256' = 'ES256'): Promise<DbscTestKey> {
  const pair =
    alg === 'ES256'
      ? await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])
      : await crypto.subtle.generateKey(
          {
            name: 'RSASSA-PKCS1-v1_5',
            modulusLength: 2048,
            publicExponent: new Uint8Array([1, 0, 1]),
            hash: 'SHA-256',
          },
          true,
          ['sign', 'verify'],
        );
  const full = await crypto.subtle.exportKey('jwk', pair.publicKey);
  const publicJwk: JsonWebKey =
    alg === 'ES256' ? { kty: 'EC', crv: 'P-256', x: full.x, y: full.y } : { kty: 'RSA', n: full.n, e: full.e };
  return { alg, privateKey: pair.privateKey, publicJwk };
}

/**
 * Signs a DBSC proof; `header` and `payload` extras let tests tamper with it.
 *
 * @example
 * ```ts
 * const proof = await signDbscProof(key, { challenge, registration: true })
 * ```
 */
export async function signDbscProof(
  key: DbscTestKey,
  options: {
    /** The server's challenge, signed as the proof's `jti`; required. */
    challenge: string;
    /** A registration proof: puts the public key in the header as `jwk`. Default false (a refresh proof). */
    registration?: boolean;
    /** The `authorization` value the server passed at registration, echoed in the payload. Default: left out. */
    authorization?: string;
    /** Extra or overriding header members (for tampering tests). Default: none. */
    header?: Record<string, unknown>;
    /** Extra or overriding payload claims (for tampering tests). Default: none. */
    payload?: Record<string, unknown>;
  },
): Promise<string> {
  const header = {
    alg: key.alg,
    typ: 'dbsc+jwt',
    ...(options.registration ? { jwk: key.publicJwk } : {}),
    ...options.header,
  };
  const payload = {
    jti: options.challenge,
    ...(options.authorization !== undefined ? { authorization: options.authorization } : {}),
    ...options.payload,
  };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const algorithm = key.alg === 'ES256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' };
  const signature = new Uint8Array(await crypto.subtle.sign(algorithm, key.privateKey, encoder.encode(input)));
  return `${input}.${b64url(signature)}`;
}

/** The `Secure-Session-Response` header value: the proof as a structured-field string. */
export function sessionResponseHeader(proof: string): string {
  return `"${proof}"`;
}

/** Parses `Secure-Session-Registration` as the spec's list of inner lists with parameters (one entry). */
export function parseRegistrationHeader(value: string): { algorithms: string[]; path: string; challenge: string } {
  const match = /^\(([A-Z0-9 ]+)\)((?:;[a-z_]+="[^"]*")+)$/.exec(value.trim());
  if (!match) throw new Error(`not a registration header: ${value}`);
  const params = Object.fromEntries(
    [...(match[2] as string).matchAll(/;([a-z_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
  );
  return {
    algorithms: (match[1] as string).split(' '),
    path: params.path as string,
    challenge: params.challenge as string,
  };
}

/** Parses `Secure-Session-Challenge: "<challenge>";id="<session id>"`. */
export function parseChallengeHeader(value: string): { challenge: string; id: string } {
  const match = /^"([^"]*)";id="([^"]*)"$/.exec(value.trim());
  if (!match) throw new Error(`not a challenge header: ${value}`);
  return { challenge: match[1] as string, id: match[2] as string };
}

import { base64urlEncode, utf8 } from '../src/encoding.js';
import { generateSigningKey, type JwtAlgorithm, type JwtKey } from '../src/entries/jwt.js';
import { isSessionError, type SessionErrorCode } from '../src/errors.js';
import { JwtKeySet } from '../src/jwt/key-set.js';
import { JwtVerifier } from '../src/jwt/verify.js';
import { createTestClock, type TestClock } from '../src/testing/index.js';

/** Shared fixtures of the JWT tests: keys, a verifier on a test clock, and raw token surgery. */

export const ISSUER = 'https://auth.example.test';
export const AUDIENCE = 'web';

export function b64(value: string | Uint8Array): string {
  return base64urlEncode(typeof value === 'string' ? utf8(value) : value);
}

const subtleAlgorithm: Record<JwtAlgorithm, AlgorithmIdentifier | EcdsaParams> = {
  EdDSA: { name: 'Ed25519' },
  ES256: { name: 'ECDSA', hash: 'SHA-256' },
  HS256: { name: 'HMAC' },
};

/**
 * Signs any header and payload text with a real key, bypassing every check a JWT library would
 * make, so the verifier under test is the only judge.
 */
export async function signRaw(
  header: Record<string, unknown> | string,
  payload: Record<string, unknown> | string | Uint8Array,
  key: JwtKey,
): Promise<string> {
  const headerText = typeof header === 'string' ? header : JSON.stringify(header);
  const payloadBytes =
    payload instanceof Uint8Array ? payload : typeof payload === 'string' ? payload : JSON.stringify(payload);
  const input = `${b64(headerText)}.${b64(payloadBytes)}`;
  const signature = await crypto.subtle.sign(
    subtleAlgorithm[key.alg],
    key.signingKey as CryptoKey,
    utf8(input) as Uint8Array<ArrayBuffer>,
  );
  return `${input}.${b64(new Uint8Array(signature))}`;
}

export interface VerifierFixture {
  clock: TestClock;
  key: JwtKey;
  keys: JwtKeySet;
  verifier: JwtVerifier<Record<string, unknown>>;
  /** Seconds on the test clock. */
  now(): number;
  /** A valid header for `key`. */
  header(overrides?: Record<string, unknown>): Record<string, unknown>;
  /** Valid claims at the current time. */
  claims(overrides?: Record<string, unknown>): Record<string, unknown>;
  /** A valid token with optional header and claim overrides, signed by `key`. */
  token(claims?: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
}

export async function verifierFixture(alg: JwtAlgorithm = 'EdDSA', cacheSize = 0): Promise<VerifierFixture> {
  const clock = createTestClock();
  const key = await generateSigningKey(alg);
  const keys = new JwtKeySet({ active: key });
  const verifier = new JwtVerifier<Record<string, unknown>>({
    keys,
    issuer: ISSUER,
    audience: AUDIENCE,
    clock,
    cacheSize,
  });
  const now = () => Math.floor(clock.now() / 1000);
  const header = (overrides: Record<string, unknown> = {}) => ({ alg, kid: key.kid, typ: 'session+jwt', ...overrides });
  const claims = (overrides: Record<string, unknown> = {}) => ({
    iss: ISSUER,
    sub: 'user-1',
    aud: AUDIENCE,
    sid: 'AAAAAAAAAAAAAAAAAAAAAA',
    jti: 'jti-1',
    iat: now(),
    nbf: now(),
    exp: now() + 300,
    auth_time: now(),
    ...overrides,
  });
  const token = (claimOverrides: Record<string, unknown> = {}, headerOverrides: Record<string, unknown> = {}) =>
    signRaw(header(headerOverrides), claims(claimOverrides), key);
  return { clock, key, keys, verifier, now, header, claims, token };
}

/** The error code a promise rejects with, or `resolved`. */
export async function codeOf(
  promise: Promise<unknown>,
): Promise<SessionErrorCode | 'resolved' | 'not-a-session-error'> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return isSessionError(error) ? error.code : 'not-a-session-error';
  }
}

/** Replaces the payload segment of a compact token, keeping header and signature. */
export function withPayload(token: string, payloadText: string): string {
  const [header, , signature] = token.split('.');
  return `${header}.${b64(payloadText)}.${signature}`;
}

/** Replaces the header segment of a compact token, keeping payload and signature. */
export function withHeader(token: string, header: Record<string, unknown> | string): string {
  const [, payload, signature] = token.split('.');
  return `${b64(typeof header === 'string' ? header : JSON.stringify(header))}.${payload}.${signature}`;
}

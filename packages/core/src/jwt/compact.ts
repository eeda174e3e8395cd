import { base64urlDecode } from '../encoding.js';
import { isSessionError, SessionError, type SessionErrorCode } from '../errors.js';
import { KID_PATTERN } from './keys.js';

/** Longest token accepted (F9): a session JWT is a few hundred bytes. */
export const MAX_JWT_LENGTH = 8 * 1024;

/** Header members that name key material from outside the configured set; never followed (F4). */
const REMOTE_KEY_HEADERS = ['jku', 'x5u', 'jwk', 'x5c'] as const;
/** Header members of features we do not use: unencoded payloads, JWE, compression. */
const UNSUPPORTED_HEADERS = ['b64', 'enc', 'zip'] as const;

/** Signature lengths in base64url characters: HS256 32 bytes, ES256 and EdDSA 64 (raw r||s). */
const signatureLength: Record<string, number> = { HS256: 43, ES256: 86, EdDSA: 86 };

/** The protected header after the pre-checks: `alg` is allowed, `kid` well-formed if present. */
export interface CheckedJwsHeader {
  alg: string;
  kid?: string;
  typ?: string;
  [member: string]: unknown;
}

export interface CompactJwsRules {
  /** Exact, case-sensitive allow-list of `alg` values. */
  algorithms: ReadonlySet<string>;
  /** Expected `typ`; `application/<typ>` is accepted too, as RFC 7515 section 4.1.9 allows. */
  typ?: string;
  /** Reject a header without `kid`. */
  requireKid: boolean;
  maxLength?: number;
}

/**
 * Pre-checks a compact JWS before any cryptography (RFC 8725bis section 3.14): a string of at most
 * 8 KiB made of `[A-Za-z0-9_-]` and exactly two dots, non-empty canonical base64url segments, a
 * header that is a JSON object with an allowed `alg` (exact match, so `none` and `nOnE` fail),
 * no `jku`/`x5u`/`jwk`/`x5c`/`b64`/`enc`/`zip`, no `crit` at all, the expected `typ`, a `kid` of
 * the dull alphabet, and a signature of the algorithm's length. Each failure has its own code.
 *
 * @example
 * ```ts
 * const header = inspectCompactJws(token, { algorithms: new Set(['EdDSA']), typ: 'session+jwt', requireKid: true })
 * header.kid // selects the key
 * ```
 */
export function inspectCompactJws(token: unknown, rules: CompactJwsRules): CheckedJwsHeader {
  if (typeof token !== 'string' || token.length === 0) throw malformed('not_a_string');
  if (token.length > (rules.maxLength ?? MAX_JWT_LENGTH)) throw malformed('too_large');
  if (!COMPACT_JWS.test(token)) throw malformed(/^[A-Za-z0-9_.-]*$/.test(token) ? 'segments' : 'charset');
  const firstDot = token.indexOf('.');
  const secondDot = token.indexOf('.', firstDot + 1);
  const header = parseHeader(token.slice(0, firstDot));

  const alg = header.alg;
  if (typeof alg !== 'string' || !rules.algorithms.has(alg)) throw fail('JWT_ALG_REJECTED', 'alg_not_allowed');
  for (const member of REMOTE_KEY_HEADERS) {
    if (Object.hasOwn(header, member)) throw fail('JWT_HEADER_REJECTED', `header_${member}`);
  }
  if (Object.hasOwn(header, 'crit')) throw fail('JWT_CRIT_UNSUPPORTED', 'crit');
  for (const member of UNSUPPORTED_HEADERS) {
    if (Object.hasOwn(header, member)) throw fail('JWT_HEADER_REJECTED', `header_${member}`);
  }
  if (rules.typ !== undefined) {
    const typ = header.typ;
    if (typ !== rules.typ && typ !== `application/${rules.typ}`) throw fail('JWT_TYP_INVALID', 'typ_mismatch');
  }
  if (Object.hasOwn(header, 'kid')) {
    if (typeof header.kid !== 'string' || !KID_PATTERN.test(header.kid)) throw fail('JWT_KID_UNKNOWN', 'kid_invalid');
  } else if (rules.requireKid) {
    throw fail('JWT_KID_UNKNOWN', 'kid_missing');
  }

  const payloadLength = secondDot - firstDot - 1;
  if (payloadLength === 0 || !hasCanonicalEnd(token, firstDot + 1, secondDot)) throw malformed('payload_encoding');
  const signatureStart = secondDot + 1;
  if (signatureStart === token.length || !hasCanonicalEnd(token, signatureStart, token.length)) {
    throw malformed('signature_encoding');
  }
  if (token.length - signatureStart !== signatureLength[alg]) throw fail('JWT_SIGNATURE_INVALID', 'signature_length');
  return header as CheckedJwsHeader;
}

/** Three base64url segments, possibly empty, and nothing else: no padding, spaces or JSON. */
const COMPACT_JWS = /^[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

const utf8Decoder = /* @__PURE__ */ new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** ASCII (every header we accept) is decoded in JavaScript; anything else goes through a strict UTF-8 decoder. */
function decodeText(bytes: Uint8Array): string {
  for (let i = 0; i < bytes.length; i++) {
    if ((bytes[i] as number) > 0x7f) return utf8Decoder.decode(bytes);
  }
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

/**
 * Every token one key signs carries the same header segment, so parsed headers are remembered
 * (bounded, frozen, whatever the verifier's rules: those are checked on every call).
 */
const parsedHeaders = new Map<string, Readonly<Record<string, unknown>>>();
const MAX_PARSED_HEADERS = 64;

function parseHeader(segment: string): Readonly<Record<string, unknown>> {
  const known = parsedHeaders.get(segment);
  if (known) return known;
  const header = Object.freeze(decodeHeader(segment));
  if (parsedHeaders.size >= MAX_PARSED_HEADERS) parsedHeaders.delete(parsedHeaders.keys().next().value as string);
  parsedHeaders.set(segment, header);
  return header;
}

function decodeHeader(segment: string): Record<string, unknown> {
  const bytes = segment.length === 0 ? null : base64urlDecode(segment);
  if (!bytes) throw malformed('header_encoding');
  let value: unknown;
  try {
    value = JSON.parse(decodeText(bytes));
  } catch {
    throw malformed('header_json');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed('header_not_object');
  return value as Record<string, unknown>;
}

const sextets = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A valid unpadded base64url length whose unused trailing bits are zero (one encoding per value). */
function hasCanonicalEnd(text: string, start: number, end: number): boolean {
  const rest = (end - start) % 4;
  if (rest === 1) return false;
  if (rest === 0) return true;
  const last = sextets.indexOf(text.charAt(end - 1));
  return rest === 2 ? (last & 15) === 0 : (last & 3) === 0;
}

function malformed(reason: string): SessionError {
  return new SessionError('JWT_MALFORMED', 'The JWT is not a compact JWS of the expected form', { reason });
}

const messages: Partial<Record<SessionErrorCode, string>> = {
  JWT_ALG_REJECTED: 'The JWT algorithm is not allowed',
  JWT_HEADER_REJECTED: 'The JWT header carries a member that is not accepted',
  JWT_KID_UNKNOWN: 'The JWT names no known key',
  JWT_SIGNATURE_INVALID: 'The JWT signature is invalid',
  JWT_EXPIRED: 'The JWT has expired',
  JWT_NOT_YET_VALID: 'The JWT is not valid yet',
  JWT_CLAIM_INVALID: 'A JWT claim is missing or invalid',
  JWT_TYP_INVALID: 'The JWT type is not accepted',
  JWT_CRIT_UNSUPPORTED: 'The JWT requires extensions that are not supported',
  JWT_REVOKED: 'The session of this JWT has ended',
  JWT_MALFORMED: 'The JWT is malformed',
};

/** A coded JWT failure with a machine-readable reason and a fixed message (never the token). */
export function fail(code: SessionErrorCode, reason: string): SessionError {
  return new SessionError(code, messages[code], { reason });
}

/**
 * Maps a `jose` error to our codes. The `jose` error is not kept as `cause`: claim errors carry
 * the decoded payload, which has no place in logs.
 */
export function fromJoseError(error: unknown): SessionError {
  if (isSessionError(error)) return error;
  const { code, claim, reason } = (error ?? {}) as { code?: unknown; claim?: unknown; reason?: unknown };
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return fail('JWT_EXPIRED', claim === 'iat' ? 'max_age_exceeded' : 'exp');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (claim === 'nbf') return fail('JWT_NOT_YET_VALID', 'nbf');
      if (claim === 'iat' && reason === 'check_failed') return fail('JWT_NOT_YET_VALID', 'iat_in_future');
      if (claim === 'typ') return fail('JWT_TYP_INVALID', 'typ_mismatch');
      return fail('JWT_CLAIM_INVALID', `${String(claim)}_${String(reason)}`);
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return fail('JWT_SIGNATURE_INVALID', 'signature');
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return fail('JWT_ALG_REJECTED', 'alg_not_allowed');
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return fail('JWT_MALFORMED', 'jose_rejected');
    default:
      return new SessionError('JWT_INVALID', undefined, { reason: 'unexpected' });
  }
}

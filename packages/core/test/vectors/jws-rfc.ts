/**
 * Published JWS vectors, each verified through our verify path where its algorithm is allowed.
 *
 * Sources:
 * - RFC 7515 (JSON Web Signature), Appendix A.1: HS256. The header and payload contain CRLFs,
 *   which is why the segments are given exactly as published. The security checklist (V-J1)
 *   recomputed this MAC independently.
 * - RFC 7515, Appendix A.3: ES256 (the signature is raw r || s, 64 bytes). ECDSA signatures are
 *   randomised, so only the published signature and public key are used: it must verify.
 * - RFC 8037 (CFRG curves in JOSE), Appendix A.1, A.2 and A.4: Ed25519 key and signature of
 *   "Example of Ed25519 signing". Ed25519 is deterministic, so signing must reproduce it.
 */
export interface JwsVector {
  name: string;
  alg: 'HS256' | 'ES256' | 'EdDSA';
  /** The key as a JWK: `oct`, or the public part of the EC/OKP key (with `d` when published). */
  jwk: Record<string, string>;
  compact: string;
  /** The exact protected header and payload text (JSON where it is JSON). */
  header: string;
  payload: string;
}

const CRLF = '\r\n';

/** The JWT claims both RFC 7515 examples sign: issuer joe, expired in March 2011. */
const joePayload = `{"iss":"joe",${CRLF} "exp":1300819380,${CRLF} "http://example.com/is_root":true}`;

export const rfc7515A1: JwsVector = {
  name: 'RFC 7515 A.1 (HS256)',
  alg: 'HS256',
  jwk: {
    kty: 'oct',
    k: 'AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow',
  },
  compact:
    'eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9' +
    '.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ' +
    '.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk',
  header: `{"typ":"JWT",${CRLF} "alg":"HS256"}`,
  payload: joePayload,
};

export const rfc7515A3: JwsVector = {
  name: 'RFC 7515 A.3 (ES256)',
  alg: 'ES256',
  jwk: {
    kty: 'EC',
    crv: 'P-256',
    x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
    y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
  },
  compact:
    'eyJhbGciOiJFUzI1NiJ9' +
    '.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ' +
    '.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q',
  header: '{"alg":"ES256"}',
  payload: joePayload,
};

export const rfc8037A4: JwsVector = {
  name: 'RFC 8037 A.4 (Ed25519)',
  alg: 'EdDSA',
  jwk: {
    kty: 'OKP',
    crv: 'Ed25519',
    d: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A',
    x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
  },
  compact:
    'eyJhbGciOiJFZERTQSJ9' +
    '.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc' +
    '.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg',
  header: '{"alg":"EdDSA"}',
  payload: 'Example of Ed25519 signing',
};

/** RFC 8037 A.3: the RFC 7638 thumbprint of the Ed25519 public key above. */
export const rfc8037A3Thumbprint = 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k';

export const jwsVectors: readonly JwsVector[] = [rfc7515A1, rfc7515A3, rfc8037A4];

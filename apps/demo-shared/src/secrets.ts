import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Keys the demo generates on first start and keeps beside its database, so a restart keeps them. */
export interface DemoSecrets {
  /** HMAC key of the CSRF tokens (32 bytes). */
  csrfKey: Uint8Array;
  /** Key of the hashed session ids in events and on the sessions page (32 bytes). */
  logKey: Uint8Array;
  /** The JWT signing key as a private JWK, once one was generated. */
  jwtSigningJwk: Record<string, unknown> | null;
}

interface StoredSecrets {
  csrfKey: string;
  logKey: string;
  jwtSigningJwk?: Record<string, unknown> | null;
}

const FILE_NAME = 'demo-secrets.json';

/**
 * Reads the demo's keys from `<dataDir>/demo-secrets.json`, creating the file (mode 0600) with
 * fresh random keys on first start. A real deployment takes these from its secret manager instead.
 *
 * @example
 * ```ts
 * const secrets = loadSecrets('.data');
 * ```
 */
export function loadSecrets(dataDir: string): DemoSecrets {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, FILE_NAME);
  let stored: StoredSecrets;
  try {
    stored = JSON.parse(readFileSync(path, 'utf8')) as StoredSecrets;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    stored = { csrfKey: randomBytes(32).toString('base64url'), logKey: randomBytes(32).toString('base64url') };
    writeFileSync(path, JSON.stringify(stored, null, 2), { mode: 0o600, flag: 'wx' });
  }
  return {
    csrfKey: new Uint8Array(Buffer.from(stored.csrfKey, 'base64url')),
    logKey: new Uint8Array(Buffer.from(stored.logKey, 'base64url')),
    jwtSigningJwk: stored.jwtSigningJwk ?? null,
  };
}

/** Keeps a generated JWT signing key next to the other secrets. */
export function saveJwtSigningJwk(dataDir: string, jwk: Record<string, unknown>): void {
  const path = join(dataDir, FILE_NAME);
  const stored = JSON.parse(readFileSync(path, 'utf8')) as StoredSecrets;
  writeFileSync(path, JSON.stringify({ ...stored, jwtSigningJwk: jwk }, null, 2), { mode: 0o600 });
}

import type { DbscBinding } from './types.js';

const ID_SHAPE = /^[A-Za-z0-9_-]{22,64}$/;
const THUMBPRINT_SHAPE = /^[A-Za-z0-9_-]{43}$/;
const JWK_MEMBER = /^[A-Za-z0-9_-]{1,700}$/;

/**
 * Whether `value` is a sound {@link DbscBinding}: the manager keeps only such a value in a
 * record's metadata, so a binding read back from any store is the shape the verifier expects.
 * Lives apart from the DBSC entry so the manager does not load jose for it.
 */
export function isDbscBinding(value: unknown): value is DbscBinding {
  if (typeof value !== 'object' || value === null) return false;
  const binding = value as Partial<DbscBinding>;
  if (typeof binding.id !== 'string' || !ID_SHAPE.test(binding.id)) return false;
  if (binding.alg !== 'ES256' && binding.alg !== 'RS256') return false;
  if (typeof binding.jkt !== 'string' || !THUMBPRINT_SHAPE.test(binding.jkt)) return false;
  if (typeof binding.boundAt !== 'number' || !Number.isFinite(binding.boundAt)) return false;
  const jwk = binding.jwk;
  if (typeof jwk !== 'object' || jwk === null) return false;
  const entries = Object.entries(jwk);
  if (entries.length > 8 || 'd' in jwk) return false;
  return entries.every(([, member]) => typeof member === 'string' && JWK_MEMBER.test(member));
}

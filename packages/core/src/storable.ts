import { SessionError } from './errors.js';

/**
 * A lone UTF-16 surrogate or a NUL character. Neither survives every store: PostgreSQL's jsonb and
 * text refuse both, and Redis's Lua JSON decoder fails on escaped lone surrogates.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching NUL is the point.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Throws `INPUT_INVALID` (400) unless every string in `value` (object keys included, at any depth)
 * can be held by every store. Runs at create, update and rotate, before any store call, so that a
 * value one store would refuse fails the same way everywhere and never half-way through a rotation.
 * Iterative, so deeply nested data cannot overflow the stack; shared references are visited once.
 *
 * @example
 * ```ts
 * assertStorable('metadata', { label: 'Work laptop' }) // fine
 * assertStorable('data', { name: 'a\u0000b' }) // throws INPUT_INVALID
 * ```
 */
export function assertStorable(label: string, value: unknown): void {
  const pending: unknown[] = [value];
  const seen = new Set<object>();
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item === 'string') {
      if (UNSTORABLE.test(item)) throw unstorable(label);
    } else if (typeof item === 'object' && item !== null && !seen.has(item)) {
      seen.add(item);
      if (Array.isArray(item)) {
        for (const element of item) pending.push(element);
      } else {
        for (const key of Object.keys(item)) {
          if (UNSTORABLE.test(key)) throw unstorable(label);
          pending.push((item as Record<string, unknown>)[key]);
        }
      }
    }
  }
}

function unstorable(label: string): SessionError {
  return new SessionError(
    'INPUT_INVALID',
    `${label} contains a lone UTF-16 surrogate or a NUL character, which not every store can hold`,
    { reason: 'unstorable_string' },
  );
}

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
  nodesLeft = QUICK_NODES;
  const verdict = quickCheck(value, 0);
  if (verdict === STORABLE) return;
  if (verdict === UNSTORABLE_FOUND) throw unstorable(label);
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

const STORABLE = 0;
const UNSTORABLE_FOUND = 1;
const TOO_LARGE = 2;
/** Nesting and object count within which the recursive check answers (typical session data). */
const QUICK_DEPTH = 32;
const QUICK_NODES = 1000;
let nodesLeft = 0;

/**
 * The same check, recursive and allocation-free for small data (about three times as fast); past
 * {@link QUICK_DEPTH} or {@link QUICK_NODES} it answers TOO_LARGE and the iterative walk decides
 * (it visits shared objects once, so a cycle or a wide DAG costs it no more than a tree).
 */
function quickCheck(value: unknown, depth: number): number {
  if (typeof value === 'string') return suspect(value) && UNSTORABLE.test(value) ? UNSTORABLE_FOUND : STORABLE;
  if (typeof value !== 'object' || value === null) return STORABLE;
  if (depth > QUICK_DEPTH || --nodesLeft < 0) return TOO_LARGE;
  if (Array.isArray(value)) {
    for (const element of value) {
      const verdict = quickCheck(element, depth + 1);
      if (verdict !== STORABLE) return verdict;
    }
    return STORABLE;
  }
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (suspect(key) && UNSTORABLE.test(key)) return UNSTORABLE_FOUND;
    const verdict = quickCheck((value as Record<string, unknown>)[key], depth + 1);
    if (verdict !== STORABLE) return verdict;
  }
  return STORABLE;
}

/** Whether `text` holds a NUL or any surrogate: a loop over short strings costs less than the regex. */
function suspect(text: string): boolean {
  if (text.length > 64) return true;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0 || (code >= 0xd800 && code <= 0xdfff)) return true;
  }
  return false;
}

function unstorable(label: string): SessionError {
  return new SessionError(
    'INPUT_INVALID',
    `${label} contains a lone UTF-16 surrogate or a NUL character, which not every store can hold`,
    { reason: 'unstorable_string' },
  );
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSessionError } from '../src/index.js';
import { assertStorable } from '../src/storable.js';

// biome-ignore lint/suspicious/noControlCharactersInRegex: the definition under test, restated.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function refused(value: unknown): boolean {
  try {
    assertStorable('data', value);
    return false;
  } catch (error) {
    expect(isSessionError(error, 'INPUT_INVALID')).toBe(true);
    expect((error as { reason?: string }).reason).toBe('unstorable_string');
    return true;
  }
}

/** Characters of strings under test: lone halves of a surrogate pair and NUL among them. */
const unit = fc.oneof(
  fc.constantFrom('\u0000', '\ud83d', '\udcf1', '\ud83d\udcf1'),
  fc.string({ unit: 'binary', maxLength: 1 }),
);

/** Every string in a JSON value, keys included. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, inner]) => [key, ...strings(inner)]);
}

/** `inner` nested `depth` objects deep. */
function nest(depth: number, inner: unknown): unknown {
  let value = inner;
  for (let i = 0; i < depth; i++) value = { next: value };
  return value;
}

describe('assertStorable', () => {
  it('refuses a lone surrogate or a NUL in any string, key or value, short or long, at any depth', () => {
    const long = 'x'.repeat(100);
    for (const bad of ['a\u0000b', '\ud800', 'x\udfff', `${long}\ud83d`, `\udc00${long}`, `${long}\u0000`]) {
      expect(refused({ text: bad })).toBe(true);
      expect(refused({ [bad]: 1 })).toBe(true);
      expect(refused({ list: [1, { deeper: [bad] }] })).toBe(true);
      // Past the recursive check's depth and size, the iterative walk answers the same.
      expect(refused(nest(40, bad))).toBe(true);
      expect(refused({ many: [...Array.from({ length: 2000 }, (_, i) => ({ i })), bad] })).toBe(true);
    }
    const cyclic: Record<string, unknown> = { text: 'fine' };
    cyclic.self = cyclic;
    expect(refused(cyclic)).toBe(false);
    cyclic.bad = '\u0000';
    expect(refused(cyclic)).toBe(true);
  });

  it('accepts surrogate pairs, other control characters, numbers, null and deep or wide data', () => {
    const fine = ['Phone \ud83d\udcf1', `${'y'.repeat(100)}\ud83d\udcf1`, '\u0001\u001f\ufffe', ''];
    for (const text of fine) expect(refused({ text, [text]: [text, { text }] })).toBe(false);
    expect(refused({ n: 1, none: null, flag: true, missing: undefined, list: [1, 2.5, -0] })).toBe(false);
    expect(refused(nest(200, 'leaf'))).toBe(false);
    expect(refused({ many: Array.from({ length: 5000 }, (_, i) => ({ i, text: `t${i}` })) })).toBe(false);
  });

  it('agrees with the definition on arbitrary strings and JSON values', () => {
    fc.assert(
      fc.property(fc.string({ unit }), fc.string({ unit }), (key, text) => {
        const expected = UNSTORABLE.test(key) || UNSTORABLE.test(text);
        expect(refused({ outer: [{ [key]: text }] })).toBe(expected);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: unit }), (value) => {
        expect(refused(value)).toBe(strings(value).some((text) => UNSTORABLE.test(text)));
      }),
      { numRuns: 300 },
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateSigningKey, type JwtKey } from '../src/entries/jwt.js';
import { VerifiedTokenCache } from '../src/jwt/cache.js';

/**
 * The verified-token cache against a plain reference model (an array in recency order): same
 * answers and same evictions for any sequence of inserts, hits, expiries and key retirements.
 */
describe('verified-token cache: an LRU bounded by size, ending at exp and with its key', () => {
  it('behaves like the reference model for random operation sequences', async () => {
    const keyA = await generateSigningKey('HS256', { kid: 'a' });
    const keyB = await generateSigningKey('HS256', { kid: 'b' });
    const operation = fc.oneof(
      fc.record({
        kind: fc.constant('set' as const),
        token: fc.integer({ min: 0, max: 12 }),
        ttl: fc.integer({ min: 1, max: 5 }),
        b: fc.boolean(),
      }),
      fc.record({ kind: fc.constant('get' as const), token: fc.integer({ min: 0, max: 12 }) }),
      fc.record({ kind: fc.constant('tick' as const) }),
      fc.record({ kind: fc.constant('retire' as const) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(operation, { maxLength: 120 }), (capacity, operations) => {
        const cache = new VerifiedTokenCache<number>(capacity);
        type ModelEntry = { token: string; value: number; expiresAt: number; key: JwtKey };
        const model: ModelEntry[] = []; // oldest first
        let now = 0;
        let retiredB = false;
        const current = (kid: string) => (kid === 'a' ? keyA : retiredB ? undefined : keyB);
        let counter = 0;
        for (const op of operations) {
          if (op.kind === 'tick') now++;
          else if (op.kind === 'retire') retiredB = true;
          else if (op.kind === 'set') {
            const token = `t${op.token}`;
            const key = op.b && !retiredB ? keyB : keyA;
            const value = counter++;
            cache.set(token, value, now + op.ttl, key);
            const existing = model.findIndex((e) => e.token === token);
            if (existing !== -1) model.splice(existing, 1);
            else if (model.length >= capacity) model.shift();
            model.push({ token, value, expiresAt: now + op.ttl, key });
          } else {
            const token = `t${op.token}`;
            const index = model.findIndex((e) => e.token === token);
            let expected: number | undefined;
            if (index !== -1) {
              const entry = model[index] as ModelEntry;
              model.splice(index, 1);
              if (now < entry.expiresAt && current(entry.key.kid) === entry.key) {
                expected = entry.value;
                model.push(entry);
              }
            }
            expect(cache.get(token, now, current)).toBe(expected);
          }
          expect(cache.size).toBe(model.length);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a full cache of 10 000 tokens keeps serving hits and has evicted the oldest', async () => {
    const key = await generateSigningKey('HS256');
    const cache = new VerifiedTokenCache<number>(10_000);
    for (let i = 0; i < 12_000; i++) cache.set(`token-${i}.${'x'.repeat(300)}`, i, 1_000, key);
    expect(cache.size).toBe(10_000);
    const token = `token-11999.${'x'.repeat(300)}`;
    for (let i = 0; i < 10_000; i++) expect(cache.get(token, 0, () => key)).toBe(11_999);
    expect(cache.get(`token-0.${'x'.repeat(300)}`, 0, () => key)).toBeUndefined();
  });
});

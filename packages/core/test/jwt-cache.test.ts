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
    // As JWTs: a long shared start, the signature at the end.
    const token = (i: number) => `${'x'.repeat(300)}.signature-${String(i).padStart(40, '0')}`;
    for (let i = 0; i < 12_000; i++) cache.set(token(i), i, 1_000, key);
    expect(cache.size).toBe(10_000);
    for (let i = 0; i < 10_000; i++) expect(cache.get(token(11_999), 0, () => key)).toBe(11_999);
    expect(cache.get(token(0), 0, () => key)).toBeUndefined();
  });

  it('answers only for the exact token: one that ends as a cached token does is no hit', async () => {
    const key = await generateSigningKey('HS256');
    const cache = new VerifiedTokenCache<string>(10);
    const signature = 'S'.repeat(86);
    const verified = `header.${'a'.repeat(200)}.${signature}`;
    cache.set(verified, 'verified', 1_000, key);
    // The map is keyed by the end of the token: a changed header or payload must still miss.
    for (const other of [`header.${'b'.repeat(200)}.${signature}`, `Header.${'a'.repeat(200)}.${signature}`]) {
      expect(cache.get(other, 0, () => key)).toBeUndefined();
    }
    expect(cache.get(`${verified}x`, 0, () => key)).toBeUndefined();
    expect(cache.get(verified.slice(1), 0, () => key)).toBeUndefined();
    // The misses did not drop the verified token.
    expect(cache.get(verified, 0, () => key)).toBe('verified');
    // Another verified token with the same end takes the entry over; the first is then a miss.
    const second = `header.${'c'.repeat(200)}.${signature}`;
    cache.set(second, 'second', 1_000, key);
    expect(cache.size).toBe(1);
    expect(cache.get(second, 0, () => key)).toBe('second');
    expect(cache.get(verified, 0, () => key)).toBeUndefined();
  });
});

/// <reference types="node" />
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { typeDiagnostics } from '../../../test-support/type-check.js';

// vitest runs the type tests' code but not their types: this compiles them with core's tsconfig,
// so a type that stops narrowing, or a `@ts-expect-error` line that stops erring, fails a test
// that CI counts (as well as `pnpm typecheck`).
const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));
const typeTests = [here('events-types.test.ts'), here('cookie-types.test.ts')];
/** A file that must not compile, to show the check can fail. */
const control = here('__type-control__.ts');
const controlText = `import type { CookieOptions, SessionEvent } from '../src/index.js';
export const cookie: CookieOptions = { name: '__Host-sid', domain: 'example.com' };
export const previous = (event: SessionEvent) => event.previousSidHash;
`;

describe('type tests', () => {
  it('compile without a diagnostic, and a file breaking the same rules does not', { timeout: 120_000 }, () => {
    const report = typeDiagnostics({
      tsconfig: here('../tsconfig.json'),
      files: typeTests,
      virtual: { [control]: controlText },
    });
    for (const file of typeTests) expect(report.get(file), file).toEqual([]);
    const errors = report.get(control) ?? [];
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^2: TS2322 .*__Host-sid/);
    expect(errors[1]).toMatch(/^3: TS2339 Property 'previousSidHash' does not exist/);
  });
});

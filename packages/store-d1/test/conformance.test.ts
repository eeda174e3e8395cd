/**
 * Core's store conformance suite (refresh families and the secret-at-rest dump included) run
 * INSIDE workerd against miniflare's local D1: fixtures/conformance-worker.ts is bundled with the
 * suite and `vitest` mapped to a small shim, the Worker lists its cases and runs them, and each
 * case is one vitest test here that fails with the Worker's message. The raw dump reads D1's
 * SQLite files from disk (free pages and WAL included) through a binding served from Node.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShimCase, ShimResult } from '../../hono/test/core-on-runtimes/vitest-shim.js';
import { bundleWorker, type D1Worker, shim, startD1Worker, workerdMissing, workerdVersion } from './support.js';

const here = dirname(fileURLToPath(import.meta.url));
const onCi = process.env.CI === 'true';
const RUN_MS = 240_000;
const missing = workerdMissing();

if (missing && !onCi) {
  describe.skip(`D1Store conformance inside workerd: skipped, ${missing}`, () => {
    it('not run', () => {});
  });
} else {
  if (missing) throw new Error(`D1Store conformance: ${missing} (CI)`);
  // The cases are listed by the Worker itself before vitest collects them, so each is its own test.
  const worker: D1Worker = await startD1Worker(
    await bundleWorker(join(here, 'fixtures', 'conformance-worker.ts'), { vitest: shim }),
  );
  const cases = (await (await fetch(`${worker.url}/cases`)).json()) as Array<{ name: string; skip: boolean }>;

  describe(`D1Store conformance inside workerd ${workerdVersion()} (miniflare, local D1)`, () => {
    let outcomes: ShimCase[] = [];
    beforeAll(async () => {
      const response = await fetch(`${worker.url}/run`, { method: 'POST', signal: AbortSignal.timeout(RUN_MS) });
      expect(response.status).toBe(200);
      const result = (await response.json()) as ShimResult;
      outcomes = result.cases;
      console.info(`D1Store in workerd: ${result.passed} passed, ${result.failed} failed, ${result.skipped} skipped`);
    }, RUN_MS);
    afterAll(() => worker.dispose());

    it('lists the whole suite, refresh families, the secret-at-rest dump and markOnce included', () => {
      expect(cases.length).toBeGreaterThan(60);
      expect(cases.some((c) => /refresh/i.test(c.name))).toBe(true);
      expect(cases.filter((c) => /markOnce conformance/.test(c.name)).length).toBeGreaterThanOrEqual(6);
      expect(cases.find((c) => /A5/.test(c.name))?.skip).toBe(false);
      expect(cases.filter((c) => c.skip)).toEqual([]);
    });

    cases.forEach((listed, index) => {
      it(listed.name.replace(/^store conformance: /, ''), () => {
        const outcome = outcomes[index];
        expect(outcome?.name).toBe(listed.name);
        if (outcome?.status === 'failed') throw new Error(`in workerd: ${outcome.message}`);
        expect(outcome?.status).toBe('passed');
      });
    });
  });
}

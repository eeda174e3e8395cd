import type { TestProject } from 'vitest/node';
import { buildFixtureApp } from './support/fixture-build.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The fixture app's build folder for this run, relative to the app (its `distDir`). */
    fixtureDistDir: string;
  }
}

/** `next build` of the fixture app, once for every test file of the package; removed afterwards. */
export default async function setup(project: TestProject): Promise<() => void> {
  const build = await buildFixtureApp();
  project.provide('fixtureDistDir', build.distDir);
  return build.remove;
}

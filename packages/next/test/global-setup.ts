import { buildFixtureApp } from './support/fixture-build.js';

/** `next build` of the fixture app, once for every test file of the package. */
export default async function setup(): Promise<void> {
  await buildFixtureApp();
}

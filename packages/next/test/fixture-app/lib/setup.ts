import type { SessionStore } from '@org/session-core';
import type { CsrfSettings } from '@org/session-core/csrf';
import type { DbscOptions } from '@org/session-core/dbsc';
import type { JwtKeySet, SessionJwtClaims } from '@org/session-core/jwt';
import type { DpopServerInput } from '@org/session-core/testing/vitest';

/**
 * What a test hands the fixture app, which Next serves in the test's own process: the parts of
 * the test's session manager (its store, clock and event hook), so the suite's clock, store
 * instrumentation and events see every request the app handles.
 */
export interface FixtureSetup {
  store: SessionStore;
  clock: { now(): number };
  onEvent?: (event: never) => void;
  storeTimeoutMs?: number;
  policy?: { idleTimeoutMs: number; absoluteTimeoutMs: number; touchIntervalMs?: number };
  csrf: CsrfSettings;
  /** Hybrid mode: the parts of the test's session JWT (the app makes its own hybrid sessions from them). */
  hybrid?: { keys: JwtKeySet; issuer: string; audience: string; ttlSeconds: number };
  /** DBSC on the /dbsc/* routes (lib/dbsc.ts), with the test's options. */
  dbsc?: DbscOptions;
  /** DPoP on the /dpop/* routes (lib/dpop.ts): the verifier and app handlers of core's DPoP HTTP suite. */
  dpop?: DpopServerInput;
  /** Verifies bearer session JWTs on the JSON API route. */
  jwtVerifier?: { verify(token: string): Promise<Readonly<SessionJwtClaims>> };
}

export const SETUP_KEY = Symbol.for('org-session-next.fixture');

export function fixtureSetup(): FixtureSetup | undefined {
  return (globalThis as Record<symbol, FixtureSetup | undefined>)[SETUP_KEY];
}

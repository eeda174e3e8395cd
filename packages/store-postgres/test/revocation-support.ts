// What the revocation tests need around a channel: bounded waits, verifier outcomes as codes, and
// a rig of manager, session JWTs, revocation list and verifier wired to a publisher and a listener.
import {
  createSessionManager,
  isSessionError,
  type RevocationChannel,
  type RevocationEvent,
  type SessionStore,
} from '@org/session-core';
import {
  createJwtKeySet,
  createJwtVerifier,
  createRevocationList,
  createSessionJwt,
  generateSigningKey,
} from '@org/session-core/jwt';

export const ISSUER = 'https://auth.test';

/** Polls `check` every 5 ms until it holds (answers how long that took) or `limitMs` passes (throws). */
export async function until(check: () => boolean | Promise<boolean>, limitMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    if (await check()) return performance.now() - started;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`condition not met within ${limitMs} ms`);
}

/** 'accepted', or the code of the SessionError the verification was refused with. */
export async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'accepted';
  } catch (error) {
    if (isSessionError(error)) return error.code;
    throw error;
  }
}

/** A channel the rig closes after the test. */
export type ClosableChannel = RevocationChannel & { close(): Promise<void> };

export interface RevocationRigOptions {
  store: SessionStore;
  /** The channel the manager publishes on. */
  publisher: ClosableChannel;
  /** The channel the verifier's revocation list listens on. */
  listener: ClosableChannel;
  /** Session JWT lifetime, and how long the list remembers a notice. Default 300 s. */
  ttlSeconds?: number;
  /** Where the rig registers what must be closed after the test, in order of opening. */
  closers: (() => Promise<unknown>)[];
}

/**
 * A manager publishing on `publisher`, session JWTs it issues, and a verifier whose revocation
 * list listens on `listener`; resolves once the list is listening.
 */
export async function revocationRig(options: RevocationRigOptions) {
  const manager = createSessionManager({ store: options.store, revocation: { channel: options.publisher } });
  const keys = createJwtKeySet({ active: await generateSigningKey() });
  const ttlSeconds = options.ttlSeconds ?? 300;
  const jwts = createSessionJwt({
    manager,
    keys,
    issuer: ISSUER,
    audience: 'api',
    ttlSeconds,
    clockToleranceSeconds: 0,
  });
  const events: RevocationEvent[] = [];
  const list = createRevocationList({
    channel: options.listener,
    retainSeconds: ttlSeconds,
    onEvent: (e) => events.push(e),
  });
  options.closers.push(
    () => options.publisher.close(),
    () => list.close(),
    () => options.listener.close(),
  );
  await list.ready();
  const verifier = createJwtVerifier({
    keys: createJwtKeySet({ verifyOnly: [keys.active] }),
    issuer: ISSUER,
    audience: 'api',
    maxTokenAgeSeconds: ttlSeconds,
    clockToleranceSeconds: 0,
    revocations: list,
  });
  return { manager, jwts, verifier, list, events };
}

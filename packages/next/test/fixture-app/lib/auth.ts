import { createSessionManager, MemoryStore, type SessionManager } from '@org/session-core';
import { createHybridSessions, createSessionJwt } from '@org/session-core/jwt';
import { type NextSessions, nextSessions } from '@org/session-next';
import { type FixtureSetup, fixtureSetup } from './setup';

let made: NextSessions | undefined;

/** The app's adapter, made on first use from the test's setup (`next build` collects pages without one). */
export function auth(): NextSessions {
  if (made) return made;
  const setup = fixtureSetup() ?? standaloneSetup();
  if (!setup) {
    if (process.env.NEXT_PHASE === 'phase-production-build') {
      return nextSessions(createSessionManager({ store: new MemoryStore() }));
    }
    throw new Error('The fixture app runs inside a test that provides its setup (see test/support/next-server.ts)');
  }
  const manager: SessionManager = createSessionManager({
    store: setup.store,
    clock: setup.clock,
    onEvent: setup.onEvent as never,
    storeTimeoutMs: setup.storeTimeoutMs,
    ...(setup.policy ? { policy: setup.policy } : {}),
  });
  const hybrid = setup.hybrid
    ? createHybridSessions({ jwt: createSessionJwt({ manager, ...setup.hybrid }) })
    : undefined;
  made = nextSessions(manager, { csrf: setup.csrf, hybrid, trustLoopbackHost: true });
  return made;
}

type RouteHandler = (request: import('next/server').NextRequest, context: never) => Promise<Response>;

/** A route made on first request (the adapter needs the test's setup, which `next build` has not). */
export function lazy(make: (sessions: NextSessions) => RouteHandler): RouteHandler {
  let handler: RouteHandler | undefined;
  return (request, context) => {
    handler ??= make(auth());
    return handler(request, context);
  };
}

/** A JSON 404 that does not echo the URL (it may hold a token). */
export const notFound = async () => Response.json({ message: 'Not found' }, { status: 404 });

/** The request's JSON or url-encoded body. */
export async function body(request: Request): Promise<Record<string, unknown>> {
  if (request.headers.get('content-type')?.startsWith('application/json')) {
    return (await request.json()) as Record<string, unknown>;
  }
  return Object.fromEntries(await request.formData());
}

/**
 * Under the real `next start` CLI (a child process: no test can hand it objects), a MemoryStore on
 * the real clock, with the CSRF key and allowed origin from the environment.
 */
function standaloneSetup(): FixtureSetup | undefined {
  const key = process.env.FIXTURE_CSRF_KEY;
  const origin = process.env.FIXTURE_ORIGIN;
  if (process.env.FIXTURE_STANDALONE !== '1' || !key || !origin) return undefined;
  return {
    store: new MemoryStore(),
    clock: { now: () => Date.now() },
    csrf: {
      key: Uint8Array.from(key.match(/../g) ?? [], (byte) => Number.parseInt(byte, 16)),
      allowedOrigins: [origin],
    },
  };
}

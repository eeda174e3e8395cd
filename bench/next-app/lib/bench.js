// The sessions of the bench's Next server, made on the first request (never during `next build`):
// ours on the memory store or on Redis (BENCH_NEXT_STORE, REDIS_URL, BENCH_NEXT_PREFIX), and
// iron-session's options, all set by bench/next.ts for each `next start` process.
import { createSessionManager, MemoryStore } from '@org/session-core';
import { nextSessions } from '@org/session-next';

export const USER = 'u_1234';

/** The JSON every bench route answers, as on the other frameworks. */
export function reply(user, n) {
  return Response.json({
    hello: 'world',
    user: typeof user === 'string' ? user : null,
    ...(typeof n === 'number' ? { n } : {}),
  });
}

// One adapter per process, kept on globalThis: webpack bundles proxy.ts and the app separately, and a
// module-level store would give the proxy an empty store of its own.
const shared = Symbol.for('org.bench.next.sessions');

/** Our adapter on the store this process was started with. */
export async function auth() {
  if (globalThis[shared]) return globalThis[shared];
  globalThis[shared] = (async () => {
    let store = new MemoryStore();
    if (process.env.BENCH_NEXT_STORE === 'redis') {
      const { RedisStore } = await import('@org/session-store-redis');
      store = new RedisStore({ url: process.env.REDIS_URL, prefix: process.env.BENCH_NEXT_PREFIX });
    }
    // Plain http on loopback in production mode: `next start` hands handlers no peer address.
    return nextSessions(createSessionManager({ store }), { trustLoopbackHost: true });
  })();
  return globalThis[shared];
}

/** A route handler wrapped by our adapter, made on the first request. */
export function ourRoute(handler) {
  let route;
  return async (request, context) => {
    if (!route) {
      const sessions = await auth();
      route = sessions.route((req) => handler(sessions, req));
    }
    return route(request, context);
  };
}

export const ironOptions = {
  password: process.env.BENCH_SECRET ?? 'bench-secret-bench-secret-bench-secret!',
  cookieName: 'iron',
  cookieOptions: { secure: false, sameSite: 'lax' },
};

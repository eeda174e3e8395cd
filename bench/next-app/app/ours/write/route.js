import { ourRoute, reply } from '../../../lib/bench.js';

export const dynamic = 'force-dynamic';

// A session write: a merge that increments the counter (one store round trip after the read).
export const GET = ourRoute(async (auth) => {
  const session = await auth.getSession();
  if (!session) return reply(null);
  const updated = await auth.manager.update(session, (data) => ({ ...data, n: (data.n ?? 0) + 1 }));
  return reply(session.userId, updated.data.n);
});

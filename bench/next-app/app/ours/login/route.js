import { ourRoute, USER } from '../../../lib/bench.js';

export const dynamic = 'force-dynamic';

// Where the bench's browsers get their session cookies (no CSRF check: bench-only, loopback).
export const POST = ourRoute(async (auth) => {
  await auth.login({ userId: USER, data: { role: 'member', n: 0 } });
  return Response.json({ ok: true });
});

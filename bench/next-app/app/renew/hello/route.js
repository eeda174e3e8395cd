import { ourRoute, reply } from '../../../lib/bench.js';

export const dynamic = 'force-dynamic';

// The same read behind proxy.ts, which validates the session first and re-sends its cookie when it renews it.
export const GET = ourRoute(async (auth) => reply((await auth.getSession())?.userId));

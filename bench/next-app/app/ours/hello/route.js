import { ourRoute, reply } from '../../../lib/bench.js';

export const dynamic = 'force-dynamic';

// A session read in a route handler (outside the proxy's matcher).
export const GET = ourRoute(async (auth) => reply((await auth.getSession())?.userId));

import { getIronSession } from 'iron-session';
import { cookies } from 'next/headers';
import { ironOptions, reply } from '../../../lib/bench.js';

export const dynamic = 'force-dynamic';

// iron-session's read in a route handler, as its README shows for the App Router.
export async function GET() {
  const session = await getIronSession(await cookies(), ironOptions);
  return reply(session.user);
}

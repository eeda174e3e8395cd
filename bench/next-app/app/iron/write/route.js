import { getIronSession } from 'iron-session';
import { cookies } from 'next/headers';
import { ironOptions, reply } from '../../../lib/bench.js';

export const dynamic = 'force-dynamic';

// iron-session's write: the counter goes up and the sealed cookie is sent again.
export async function GET() {
  const session = await getIronSession(await cookies(), ironOptions);
  if (typeof session.user !== 'string') return reply(null);
  session.n = (session.n ?? 0) + 1;
  await session.save();
  return reply(session.user, session.n);
}

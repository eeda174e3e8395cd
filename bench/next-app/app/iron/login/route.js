import { getIronSession } from 'iron-session';
import { cookies } from 'next/headers';
import { ironOptions, USER } from '../../../lib/bench.js';

export const dynamic = 'force-dynamic';

export async function POST() {
  const session = await getIronSession(await cookies(), ironOptions);
  Object.assign(session, { user: USER, role: 'member', n: 0 });
  await session.save();
  return Response.json({ ok: true });
}

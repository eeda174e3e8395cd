import { reply, USER } from '../../../lib/bench.js';

export const dynamic = 'force-dynamic';

// The floor: a route handler and its JSON, no session.
export function GET() {
  return reply(USER);
}

import { reply, USER } from '../../../lib/bench.js';

export const dynamic = 'force-dynamic';

// The bare route behind an empty proxy.ts: what Next's proxy costs by itself, without a session.
export function GET() {
  return reply(USER);
}

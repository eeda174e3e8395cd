import { NextResponse } from 'next/server';
import { auth } from './lib/bench.js';

let guard;

// Next 16's proxy (Node runtime). On /renew it validates the session and re-sends its cookie when
// the touch interval has passed; nothing is protected, so the route behind it answers anonymous
// visitors too. On /noop it does nothing: the floor of a request through the proxy.
export async function proxy(request) {
  if (request.nextUrl.pathname.startsWith('/noop/')) return NextResponse.next();
  guard ??= (await auth()).proxy({ protect: [] });
  return guard(request);
}

export const config = { matcher: ['/renew/:path*', '/noop/:path*'] };

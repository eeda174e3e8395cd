import type { NextRequest } from 'next/server';
import { auth } from './lib/auth';

let guard: ((request: NextRequest) => Promise<Response>) | undefined;

/** Next 16's proxy (Node runtime): renews the session cookie on every page it matches, guards /account. */
export function proxy(request: NextRequest): Promise<Response> {
  guard ??= auth().proxy({ protect: ['/account'], loginPath: '/signin', preSessionPaths: ['/signin'] });
  return guard(request);
}

// Pages only: the JSON routes renew through their own handlers (auth.route).
export const config = { matcher: ['/account/:path*', '/signin'] };

import type { NextRequest } from 'next/server';
import { demo } from './lib/demo';

/**
 * Next 16's proxy (Node runtime): starts the CSRF pre-session for the login and sign-up forms (a
 * route's page cannot set it before the form renders) and sends a dead cookie's deletion there.
 * The other pages validate in their own handler, which slides the idle deadline in the store and
 * sees an idled-out session as expired (to say so); the cookie's lifetime never depends on it.
 */
export async function proxy(request: NextRequest): Promise<Response> {
  renew ??= (await demo()).auth.proxy({ protect: [], loginPath: '/login', preSessionPaths: ['/login', '/signup'] });
  return renew(request);
}

let renew: ((request: NextRequest) => Promise<Response>) | undefined;

export const config = { matcher: ['/login', '/signup'] };

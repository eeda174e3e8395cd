import { SessionError } from '@org/session-core';
import { handle } from '../../../lib/demo';

export const dynamic = 'force-dynamic';

// A session JWT from the cookie session: a same-origin POST with the CSRF token (x-csrf-token).
export const POST = handle(async (_request, { auth, services }) => {
  await auth.verifyCsrf();
  const result = await auth.getSessionResult();
  if (result.status !== 'valid') throw result.error ?? new SessionError('UNAUTHENTICATED');
  const { token, expiresAt } = await services.jwts.issue(result.session);
  return Response.json({ jwt: token, expiresAt }, { headers: { 'cache-control': 'no-store' } });
});

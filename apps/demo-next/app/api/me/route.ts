import { SessionError } from '@org/session-core';
import { readBearerToken } from '@org/session-core/adapter';
import { handle } from '../../../lib/demo';

export const dynamic = 'force-dynamic';

// Only the session JWT, verified strictly so a revoked session loses access at once.
export const GET = handle(async (request, { services }) => {
  const token = readBearerToken(request.headers.get('authorization') ?? undefined);
  if (!token) throw new SessionError('UNAUTHENTICATED');
  const claims = await services.jwts.verify(token, { strict: true });
  const user = services.users.findById(claims.sub);
  if (!user) throw new SessionError('UNAUTHENTICATED');
  const { iss, aud, iat, exp, auth_time } = claims;
  return Response.json(
    { user: { id: user.id, email: user.email }, jwt: { iss, aud, iat, exp, auth_time } },
    { headers: { 'cache-control': 'no-store' } },
  );
});

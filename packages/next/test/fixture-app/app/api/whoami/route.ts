import { lazy } from '../../../lib/auth';
import { fixtureSetup } from '../../../lib/setup';

export const GET = lazy((auth) =>
  auth.api(
    async (_request, caller) =>
      Response.json({ via: caller.via, userId: caller.session?.userId ?? caller.claims?.sub ?? null }),
    { jwt: fixtureSetup()?.jwtVerifier },
  ),
);

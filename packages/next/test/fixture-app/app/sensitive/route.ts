import { lazy } from '../../lib/auth';

export const GET = lazy((auth) =>
  auth.route(async () => Response.json({ userId: (await auth.getSession())?.userId }), { session: { strict: true } }),
);

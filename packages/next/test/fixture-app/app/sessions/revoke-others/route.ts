import { lazy } from '../../../lib/auth';

export const POST = lazy((auth) =>
  auth.route(
    async () => {
      const session = await auth.requireSession();
      return Response.json({ revoked: await auth.manager.revokeAll(session.userId, { except: session.id }) });
    },
    { session: true, csrf: true },
  ),
);

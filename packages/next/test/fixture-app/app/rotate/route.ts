import { lazy } from '../../lib/auth';

export const POST = lazy((auth) =>
  auth.route(
    async () => {
      const session = await auth.rotate({ reauthenticated: true });
      return Response.json({ userId: session.userId });
    },
    { session: true, csrf: true },
  ),
);

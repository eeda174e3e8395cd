import { lazy } from '../../lib/auth';

export const POST = lazy((auth) =>
  auth.route(
    async () => {
      await auth.logout();
      return Response.json({ ok: true });
    },
    { csrf: true },
  ),
);

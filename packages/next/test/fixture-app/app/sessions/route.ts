import { lazy } from '../../lib/auth';

export const GET = lazy((auth) =>
  auth.route(
    async () => {
      const current = await auth.requireSession();
      const sessions = await auth.manager.list(current.userId);
      return Response.json({ sessions: sessions.map((s) => ({ id: s.id, current: s.id === current.id })) });
    },
    { session: true },
  ),
);

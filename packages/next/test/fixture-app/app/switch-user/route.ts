import { body, lazy } from '../../lib/auth';

export const POST = lazy((auth) =>
  auth.route(
    async (request) => {
      const input = await body(request);
      await auth.rotate();
      const session = await auth.login({ userId: String(input.userId) });
      return Response.json({ userId: session.userId });
    },
    { session: true, csrf: true },
  ),
);

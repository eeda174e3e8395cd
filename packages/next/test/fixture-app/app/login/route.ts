import { body, lazy } from '../../lib/auth';

export const POST = lazy((auth) =>
  auth.route(
    async (request) => {
      const input = await body(request);
      const session = await auth.login({ userId: String(input.userId), persistent: input.persistent === true });
      return Response.json({ userId: session.userId });
    },
    { csrf: true },
  ),
);

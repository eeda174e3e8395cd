import { SessionError } from '@org/session-core';
import { lazy } from '../../../lib/auth';

type Context = { params: Promise<{ id: string }> };

export const DELETE = lazy(
  (auth) =>
    auth.route<Context>(
      async (_request, { params }) => {
        const session = await auth.requireSession();
        // Another user's session is not found, like an unknown one (E5): revoke says false.
        if (!(await auth.manager.revoke((await params).id, { userId: session.userId }))) {
          throw new SessionError('SESSION_NOT_FOUND');
        }
        return new Response(null, { status: 204 });
      },
      { session: true, csrf: true },
    ) as never,
);

import { sessionViews } from 'demo-shared/services';
import { sessionsPage } from 'demo-shared/views';
import { handle, html, signedIn } from '../../lib/demo';

export const dynamic = 'force-dynamic';

export const GET = handle(async (request, demo) => {
  const who = await signedIn(demo);
  if (who instanceof Response) return who;
  const { services, auth } = demo;
  const done = request.nextUrl.searchParams.get('done');
  const notice =
    done === 'revoked' ? 'That device is logged out.' : done === 'others' ? 'Every other session is logged out.' : null;
  return html(
    sessionsPage({
      csrfToken: await auth.csrfToken(),
      email: who.user.email,
      sessions: await sessionViews(services, who.user.id, who.session.id),
      policy: services.expiryPolicy,
      now: services.clock.now(),
      notice,
    }),
  );
});

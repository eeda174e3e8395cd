import { accountPage } from 'demo-shared/views';
import { handle, html, signedIn } from '../../lib/demo';

export const dynamic = 'force-dynamic';

export const GET = handle(async (request, demo) => {
  const who = await signedIn(demo);
  if (who instanceof Response) return who;
  const { services, auth } = demo;
  const reauthAfterMs = services.expiryPolicy.reauthAfterMs;
  const done = request.nextUrl.searchParams.get('done');
  const notice =
    done === 'password'
      ? 'Password changed; every other session is logged out.'
      : done === 'confirmed'
        ? 'Thanks, you can go ahead now.'
        : null;
  return html(
    accountPage({
      csrfToken: await auth.csrfToken(),
      email: who.user.email,
      fresh: services.manager.isFresh(who.session, reauthAfterMs),
      freshUntil: who.session.authenticatedAt + reauthAfterMs,
      now: services.clock.now(),
      notice,
    }),
  );
});

import { accountPage } from 'demo-shared/views';
import { formOf, freshUser, handle, html, seeOther } from '../../../lib/demo';

export const dynamic = 'force-dynamic';

export const POST = handle(async (request, demo) => {
  const form = await formOf(request);
  await demo.auth.verifyCsrf(form);
  const who = await freshUser(demo, request.nextUrl.pathname);
  if (who instanceof Response) return who;
  const { services, auth } = demo;
  const problem = await services.users.changePassword(who.user.id, form.newPassword);
  if (problem) {
    const page = accountPage({
      csrfToken: await auth.csrfToken(),
      email: who.user.email,
      fresh: true,
      freshUntil: who.session.authenticatedAt + services.expiryPolicy.reauthAfterMs,
      now: services.clock.now(),
      problem,
    });
    return html(page, 400);
  }
  // A new password is a privilege change: new token for this device, every other session ends.
  const rotated = await auth.rotate();
  await services.manager.revokeAll(who.user.id, { except: rotated.id, reason: 'password_changed' });
  return seeOther('/account?done=password');
});

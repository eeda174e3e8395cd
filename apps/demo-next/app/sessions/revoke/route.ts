import { revokeByHandle } from 'demo-shared/services';
import { messagePage } from 'demo-shared/views';
import { formOf, handle, html, seeOther, signedIn } from '../../../lib/demo';

export const dynamic = 'force-dynamic';

export const POST = handle(async (request, demo) => {
  const form = await formOf(request);
  await demo.auth.verifyCsrf(form);
  const who = await signedIn(demo);
  if (who instanceof Response) return who;
  const { services, auth } = demo;
  if (form.session === services.sessionHandle(who.session.id)) {
    await auth.logout();
    return seeOther('/login?reason=logged-out');
  }
  if (!(await revokeByHandle(services, who.user.id, form.session))) {
    const page = messagePage({
      title: 'No such session',
      message: 'That session does not exist or is already gone.',
      csrfToken: await auth.csrfToken(),
      email: who.user.email,
    });
    return html(page, 404);
  }
  return seeOther('/sessions?done=revoked');
});

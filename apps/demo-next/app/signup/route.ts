import { STALE_FORM_NOTICE, staleAuthForm } from 'demo-shared/errors';
import { clientMetadata } from 'demo-shared/services';
import { signupPage } from 'demo-shared/views';
import { formOf, handle, html, seeOther } from '../../lib/demo';

export const dynamic = 'force-dynamic';

export const GET = handle(async (_request, { auth }) => {
  if (await auth.getSession()) return seeOther('/sessions');
  return html(signupPage({ csrfToken: await auth.csrfToken() }));
});

export const POST = handle(async (request, { auth, services }) => {
  const form = await formOf(request);
  try {
    await auth.verifyCsrf(form);
  } catch (error) {
    if (!staleAuthForm(error, 'POST', '/signup', form._csrf)) throw error;
    return html(
      signupPage({ csrfToken: await auth.csrfToken(), email: form.email ?? '', notice: STALE_FORM_NOTICE }),
      409,
    );
  }
  const result = await services.users.signUp(form.email, form.password, services.clock.now());
  if (!result.ok) {
    const page = signupPage({ csrfToken: await auth.csrfToken(), email: form.email ?? '', problem: result.problem });
    return html(page, 400);
  }
  await auth.login({ userId: result.user.id, metadata: clientMetadata(request.headers.get('user-agent'), null) });
  return seeOther('/sessions');
});

import { STALE_FORM_NOTICE, staleAuthForm } from 'demo-shared/errors';
import { clientMetadata } from 'demo-shared/services';
import { loginPage } from 'demo-shared/views';
import { loginNotice } from 'demo-shared/web';
import { countAttempt, formOf, handle, html, seeOther } from '../../lib/demo';

export const dynamic = 'force-dynamic';

export const GET = handle(async (request, { auth, services }) => {
  const session = await auth.getSession();
  const signedInAs = session ? services.users.findById(session.userId)?.email : undefined;
  const reason = request.nextUrl.searchParams.get('reason');
  const notice = loginNotice(reason, signedInAs);
  return html(loginPage({ csrfToken: await auth.csrfToken(), notice, signedInAs }));
});

export const POST = handle(async (request, { auth, services }) => {
  const form = await formOf(request);
  try {
    await auth.verifyCsrf(form);
  } catch (error) {
    // A same-origin form made stale by another tab: a fresh form, not a refusal.
    if (!staleAuthForm(error, 'POST', '/login', form._csrf)) throw error;
    return html(
      loginPage({ csrfToken: await auth.csrfToken(), email: form.email ?? '', notice: STALE_FORM_NOTICE }),
      409,
    );
  }
  // Counted before the password is checked: past the limit, 429 with Retry-After and no scrypt work.
  const attempt = await countAttempt(services, form.email ?? '');
  const user = await services.users.authenticate(form.email, form.password);
  if (!user) {
    const page = loginPage({
      csrfToken: await auth.csrfToken(),
      email: form.email ?? '',
      problem: 'Wrong email or password.',
    });
    return html(page, 401);
  }
  await services.throttle.succeeded(attempt);
  await auth.login({
    userId: user.id,
    metadata: clientMetadata(request.headers.get('user-agent'), null),
    persistent: form.remember === '1',
  });
  return seeOther('/sessions');
});

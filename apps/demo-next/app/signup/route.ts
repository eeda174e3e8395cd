import { STALE_FORM_NOTICE, staleAuthForm } from 'demo-shared/errors';
import { signupPage } from 'demo-shared/views';
import { SIGNUP_SENT_PATH, sendSignUpMail } from 'demo-shared/web';
import { countAttempt, formOf, handle, html, seeOther } from '../../lib/demo';

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
  // Sign-ups count per e-mail, apart from the logins of that e-mail.
  await countAttempt(services, `signup:${form.email ?? ''}`);
  const result = await services.users.signUp(form.email, form.password, services.clock.now());
  if (!result.ok && !result.alreadyRegistered) {
    const page = signupPage({ csrfToken: await auth.csrfToken(), email: form.email ?? '', problem: result.problem });
    return html(page, 400);
  }
  // The same answer for a new and a registered e-mail (no enumeration): the rest goes by mail.
  sendSignUpMail((form.email ?? '').trim(), !result.ok);
  return seeOther(SIGNUP_SENT_PATH);
});

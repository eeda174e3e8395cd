import { safeReturnPath } from 'demo-shared/services';
import { reauthPage } from 'demo-shared/views';
import { confirmedReturnPath } from 'demo-shared/web';
import { formOf, handle, html, seeOther, signedIn } from '../../lib/demo';

export const dynamic = 'force-dynamic';

export const GET = handle(async (request, demo) => {
  const who = await signedIn(demo);
  if (who instanceof Response) return who;
  const next = safeReturnPath(request.nextUrl.searchParams.get('next'));
  return html(reauthPage({ csrfToken: await demo.auth.csrfToken(), email: who.user.email, next }));
});

export const POST = handle(async (request, demo) => {
  const form = await formOf(request);
  await demo.auth.verifyCsrf(form);
  const who = await signedIn(demo);
  if (who instanceof Response) return who;
  const next = safeReturnPath(form.next);
  if (!(await demo.services.users.checkPassword(who.user.id, form.password))) {
    const page = reauthPage({
      csrfToken: await demo.auth.csrfToken(),
      email: who.user.email,
      next,
      problem: 'Wrong password.',
    });
    return html(page, 401);
  }
  // Proving identity again resets freshness and both timeouts, under a new token.
  await demo.auth.rotate({ reauthenticated: true });
  return seeOther(confirmedReturnPath(next));
});

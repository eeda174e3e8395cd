import { formOf, handle, seeOther } from '../../lib/demo';

export const dynamic = 'force-dynamic';

export const POST = handle(async (request, { auth }) => {
  // Origin checks only: a page older than a rotation, or another tab's logout, must still log out.
  await auth.verifyCsrf(await formOf(request), { logout: true });
  await auth.logout();
  return seeOther('/login?reason=logged-out');
});

import { formOf, freshUser, handle, seeOther } from '../../../lib/demo';

export const dynamic = 'force-dynamic';

export const POST = handle(async (request, demo) => {
  await demo.auth.verifyCsrf(await formOf(request));
  const who = await freshUser(demo, request.nextUrl.pathname);
  if (who instanceof Response) return who;
  await demo.auth.logout();
  await demo.services.manager.revokeAll(who.user.id, { reason: 'account_deleted' });
  demo.services.users.deleteUser(who.user.id);
  return seeOther('/login?reason=account-deleted');
});

import { formOf, handle, seeOther, signedIn } from '../../../lib/demo';

export const dynamic = 'force-dynamic';

export const POST = handle(async (request, demo) => {
  await demo.auth.verifyCsrf(await formOf(request));
  const who = await signedIn(demo);
  if (who instanceof Response) return who;
  await demo.services.manager.revokeAll(who.user.id, { except: who.session.id });
  return seeOther('/sessions?done=others');
});

import { JWT_TTL_SECONDS } from 'demo-shared/services';
import { jwtPage } from 'demo-shared/views';
import { handle, html, signedIn } from '../../lib/demo';

export const dynamic = 'force-dynamic';

export const GET = handle(async (_request, demo) => {
  const who = await signedIn(demo);
  if (who instanceof Response) return who;
  const page = jwtPage({
    csrfToken: await demo.auth.csrfToken(),
    email: who.user.email,
    origin: demo.services.origin,
    jwtTtlSeconds: JWT_TTL_SECONDS,
  });
  return html(page);
});

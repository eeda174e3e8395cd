import { lazy } from '../../lib/auth';

export const GET = lazy((auth) => auth.route(async () => Response.json({ csrfToken: await auth.csrfToken() })));

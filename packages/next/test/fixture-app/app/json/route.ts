import { lazy } from '../../lib/auth';

export const POST = lazy((auth) =>
  auth.route(async () => Response.json({ ok: true }), { session: true, csrf: { requireJson: true } }),
);

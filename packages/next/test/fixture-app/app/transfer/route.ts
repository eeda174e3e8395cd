import { lazy, notFound } from '../../lib/auth';

export const POST = lazy((auth) => auth.route(async () => Response.json({ ok: true }), { session: true, csrf: true }));

// Only POST transfers: a GET (with method-override headers or not) is not a route (rather than Next's 405).
export const GET = notFound;

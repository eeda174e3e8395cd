import { handle } from '../../lib/demo';

export const dynamic = 'force-dynamic';

// Served at /.well-known/jwks.json (a rewrite in next.config.ts).
export const GET = handle(async (_request, { services }) =>
  Response.json(services.jwts.jwks(), { headers: { 'cache-control': 'public, max-age=300' } }),
);

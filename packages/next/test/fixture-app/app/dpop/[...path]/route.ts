import type { NextRequest } from 'next/server';
import { notFound } from '../../../lib/auth';
import { dpopRoutes } from '../../../lib/dpop';

type Context = { params: Promise<{ path: string[] }> };

/** The DPoP suite's routes, one handler per method and path (see lib/dpop.ts). */
async function handle(request: NextRequest, context: Context): Promise<Response> {
  const { path } = await context.params;
  const route = dpopRoutes()[`${request.method} /${path.join('/')}`];
  return route ? route(request, context) : notFound();
}

export const GET = handle;
export const POST = handle;

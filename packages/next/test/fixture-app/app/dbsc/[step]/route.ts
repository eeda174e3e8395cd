import type { NextRequest } from 'next/server';
import { notFound } from '../../../lib/auth';
import { dbscRoutes } from '../../../lib/dbsc';

type Context = { params: Promise<{ step: string }> };

/** The DBSC suite's routes, one handler per method and step (see lib/dbsc.ts). */
async function handle(request: NextRequest, context: Context): Promise<Response> {
  const { step } = await context.params;
  const route = dbscRoutes()[`${request.method} ${step}`];
  return route ? route(request, context) : notFound();
}

export const GET = handle;
export const POST = handle;

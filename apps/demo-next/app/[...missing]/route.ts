import { handle, notFoundPage, viewerOf } from '../../lib/demo';

export const dynamic = 'force-dynamic';

// Every path no other route serves: the demo's own 404 page, with the signed-in user's menu.
const notFound = handle(async (_request, demo) => notFoundPage(await viewerOf(demo)));

export const GET = notFound;
export const POST = notFound;

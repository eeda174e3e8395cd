import { handle, seeOther } from '../lib/demo';

export const dynamic = 'force-dynamic';

export const GET = handle(async (_request, { auth }) => seeOther((await auth.getSession()) ? '/sessions' : '/login'));

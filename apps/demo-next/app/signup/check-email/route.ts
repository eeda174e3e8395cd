import { signupSentPage } from 'demo-shared/views';
import { handle, html, viewerOf } from '../../../lib/demo';

export const dynamic = 'force-dynamic';

// Where every sign-up lands, whether its e-mail was new or already registered.
export const GET = handle(async (_request, demo) => html(signupSentPage({ viewer: await viewerOf(demo) })));

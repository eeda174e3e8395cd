import { stylesheet } from 'demo-shared/views';

export const GET = () =>
  new Response(stylesheet, { headers: { 'content-type': 'text/css', 'cache-control': 'public, max-age=300' } });

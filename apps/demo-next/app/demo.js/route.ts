import { script } from 'demo-shared/views';

export const GET = () =>
  new Response(script, { headers: { 'content-type': 'text/javascript', 'cache-control': 'public, max-age=300' } });

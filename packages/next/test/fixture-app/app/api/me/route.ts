import { answer, hostileApi } from '../../../lib/hostile';

// The hostile corpus's Bearer endpoint: the access JWT in Authorization.
export async function GET(request: Request): Promise<Response> {
  return answer(await hostileApi().me(request.headers.get('authorization') ?? undefined));
}

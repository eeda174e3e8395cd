import { answer, hostileApi } from '../../../lib/hostile';

// The hostile corpus's refresh endpoint: JSON body `{ refreshToken }` (an API route: no cookie, no CSRF).
export async function POST(request: Request): Promise<Response> {
  const body: unknown = await request.json().catch(() => null);
  return answer(await hostileApi().refresh(body));
}

import { cookies } from 'next/headers';
import { NextResponse } from 'next/server';

// Each path sends one mistake through Next's own response APIs (NextResponse, cookies()), so the
// header-lint is shown to catch it on Next's responses too.
const token = 'CCCCCCCCCCCCCCCCCCCCCC.DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD';
// Next prints SameSite as given; the policy's spelling is `Lax` (the adapter passes core's).
const good = { path: '/', secure: true, httpOnly: true, sameSite: 'Lax' as 'lax' } as const;

const noStore = (body: object | null = null) => NextResponse.json(body, { headers: { 'cache-control': 'no-store' } });

const mistakes: Record<string, () => Promise<Response>> = {
  async clean() {
    (await cookies()).set('__Host-sid', token, good);
    return noStore({ ok: true });
  },
  async 'no-httponly'() {
    (await cookies()).set('__Host-sid', token, { ...good, httpOnly: false });
    return noStore();
  },
  async 'wrong-samesite'() {
    (await cookies()).set('__Host-sid', token, { ...good, sameSite: 'strict' });
    return noStore();
  },
  async 'lowercase-samesite'() {
    (await cookies()).set('__Host-sid', token, { ...good, sameSite: 'lax' });
    return noStore();
  },
  async 'no-secure'() {
    (await cookies()).set('__Host-sid', token, { ...good, secure: false });
    return noStore();
  },
  async cacheable() {
    (await cookies()).set('__Host-sid', token, good);
    return NextResponse.json(null);
  },
  async 'token-in-body'() {
    (await cookies()).set('__Host-sid', token, good);
    return noStore({ token });
  },
  async 'token-in-location'() {
    return NextResponse.redirect(`http://127.0.0.1/home?sid=${token}`, 302);
  },
  async 'bad-deletion'() {
    (await cookies()).set('__Host-sid', '', good);
    return noStore();
  },
  async 'error-extra-field'() {
    return NextResponse.json({ error: { code: 'UNAUTHENTICATED', message: 'x', detail: 'y' } }, { status: 401 });
  },
};

export async function GET(_request: Request, { params }: { params: Promise<{ mistake: string }> }) {
  const send = mistakes[(await params).mistake];
  return send ? send() : Response.json({ message: 'Not found' }, { status: 404 });
}

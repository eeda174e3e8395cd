import { auth } from '../../lib/auth';

// Not matched by the proxy: the render validates (and may slide the store's idle deadline), but
// cannot write a cookie.
export default async function Open() {
  const session = await auth().getSession();
  return <p id="user">{session?.userId ?? 'anonymous'}</p>;
}

import { auth } from '../../lib/auth';
import { extendSession, signOut } from '../actions';

export default async function Account() {
  const session = await auth().requireSession();
  const csrf = await auth().csrfToken();
  return (
    <main>
      <p id="user">{session.userId}</p>
      <form action={extendSession}>
        <input type="hidden" name="_csrf" value={csrf} />
        <button type="submit">Extend</button>
      </form>
      <form action={signOut}>
        <input type="hidden" name="_csrf" value={csrf} />
        <button type="submit">Sign out</button>
      </form>
    </main>
  );
}

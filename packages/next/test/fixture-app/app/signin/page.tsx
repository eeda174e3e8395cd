import { auth } from '../../lib/auth';
import { signIn } from '../actions';

export default async function SignIn({ searchParams }: { searchParams: Promise<{ next?: string }> }) {
  const { next } = await searchParams;
  return (
    <form action={signIn}>
      <input type="hidden" name="_csrf" value={await auth().csrfToken()} />
      <input type="hidden" name="next" value={next ?? '/account'} />
      <input name="userId" aria-label="user" />
      <input type="checkbox" name="persistent" aria-label="remember me" />
      <button type="submit">Sign in</button>
    </form>
  );
}

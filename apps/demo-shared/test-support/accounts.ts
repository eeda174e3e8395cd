/**
 * Creating an account the way a user does in every demo: the sign-up form answers "check your
 * e-mail" (the same for a new and a registered address), then the login form starts the session.
 */
import type { ClientResponse, DemoClient } from './client.js';

/** Where every accepted sign-up is sent (demo-shared's SIGNUP_SENT_PATH). */
export const SIGNUP_SENT_PATH = '/signup/check-email';

/**
 * Signs up through the form, then logs in with the same client. Throws unless sign-up answered
 * 303 to the "check your e-mail" page; returns the login's response (303 to /sessions when it worked).
 */
export async function signUpThenLogIn(client: DemoClient, email: string, password: string): Promise<ClientResponse> {
  await client.get('/signup');
  const signup = await client.post('/signup', { email, password });
  if (signup.status !== 303 || signup.location !== SIGNUP_SENT_PATH) {
    throw new Error(`sign-up answered ${signup.status} ${signup.location ?? ''}, not 303 ${SIGNUP_SENT_PATH}`);
  }
  await client.get('/login');
  return client.post('/login', { email, password });
}

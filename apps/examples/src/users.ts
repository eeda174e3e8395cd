/** The one thing every version of the example shares: a user table and a password check. */
const users = new Map([['ada', { id: 'user-ada', password: 'correct horse battery' }]]);

export function checkPassword(body: unknown): { id: string } | null {
  const { username, password } = (body ?? {}) as { username?: unknown; password?: unknown };
  const user = typeof username === 'string' ? users.get(username) : undefined;
  return user && user.password === password ? { id: user.id } : null;
}

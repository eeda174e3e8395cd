'use server';

import { safeNextPath } from '@org/session-next';
import { redirect } from 'next/navigation';
import { auth } from '../lib/auth';

export async function signIn(form: FormData): Promise<void> {
  await auth().verifyCsrf(form);
  await auth().login({ userId: String(form.get('userId')), persistent: form.get('persistent') === 'on' });
  redirect(safeNextPath(form.get('next')));
}

export async function signOut(form: FormData): Promise<void> {
  await auth().verifyCsrf(form);
  await auth().logout();
  redirect('/signin');
}

export async function extendSession(form: FormData): Promise<void> {
  await auth().verifyCsrf(form);
  await auth().extend();
  redirect('/account');
}

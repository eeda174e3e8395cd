// The Worker variant's user accounts, in D1. A Worker has no scrypt, so passwords are hashed with
// PBKDF2-HMAC-SHA256 through Web Crypto, at 100 000 iterations: the most workerd's Web Crypto
// accepts (OWASP asks 600 000 for PBKDF2-SHA256; a production Worker would hash elsewhere or with
// a WebAssembly Argon2id). Same rules and answers as demo-shared's UserDirectory.
import type { D1DatabaseLike } from '@org/session-store-d1';
import type { SignUpResult, User } from 'demo-shared/users';
import type { DemoUsers } from './app.js';

// demo-shared's users module opens SQLite: only its types come in here.
const MIN_PASSWORD_LENGTH = 8;
const ITERATIONS = 100_000;
const SALT_BYTES = 16;
const KEY_BITS = 256;
const MAX_PASSWORD_LENGTH = 256;
const EMAIL_PATTERN = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

interface UserRow {
  id: string;
  email: string;
  password_hash: string;
  created_at: number;
}

const encoder = new TextEncoder();
const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
const fromBase64url = (text: string): Uint8Array<ArrayBuffer> =>
  Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));

async function derive(password: string, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(password.normalize('NFKC')), 'PBKDF2', false, [
    'deriveBits',
  ]);
  const bits = await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, key, KEY_BITS);
  return new Uint8Array(bits);
}

/** `pbkdf2-sha256$<iterations>$<salt b64url>$<hash b64url>` */
export async function hashPasswordPbkdf2(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(password, salt, ITERATIONS);
  return ['pbkdf2-sha256', ITERATIONS, base64url(salt), base64url(hash)].join('$');
}

/** Constant-time check; a malformed stored value is a mismatch, never an exception. */
export async function verifyPasswordPbkdf2(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 4 || parts[0] !== 'pbkdf2-sha256') return false;
  const iterations = Number(parts[1]);
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > ITERATIONS) return false;
  try {
    const expected = fromBase64url(parts[3] as string);
    const actual = await derive(password, fromBase64url(parts[2] as string), iterations);
    if (expected.length !== actual.length) return false;
    let difference = 0;
    for (let i = 0; i < actual.length; i++) difference |= (actual[i] as number) ^ (expected[i] as number);
    return difference === 0;
  } catch {
    return false;
  }
}

function passwordProblem(password: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) return `Use at least ${MIN_PASSWORD_LENGTH} characters.`;
  if (password.length > MAX_PASSWORD_LENGTH) return `Use at most ${MAX_PASSWORD_LENGTH} characters.`;
  return null;
}

const toUser = (row: UserRow): User => ({ id: row.id, email: row.email, createdAt: row.created_at });

export class D1Users implements DemoUsers {
  private decoy: Promise<string> | undefined;

  constructor(private readonly db: D1DatabaseLike) {}

  /** Creates the users table if missing. */
  async migrate(): Promise<void> {
    await this.db
      .prepare(
        `CREATE TABLE IF NOT EXISTS demo_users (
          id TEXT PRIMARY KEY,
          email TEXT NOT NULL UNIQUE COLLATE NOCASE,
          password_hash TEXT NOT NULL,
          created_at INTEGER NOT NULL
        )`,
      )
      .run();
  }

  async signUp(emailInput: unknown, passwordInput: unknown, now: number): Promise<SignUpResult> {
    const email = typeof emailInput === 'string' ? emailInput.trim() : '';
    const password = typeof passwordInput === 'string' ? passwordInput : '';
    if (!EMAIL_PATTERN.test(email)) return { ok: false, problem: 'Enter an email address.' };
    const problem = passwordProblem(password);
    if (problem) return { ok: false, problem };
    const user: User = { id: `u_${crypto.randomUUID()}`, email, createdAt: now };
    const inserted = await this.db
      .prepare(
        'INSERT INTO demo_users (id, email, password_hash, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING',
      )
      .bind(user.id, user.email, await hashPasswordPbkdf2(password), user.createdAt)
      .run();
    if ((inserted.meta.changes ?? 0) === 0) {
      return { ok: false, problem: 'An account with this email already exists.', alreadyRegistered: true };
    }
    return { ok: true, user };
  }

  /** Unknown emails cost the same PBKDF2 work as known ones (no enumeration by timing). */
  async authenticate(emailInput: unknown, passwordInput: unknown): Promise<User | null> {
    const email = typeof emailInput === 'string' ? emailInput.trim() : '';
    const row = await this.row('SELECT * FROM demo_users WHERE email = ?1', email);
    return row && (await this.matches(row, passwordInput)) ? toUser(row) : null;
  }

  async checkPassword(userId: string, passwordInput: unknown): Promise<boolean> {
    const row = await this.row('SELECT * FROM demo_users WHERE id = ?1', userId);
    return (await this.matches(row, passwordInput)) && row !== null;
  }

  async changePassword(userId: string, newPassword: unknown): Promise<string | null> {
    const password = typeof newPassword === 'string' ? newPassword : '';
    const problem = passwordProblem(password);
    if (problem) return problem;
    await this.db
      .prepare('UPDATE demo_users SET password_hash = ?1 WHERE id = ?2')
      .bind(await hashPasswordPbkdf2(password), userId)
      .run();
    return null;
  }

  async findById(userId: string): Promise<User | null> {
    const row = await this.row('SELECT * FROM demo_users WHERE id = ?1', userId);
    return row ? toUser(row) : null;
  }

  async deleteUser(userId: string): Promise<boolean> {
    const result = await this.db.prepare('DELETE FROM demo_users WHERE id = ?1').bind(userId).run();
    return (result.meta.changes ?? 0) > 0;
  }

  private async row(sql: string, value: string): Promise<UserRow | null> {
    const { results } = await this.db.prepare(sql).bind(value).all();
    return (results?.[0] as UserRow | undefined) ?? null;
  }

  private async matches(row: UserRow | null, passwordInput: unknown): Promise<boolean> {
    const password = typeof passwordInput === 'string' ? passwordInput.slice(0, MAX_PASSWORD_LENGTH + 1) : '';
    this.decoy ??= hashPasswordPbkdf2(base64url(crypto.getRandomValues(new Uint8Array(16))));
    return verifyPasswordPbkdf2(password, row?.password_hash ?? (await this.decoy));
  }
}

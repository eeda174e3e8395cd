import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { decoyPasswordHash, hashPassword, verifyPassword } from './passwords.js';

export interface User {
  id: string;
  email: string;
  createdAt: number;
}

interface UserRow {
  id: string;
  email: string;
  password_hash: string;
  created_at: number;
}

/**
 * A sign-up's outcome. `alreadyRegistered` is for the server only (the console mail): pages must
 * answer it exactly like a new account, so sign-up never tells whether an e-mail is registered.
 */
export type SignUpResult = { ok: true; user: User } | { ok: false; problem: string; alreadyRegistered?: true };

export const MIN_PASSWORD_LENGTH = 8;
const MAX_PASSWORD_LENGTH = 256;
const EMAIL_PATTERN = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

/**
 * The demo's user accounts, in an SQLite table. Passwords are stored only as scrypt hashes.
 *
 * @example
 * ```ts
 * const users = new UserDirectory('.data/users.db');
 * const result = await users.signUp('ada@example.com', 'a long passphrase');
 * const user = await users.authenticate('ada@example.com', 'a long passphrase');
 * ```
 */
export class UserDirectory {
  private readonly db: Database.Database;

  constructor(filename: string) {
    this.db = new Database(filename);
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS demo_users (
      id TEXT PRIMARY KEY,
      email TEXT NOT NULL UNIQUE COLLATE NOCASE,
      password_hash TEXT NOT NULL,
      created_at INTEGER NOT NULL
    )`);
  }

  /**
   * Creates an account. A problem with the input is shown to the user as is; an e-mail that is
   * already registered comes back as `alreadyRegistered` (after the same scrypt work as a new one).
   */
  async signUp(emailInput: unknown, passwordInput: unknown, now = Date.now()): Promise<SignUpResult> {
    const email = typeof emailInput === 'string' ? emailInput.trim() : '';
    const password = typeof passwordInput === 'string' ? passwordInput : '';
    if (!EMAIL_PATTERN.test(email)) return { ok: false, problem: 'Enter an email address.' };
    const passwordProblem = checkPasswordRules(password);
    if (passwordProblem) return { ok: false, problem: passwordProblem };
    const passwordHash = await hashPassword(password);
    const user: User = { id: `u_${randomUUID()}`, email, createdAt: now };
    const inserted = this.db
      .prepare(
        'INSERT INTO demo_users (id, email, password_hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      )
      .run(user.id, user.email, passwordHash, user.createdAt);
    if (inserted.changes === 0) {
      return { ok: false, problem: 'An account with this email already exists.', alreadyRegistered: true };
    }
    return { ok: true, user };
  }

  /** The user whose email and password match, or null; unknown emails cost the same scrypt work. */
  async authenticate(emailInput: unknown, passwordInput: unknown): Promise<User | null> {
    const email = typeof emailInput === 'string' ? emailInput.trim() : '';
    const password = typeof passwordInput === 'string' ? passwordInput.slice(0, MAX_PASSWORD_LENGTH + 1) : '';
    const row = this.db.prepare('SELECT * FROM demo_users WHERE email = ?').get(email) as UserRow | undefined;
    const matches = await verifyPassword(password, row?.password_hash ?? (await decoyPasswordHash()));
    return row && matches ? toUser(row) : null;
  }

  /** Checks the password of a known user (re-authentication). */
  async checkPassword(userId: string, passwordInput: unknown): Promise<boolean> {
    const password = typeof passwordInput === 'string' ? passwordInput.slice(0, MAX_PASSWORD_LENGTH + 1) : '';
    const row = this.db.prepare('SELECT * FROM demo_users WHERE id = ?').get(userId) as UserRow | undefined;
    const matches = await verifyPassword(password, row?.password_hash ?? (await decoyPasswordHash()));
    return row !== undefined && matches;
  }

  async changePassword(userId: string, newPassword: unknown): Promise<string | null> {
    const password = typeof newPassword === 'string' ? newPassword : '';
    const problem = checkPasswordRules(password);
    if (problem) return problem;
    const passwordHash = await hashPassword(password);
    this.db.prepare('UPDATE demo_users SET password_hash = ? WHERE id = ?').run(passwordHash, userId);
    return null;
  }

  findById(userId: string): User | null {
    const row = this.db.prepare('SELECT * FROM demo_users WHERE id = ?').get(userId) as UserRow | undefined;
    return row ? toUser(row) : null;
  }

  deleteUser(userId: string): boolean {
    return this.db.prepare('DELETE FROM demo_users WHERE id = ?').run(userId).changes > 0;
  }

  close(): void {
    this.db.close();
  }
}

function checkPasswordRules(password: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) return `Use at least ${MIN_PASSWORD_LENGTH} characters.`;
  if (password.length > MAX_PASSWORD_LENGTH) return `Use at most ${MAX_PASSWORD_LENGTH} characters.`;
  return null;
}

function toUser(row: UserRow): User {
  return { id: row.id, email: row.email, createdAt: row.created_at };
}

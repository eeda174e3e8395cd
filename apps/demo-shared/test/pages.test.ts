/** The demos' shared page logic: where re-authentication may return, login reasons, sign-up, error pages. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SessionError } from '@org/session-core';
import { afterAll, describe, expect, it } from 'vitest';
import { demoErrorReply } from '../src/errors.js';
import { UserDirectory } from '../src/users.js';
import { loginPage, messagePage, sessionsPage, setDemoFramework } from '../src/views.js';
import {
  confirmedReturnPath,
  loginNotice,
  loginPathFor,
  resumePathFor,
  safeReturnPath,
  sendSignUpMail,
} from '../src/web.js';

describe('the next path after re-authentication', () => {
  it('keeps any plain path on this origin, with its query and fragment', () => {
    expect(safeReturnPath('/account#delete-account')).toBe('/account#delete-account');
    expect(safeReturnPath('/sessions?done=others')).toBe('/sessions?done=others');
    expect(safeReturnPath('/jwt')).toBe('/jwt');
  });

  it('sends everything that could leave the origin to /account (no open redirect)', () => {
    const hostile = [
      '//evil.example',
      '//evil.example/account',
      'https://evil.example/',
      'http:/evil.example',
      '/\\evil.example',
      '\\\\evil.example',
      '/\t/evil.example',
      '/\n/evil.example',
      'javascript:alert(1)',
      'account',
      '',
      `/${'a'.repeat(600)}`,
      42,
      null,
      ['/account'],
    ];
    for (const next of hostile) expect(safeReturnPath(next), String(next)).toBe('/account');
  });

  it('resumes the form of the refused action, and adds done=confirmed before the fragment', () => {
    expect(resumePathFor('/account/password')).toBe('/account#change-password');
    expect(resumePathFor('/account/delete')).toBe('/account#delete-account');
    expect(resumePathFor('/elsewhere')).toBe('/account');
    expect(confirmedReturnPath('/account#change-password')).toBe('/account?done=confirmed#change-password');
    expect(confirmedReturnPath('/sessions?done=x&y=1')).toBe('/sessions?done=confirmed&y=1');
    expect(confirmedReturnPath('//evil.example')).toBe('/account?done=confirmed');
  });
});

describe('why the login page is shown', () => {
  it('carries only core validation status, and says what happened', () => {
    expect(loginPathFor('expired')).toBe('/login?reason=expired');
    expect(loginPathFor('invalid')).toBe('/login?reason=ended');
    for (const status of ['absent', 'malformed', 'rejected', undefined]) expect(loginPathFor(status)).toBe('/login');
    expect(loginNotice('ended')).toContain('ended from another device');
    expect(loginNotice('expired')).toBe('Your session expired. Log in again.');
    expect(loginNotice('constructor')).toBeNull();
    expect(loginNotice('<script>')).toBeNull();
    expect(loginNotice('ended', 'ada@example.com')).toContain('signed in as ada@example.com');
  });

  it('shows the signed-in menu on the login page when a session is there', () => {
    const page = loginPage({ csrfToken: 't', notice: null, signedInAs: 'ada@example.com' });
    expect(page).toContain('<span class="who" id="who">ada@example.com</span>');
    expect(page).toContain('id="logout"');
    expect(page).not.toContain('<a href="/signup">Sign up</a></nav>');
  });
});

describe('pages', () => {
  it('names the framework in the footer, and errors in words with the code in small print', () => {
    setDemoFramework('Test framework 1');
    const reply = demoErrorReply(new SessionError('CSRF_REJECTED'), '/sessions/revoke', {
      email: 'ada@example.com',
      csrfToken: 't',
    });
    expect(reply.status).toBe(403);
    expect(reply.html).toContain('<h1>Request refused</h1>');
    expect(reply.html).toContain('<code id="error-code">CSRF_REJECTED</code>');
    expect(reply.html).toContain('ada@example.com');
    expect(reply.html).toContain('This demo runs on Test framework 1');
    const notFound = messagePage({ title: 'Not found', message: 'There is no such page.' });
    expect(notFound).toContain('<a href="/signup">Sign up</a>');
  });

  it('renders times as UTC in <time datetime> and the user agent as a summary with the full string as its title', () => {
    const agent = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/156.0.0.0 Safari/537.36';
    const at = Date.UTC(2026, 11, 6, 13, 0, 0);
    const page = sessionsPage({
      csrfToken: 't',
      email: 'ada@example.com',
      now: at,
      policy: { idleTimeoutMs: 60_000, absoluteTimeoutMs: 120_000, touchIntervalMs: 10_000, reauthAfterMs: 30_000 },
      sessions: [
        {
          handle: '0123456789abcdef',
          device: 'Chrome on Linux',
          userAgent: agent,
          ip: '127.0.0.1',
          createdAt: at,
          lastSeenAt: at,
          authenticatedAt: at,
          idleExpiresAt: at + 60_000,
          absoluteExpiresAt: at + 120_000,
          persistent: false,
          current: true,
          keyBound: false,
        },
      ],
    });
    expect(page).toContain('<time datetime="2026-12-06T13:00:00.000Z">2026-12-06 13:00:00 UTC</time>');
    expect(page).toContain(`<small class="user-agent" title="${agent}">Chrome on Linux</small>`);
    expect(page.split(agent)).toHaveLength(2); // only in the title
  });
});

describe('sign-up without enumeration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'demo-users-'));
  const users = new UserDirectory(join(dir, 'users.db'));
  afterAll(() => {
    users.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('tells the server (not the page) that an e-mail was registered, and mails accordingly', async () => {
    const first = await users.signUp('ada@example.com', 'correct horse battery');
    expect(first.ok).toBe(true);
    const again = await users.signUp('ADA@example.com', 'another long password');
    expect(again).toMatchObject({ ok: false, alreadyRegistered: true });
    expect(await users.authenticate('ada@example.com', 'correct horse battery')).not.toBeNull();
    const short = await users.signUp('bob@example.com', 'short');
    expect(short).toEqual({ ok: false, problem: 'Use at least 8 characters.' });

    const printed: string[] = [];
    sendSignUpMail('ada@example.com', true, (line) => printed.push(line));
    sendSignUpMail('new@example.com', false, (line) => printed.push(line));
    expect(printed[0]).toContain('To: ada@example.com');
    expect(printed[0]).toContain('already has one');
    expect(printed[1]).toContain('To: new@example.com');
    expect(printed[1]).toContain('Welcome');
  });
});

/** The demo's own building blocks: password hashing, settings, escaping, device labels. */
import { describe, expect, it } from 'vitest';
import { readConfig } from '../src/config.js';
import { deviceLabel } from '../src/device.js';
import { escapeHtml, html } from '../src/html.js';
import { hashPassword, verifyPassword } from '../src/passwords.js';

describe('passwords (scrypt)', () => {
  it('stores a self-describing scrypt hash with a fresh salt per hash, and verifies it', async () => {
    const [first, second] = await Promise.all([hashPassword('correct horse'), hashPassword('correct horse')]);
    expect(first).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(first).not.toBe(second); // per-user salt
    expect(first).not.toContain('correct horse');
    await expect(verifyPassword('correct horse', first)).resolves.toBe(true);
    await expect(verifyPassword('correct horsf', first)).resolves.toBe(false);
    await expect(verifyPassword('', first)).resolves.toBe(false);
  });

  it('treats a malformed stored hash as a mismatch, never an exception', async () => {
    const key = 'A'.repeat(43); // 32 bytes: only the parameters are wrong
    const malformed = ['', 'plain', 'scrypt$1$2$3$x$y', 'bcrypt$32768$8$1$AAAA$BBBB', 'scrypt$x$8$1$AAAA$BBBB'];
    for (const stored of [...malformed, `scrypt$1000$8$1$AAAA$${key}`, `scrypt$${2 ** 30}$8$1$AAAA$${key}`]) {
      await expect(verifyPassword('anything', stored)).resolves.toBe(false);
    }
  });
});

describe('settings from the environment', () => {
  it('defaults to aal2 timeouts on port 3000 with the SQLite store', () => {
    const config = readConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      store: 'sqlite',
      idleTimeoutMs: 30 * 60_000,
      absoluteTimeoutMs: 12 * 3_600_000,
    });
  });

  it('shortens the timeouts from IDLE_TIMEOUT_MS and ABSOLUTE_TIMEOUT_MS', () => {
    const config = readConfig({ IDLE_TIMEOUT_MS: '60000', ABSOLUTE_TIMEOUT_MS: '180000', REAUTH_AFTER_MS: '30000' });
    expect(config).toMatchObject({ idleTimeoutMs: 60_000, absoluteTimeoutMs: 180_000, reauthAfterMs: 30_000 });
  });

  it('refuses nonsense instead of guessing', () => {
    expect(() => readConfig({ IDLE_TIMEOUT_MS: 'soon' })).toThrow(/IDLE_TIMEOUT_MS/);
    expect(() => readConfig({ PORT: '-1' })).toThrow(/PORT/);
    expect(() => readConfig({ IDLE_TIMEOUT_MS: '7200000', ABSOLUTE_TIMEOUT_MS: '3600000' })).toThrow(/must not exceed/);
    expect(() => readConfig({ SESSION_STORE: 'mongodb' })).toThrow(/SESSION_STORE/);
    expect(() => readConfig({ SESSION_STORE: 'redis', REDIS_URL: 'http://x' })).toThrow(/REDIS_URL/);
  });
});

describe('HTML escaping', () => {
  it('escapes every interpolated value, but not nested templates', () => {
    const agent = '<script>alert(1)</script>"\'&';
    expect(escapeHtml(agent)).toBe('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;');
    expect(html`<td title="${agent}">${[html`<b>${agent}</b>`, null, false]}</td>`.value).toBe(
      '<td title="&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"><b>&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;</b></td>',
    );
  });
});

describe('device labels', () => {
  it('names common browsers and systems, and falls back politely', () => {
    expect(deviceLabel('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/156.0.0.0 Safari/537.36')).toBe(
      'Chrome on Linux',
    );
    expect(deviceLabel('Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Version/18.0 Mobile Safari/604.1')).toBe(
      'Safari on iOS',
    );
    expect(deviceLabel('Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/156.0 Safari/537.36 Edg/156.0')).toBe(
      'Edge on Windows',
    );
    expect(deviceLabel('curl/8.5.0')).toBe('curl');
    expect(deviceLabel(null)).toBe('Unknown device');
    expect(deviceLabel('something else')).toBe('Other client');
  });
});

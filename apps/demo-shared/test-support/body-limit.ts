/**
 * A demo's 413 page (a form body over the 8 KiB limit) over real HTTP: like every other error page
 * it follows the session, so a signed-in user sees their own menu, not "Log in". Shared by the Node
 * demos, each passing its own boot function.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUpThenLogIn } from './accounts.js';
import { DemoClient } from './client.js';
import { makeDataDir, removeDataDir } from './data-dir.js';

const PASSWORD = 'correct horse battery';
/** A form field well past the demo's 8 KiB body limit. */
const OVERSIZED = { note: 'x'.repeat(16 * 1024) };

export function runBodyLimitScenarios(
  name: string,
  boot: (dataDir: string) => Promise<{ origin: string; close(): Promise<unknown> }>,
): void {
  describe(`the ${name} demo: a body over the limit`, () => {
    let demo: { origin: string; close(): Promise<unknown> };
    let dataDir: string;

    beforeAll(async () => {
      dataDir = makeDataDir();
      demo = await boot(dataDir);
    }, 60_000);
    afterAll(async () => {
      await demo?.close();
      if (dataDir) removeDataDir(dataDir);
    });

    it('answers 413 with the signed-in menu while signed in, and the session goes on', async () => {
      const email = 'too-large@example.com';
      const client = new DemoClient(demo.origin);
      const login = await signUpThenLogIn(client, email, PASSWORD);
      expect([login.status, login.location]).toEqual([303, '/sessions']);
      await client.get('/account');

      const refused = await client.post('/account/password', OVERSIZED);
      expect(refused.status).toBe(413);
      expect(refused.body).toContain('Bad request');
      expect(refused.body).toContain(email);
      expect(refused.body).toContain('id="logout">Log out</button>');
      expect(refused.body).not.toContain('<a href="/signup">Sign up</a>');

      // Nothing was changed and the session still works.
      const sessions = await client.get('/sessions');
      expect(sessions.status).toBe(200);
      expect(sessions.body).toContain(email);
    });

    it('answers 413 with the signed-out menu to a visitor', async () => {
      const client = new DemoClient(demo.origin);
      await client.get('/login');
      const refused = await client.post('/login', OVERSIZED);
      expect(refused.status).toBe(413);
      expect(refused.body).toContain('Bad request');
      expect(refused.body).toContain('<a href="/signup">Sign up</a>');
      expect(refused.body).not.toContain('id="logout"');
    });
  });
}

/**
 * What a user meets in a demo, in Chromium: the same scenarios for every demo (Express, Fastify,
 * Hono, Next), each run with the demo's own `boot`. One browser per test file, a fresh context per
 * scenario; a demo adds its own scenarios through `extra`, which runs inside the same describe.
 */
import { webcrypto } from 'node:crypto';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserCookie, launchChromium, skipBrowserSuites } from './browser.js';
import { makeDataDir, removeDataDir } from './data-dir.js';
import { listenOnLoopback, type RunningServer } from './http-server.js';

export const PASSWORD = 'correct horse battery';
/** How recent a login must be for sensitive actions in these scenarios (the demo's REAUTH_AFTER_MS). */
export const REAUTH_AFTER_MS = 2000;

export interface DemoUnderTest {
  /** `http://localhost:<port>` */
  origin: string;
  close(): Promise<void>;
  /** Moves the demo's test clock forward; without it, the scenarios wait in real time. */
  passTime?(ms: number): void;
}

export interface DemoBootSettings {
  /** How recent a login must be for sensitive actions, in ms. */
  reauthAfterMs: number;
}

/** What `extra` scenarios of one demo get: the suite's browser and demo, and the user's steps. */
export interface BrowserSuite {
  browser(): Browser;
  demo(): DemoUnderTest;
  /** A new browser context (closed after the suite) and a page in it. */
  freshPage(options?: BrowserContextOptions): Promise<{ context: BrowserContext; page: Page }>;
  /** Signs up through the form ("check your e-mail"), then logs in: the page ends on /sessions. */
  signUp(page: Page, email: string, origin?: string): Promise<void>;
  logIn(page: Page, email: string, origin?: string): Promise<void>;
}

const JWT_PATTERN = /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/;
const PHONE = { width: 390, height: 844 };
const TIME_ZONE = 'Asia/Tokyo';

/** "2026-12-06 22:10:05" for an ISO time, in `timeZone`, as the page script writes it. */
function wallClock(iso: string, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(iso));
  const part = (type: string) => parts.find((p) => p.type === type)?.value;
  return `${part('year')}-${part('month')}-${part('day')} ${part('hour')}:${part('minute')}:${part('second')}`;
}

/** Verifies an EdDSA JWT's signature against a JWKS, as another service would; returns its claims. */
async function verifyWithJwks(jwt: string, jwks: { keys: Array<Record<string, unknown>> }) {
  const [head, payload, signature] = jwt.split('.') as [string, string, string];
  const header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as { alg: string; kid?: string };
  expect(header.alg).toBe('EdDSA');
  const jwk = jwks.keys.find((key) => header.kid === undefined || key.kid === header.kid);
  expect(jwk).toBeDefined();
  const key = await webcrypto.subtle.importKey('jwk', jwk as webcrypto.JsonWebKey, { name: 'Ed25519' }, false, [
    'verify',
  ]);
  const valid = await webcrypto.subtle.verify(
    { name: 'Ed25519' },
    key,
    Buffer.from(signature, 'base64url'),
    new TextEncoder().encode(`${head}.${payload}`),
  );
  expect(valid).toBe(true);
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/**
 * Registers the shared browser scenarios for one demo: sign-up and login, the cookie and web
 * storage, the JWT reveal, sign-up without enumeration, a phone screen in another time zone, remote
 * logout, forged posts, re-authentication resuming the form, logout and Back.
 *
 * @example
 * ```ts
 * describeDemoInBrowser('Fastify 5', async (dataDir, { reauthAfterMs }) => {
 *   const demo = await bootFastifyDemo(dataDir, { reauthAfterMs }, clock);
 *   return { origin: demo.origin, close: () => demo.close(), passTime: (ms) => clock.advance(ms) };
 * });
 * ```
 */
export function describeDemoInBrowser(
  framework: string,
  boot: (dataDir: string, settings: DemoBootSettings) => Promise<DemoUnderTest>,
  extra?: (suite: BrowserSuite) => void,
): void {
  // Generous: a scenario is a dozen page loads, on 2 cores shared with other suites.
  describe.skipIf(skipBrowserSuites)(`the ${framework} demo in Chromium`, { timeout: 120_000 }, () => {
    let browser: Browser;
    let demo: DemoUnderTest;
    let dataDir: string;
    const contexts: BrowserContext[] = [];
    const slug = framework.toLowerCase().replace(/[^a-z]+/g, '-');

    beforeAll(async () => {
      dataDir = makeDataDir();
      [browser, demo] = await Promise.all([launchChromium(), boot(dataDir, { reauthAfterMs: REAUTH_AFTER_MS })]);
    });
    afterAll(async () => {
      for (const context of contexts) await context.close().catch(() => undefined);
      await browser?.close();
      await demo?.close();
      if (dataDir) removeDataDir(dataDir);
    });

    async function freshPage(options?: BrowserContextOptions) {
      const context = await browser.newContext(options);
      context.setDefaultTimeout(60_000);
      contexts.push(context);
      return { context, page: await context.newPage() };
    }

    async function logIn(page: Page, email: string, origin = demo.origin): Promise<void> {
      await page.goto(`${origin}/login`);
      await page.fill('form[action="/login"] input[name=email]', email);
      await page.fill('form[action="/login"] input[name=password]', PASSWORD);
      await page.click('form[action="/login"] button[type=submit]');
      await page.waitForURL(`${origin}/sessions`);
    }

    async function signUp(page: Page, email: string, origin = demo.origin): Promise<void> {
      await page.goto(`${origin}/signup`);
      await page.fill('form[action="/signup"] input[name=email]', email);
      await page.fill('form[action="/signup"] input[name=password]', PASSWORD);
      await page.click('form[action="/signup"] button[type=submit]');
      await page.waitForURL(`${origin}/signup/check-email`);
      await logIn(page, email, origin);
    }

    /** Clicks a submit button and returns the response to the POST it sends. */
    async function post(page: Page, selector: string, path: string) {
      const response = page.waitForResponse(
        (r) => r.url() === `${demo.origin}${path}` && r.request().method() === 'POST',
      );
      await page.click(selector);
      const answered = await response;
      await page.waitForLoadState();
      return answered;
    }

    async function headerShowsUser(page: Page, email: string): Promise<void> {
      await expect(page.textContent('#who')).resolves.toBe(email);
      await expect(page.locator('#logout').count()).resolves.toBe(1);
      await expect(page.locator('header a[href="/signup"], header a[href="/login"]').count()).resolves.toBe(0);
    }

    it('signs up (check your e-mail, then log in), keeps the cookie from scripts and storage, reveals the JWT only on request, logs out', async () => {
      const email = `ada-${slug}@example.com`;
      const { context, page } = await freshPage();
      await signUp(page, email);
      await expect(page.textContent('h1')).resolves.toBe('Active sessions');
      await expect(page.textContent('#expiry')).resolves.toContain('Idle expiry');
      const cookie = await browserCookie(context, '__Host-sid');
      expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/', expires: -1 });
      const scriptView = await page.evaluate(() => document.cookie);
      expect(scriptView).not.toContain('__Host-sid');
      expect(scriptView).not.toContain(cookie?.value);
      // The JWT page's script gets a session JWT and calls the API with it (CSP allows only 'self').
      await page.goto(`${demo.origin}/jwt`);
      await page.click('#call-api');
      await page.waitForFunction(() => document.getElementById('api-result')?.textContent?.includes('200'));
      await expect(page.textContent('#api-result')).resolves.toContain(`"email": "ada-${slug}@example.com"`);
      // G5, K1: nothing in web storage, on any page of the app, even after using the JWT.
      for (const path of ['/jwt', '/sessions', '/account']) {
        if (path !== '/jwt') await page.goto(`${demo.origin}${path}`);
        const storage = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length }));
        expect(storage, path).toEqual({ local: 0, session: 0 });
      }

      // The JWT is shown only when asked, then verifies against the JWKS and works from a terminal.
      const response = await page.goto(`${demo.origin}/jwt`);
      expect(await response?.text()).not.toMatch(JWT_PATTERN);
      await expect(page.isHidden('#jwt-value')).resolves.toBe(true);
      expect(await page.content()).not.toMatch(JWT_PATTERN);
      await page.click('#reveal-jwt');
      await page.waitForFunction(() => (document.getElementById('jwt-value') as HTMLTextAreaElement).value !== '');
      await expect(page.isVisible('#jwt-value')).resolves.toBe(true);
      await expect(page.textContent('#reveal-status')).resolves.toMatch(/Copied|copy it/);
      const jwt = await page.inputValue('#jwt-value');
      expect(jwt).toMatch(JWT_PATTERN);
      const jwks = (await (await fetch(`${demo.origin}/.well-known/jwks.json`)).json()) as {
        keys: Array<Record<string, unknown>>;
      };
      expect(await verifyWithJwks(jwt, jwks)).toMatchObject({ iss: demo.origin, aud: 'demo-api' });
      // What `curl -H "Authorization: Bearer $JWT" <origin>/api/me` does.
      const me = await fetch(`${demo.origin}/api/me`, { headers: { authorization: `Bearer ${jwt}` } });
      expect(me.status).toBe(200);
      expect(await me.json()).toMatchObject({ user: { email } });

      // Log out with the button; Back shows no cached account page (B7, B8).
      await page.click('#logout');
      await page.waitForURL(`${demo.origin}/login?reason=logged-out`);
      expect(await browserCookie(context, '__Host-sid')).toBeUndefined();
      await page.goBack();
      await page.waitForLoadState();
      expect(page.url()).toMatch(new RegExp(`^${demo.origin}/login`));
      await expect(page.content()).resolves.not.toContain(`${email}</span>`);
    });

    it('sign-up answers a registered e-mail exactly like a new one; the new account then logs in', async () => {
      const { context, page } = await freshPage();
      await page.goto(`${demo.origin}/signup`);
      const csrf = await page.inputValue('form[action="/signup"] input[name=_csrf]');
      const answer = async (email: string) => {
        const response = await context.request.post(`${demo.origin}/signup`, {
          form: { _csrf: csrf, email, password: PASSWORD },
          headers: { origin: demo.origin },
          maxRedirects: 0,
        });
        const setCookies = response
          .headersArray()
          .filter((header) => header.name.toLowerCase() === 'set-cookie')
          .map((header) => header.value.replace(/=[^;]*/, '=<value>'));
        return {
          status: response.status(),
          location: response.headers().location,
          body: (await response.text()).replaceAll(email, '<email>'),
          setCookies,
        };
      };
      // The first post creates the account; the second finds the e-mail registered.
      const fresh = `new-${slug}@example.com`;
      const forNew = await answer(fresh);
      const forKnown = await answer(fresh);
      expect(forKnown).toEqual(forNew);
      expect(await answer(`other-${slug}@example.com`)).toEqual(forNew);
      expect([forNew.status, forNew.location]).toEqual([303, '/signup/check-email']);
      await page.goto(`${demo.origin}/signup/check-email`);
      await expect(page.textContent('#check-email')).resolves.toContain('Check your e-mail');
      await expect(page.textContent('main')).resolves.toMatch(/prints the message to the server\s+console/);
      await logIn(page, fresh);
      await expect(page.textContent('#who')).resolves.toBe(fresh);
    });

    it('on a phone in Tokyo: no page is wider than the screen, the menu follows the session, times are local', async () => {
      const email = `a-rather-long-name.for-the-phone-test-${slug}@example-organisation.com`;
      const { page } = await freshPage({ viewport: PHONE, timezoneId: TIME_ZONE });
      await signUp(page, email);
      for (const path of ['/sessions', '/account', '/jwt', '/login', '/no-such-page', '/signup/check-email']) {
        await page.goto(`${demo.origin}${path}`);
        const layout = await page.evaluate(() => {
          const who = document.getElementById('who');
          return {
            width: document.documentElement.scrollWidth,
            whoRight: who ? who.getBoundingClientRect().right : null,
            whoOverflows: who ? who.scrollWidth > who.clientWidth : null,
          };
        });
        expect(layout, path).toEqual({
          width: expect.any(Number),
          whoRight: expect.any(Number),
          whoOverflows: false,
        });
        expect(layout.width, path).toBeLessThanOrEqual(PHONE.width);
        expect(layout.whoRight, path).toBeLessThanOrEqual(PHONE.width);
        // Signed in: the user's menu and Log out on every page, never "Log in / Sign up".
        await headerShowsUser(page, email);
        await expect(page.textContent('footer'), path).resolves.toContain(`This demo runs on ${framework}`);
      }
      await page.goto(`${demo.origin}/no-such-page`);
      await expect(page.textContent('h1')).resolves.toBe('Not found');

      await page.goto(`${demo.origin}/sessions`);
      const times = await page.$$eval('#sessions time[datetime], #expiry time[datetime]', (elements) =>
        elements.map((element) => ({ iso: element.getAttribute('datetime') as string, shown: element.textContent })),
      );
      expect(times.length).toBeGreaterThanOrEqual(4);
      for (const { iso, shown } of times) expect(shown).toBe(`${wallClock(iso, TIME_ZONE)} (${TIME_ZONE})`);

      // The device column: a short summary, the full user agent on hover only.
      const userAgent = await page.evaluate(() => navigator.userAgent);
      const device = page.locator('tr.current small.user-agent');
      await expect(device.textContent()).resolves.toBe('Headless Chrome on Linux');
      await expect(device.getAttribute('title')).resolves.toBe(userAgent);
      await expect(page.textContent('#sessions')).resolves.not.toContain('Mozilla/5.0');
    });

    it('a device logged out from another browser lands on the login page that says so', async () => {
      const email = `grace-${slug}@example.com`;
      const first = await freshPage();
      await signUp(first.page, email);
      const second = await freshPage();
      await logIn(second.page, email);

      await first.page.reload();
      await expect(first.page.locator('#sessions tbody tr').count()).resolves.toBe(2);
      await first.page.click('#sessions tbody tr:not(.current) button[type=submit]');
      await first.page.waitForURL(`${demo.origin}/sessions?done=revoked`);
      await expect(first.page.locator('#sessions tbody tr').count()).resolves.toBe(1);

      await second.page.goto(`${demo.origin}/sessions`);
      expect(second.page.url()).toBe(`${demo.origin}/login?reason=ended`);
      await expect(second.page.textContent('.notice')).resolves.toContain('ended from another device');
      // The dead cookie was cleared on that request.
      expect(await browserCookie(second.context, '__Host-sid')).toBeUndefined();
    });

    it('refuses a cross-site form post from another loopback origin (CS-08), with a heading in words and the code in small print, keeping the menu', async () => {
      const email = `mallory-target-${slug}@example.com`;
      const victim = await freshPage();
      await signUp(victim.page, email);
      const otherDevice = await freshPage();
      await logIn(otherDevice.page, email);

      // Another site's form: the Lax cookie stays home, the post is refused.
      const target = `${demo.origin}/sessions/revoke-others`;
      const attacker: RunningServer = await listenOnLoopback((_req, res) => {
        res.setHeader('content-type', 'text/html; charset=utf-8');
        res.end(`<!doctype html><body>
<form id="f" method="post" action="${target}"><input name="ignored" value="1"></form>
<script>document.getElementById('f').submit();</script></body>`);
      });
      try {
        const formResponse = victim.page.waitForResponse(
          (r) => r.url() === target && r.request().resourceType() === 'document',
        );
        await victim.page.goto(`http://127.0.0.1:${attacker.port}/`);
        const response = await formResponse;
        expect(response.status()).toBe(403);
        expect(await response.request().headerValue('sec-fetch-site')).toBe('cross-site');
        expect((await response.request().headerValue('cookie')) ?? '').not.toContain('__Host-sid=');
        await victim.page.waitForLoadState();
        await expect(victim.page.textContent('h1')).resolves.toBe('Request refused');
        await expect(victim.page.textContent('#error-code')).resolves.toBe('CSRF_REJECTED');
      } finally {
        await attacker.close();
      }

      // A same-origin post with a forged token, from a signed-in page: refused, and the header still
      // shows who is signed in.
      await victim.page.goto(`${demo.origin}/sessions`);
      await victim.page.evaluate(() => {
        for (const input of document.querySelectorAll<HTMLInputElement>('input[name=_csrf]')) input.value = 'forged';
      });
      const refused = await post(victim.page, '#revoke-others', '/sessions/revoke-others');
      expect(refused.status()).toBe(403);
      await expect(victim.page.textContent('h1')).resolves.toBe('Request refused');
      await expect(victim.page.textContent('#error-code')).resolves.toBe('CSRF_REJECTED');
      await headerShowsUser(victim.page, email);

      // Both sessions live on.
      await otherDevice.page.goto(`${demo.origin}/sessions`);
      expect(otherDevice.page.url()).toBe(`${demo.origin}/sessions`);
      await expect(otherDevice.page.locator('#sessions tbody tr').count()).resolves.toBe(2);
    });

    it('re-authentication resumes the form the user was filling in; a hostile next stays home', async () => {
      const { page } = await freshPage();
      await signUp(page, `reauth-${slug}@example.com`);
      if (demo.passTime) demo.passTime(REAUTH_AFTER_MS + 1000);
      else await page.waitForTimeout(REAUTH_AFTER_MS + 1000);

      await page.goto(`${demo.origin}/account`);
      await page.fill('form[action="/account/password"] input[name=newPassword]', PASSWORD);
      const asked = await post(page, 'form[action="/account/password"] button[type=submit]', '/account/password');
      expect(asked.status()).toBe(401);
      await expect(page.textContent('h1')).resolves.toBe('Confirm it is you');
      await page.fill('form[action="/reauth"] input[name=password]', PASSWORD);
      await page.click('form[action="/reauth"] button[type=submit]');
      await page.waitForURL(`${demo.origin}/account?done=confirmed#change-password`);
      await expect(page.textContent('.notice')).resolves.toContain('go ahead');
      await page.waitForFunction(() => document.activeElement?.getAttribute('name') === 'newPassword');
      await page.fill('form[action="/account/password"] input[name=newPassword]', PASSWORD);
      await page.click('form[action="/account/password"] button[type=submit]');
      await page.waitForURL(`${demo.origin}/account?done=password`);

      // More hostile forms in demo-shared's pages.test.ts; these two through the browser.
      for (const hostile of ['//evil.example', '/\\evil.example']) {
        await page.goto(`${demo.origin}/reauth?next=${encodeURIComponent(hostile)}`);
        await expect(page.inputValue('form[action="/reauth"] input[name=next]')).resolves.toBe('/account');
        await page.fill('form[action="/reauth"] input[name=password]', PASSWORD);
        await page.click('form[action="/reauth"] button[type=submit]');
        await page.waitForURL(`${demo.origin}/account?done=confirmed`);
      }
    });

    extra?.({ browser: () => browser, demo: () => demo, freshPage, signUp, logIn });
  });
}

/**
 * The idle deadline on a demo with a test clock, booted with a 10 min idle and 60 min absolute
 * timeout: the sessions page shows both, and once the idle deadline passes a reload lands on the
 * login page saying the session expired. For `extra`; Express and Hono run it.
 */
export function idleExpiryScenario(clock: { now(): number; advance(ms: number): void }) {
  return ({ demo, freshPage, signUp }: BrowserSuite): void => {
    it('shows the idle deadline and ends the session visibly once it passes', async () => {
      // The page counts down with the browser's clock: bring the test clock up to real time first.
      clock.advance(Math.max(0, Date.now() - clock.now()));
      const { page } = await freshPage();
      await signUp(page, 'barbara@example.com');
      await expect(page.textContent('#idle-expiry')).resolves.toMatch(/^in (9|10) min/);
      await expect(page.textContent('#absolute-expiry')).resolves.toMatch(/^in (59|60) min|in 1 h/);
      clock.advance(10 * 60_000 + 1000);
      await page.reload();
      expect(page.url()).toBe(`${demo().origin}/login?reason=expired`);
      await expect(page.textContent('.notice')).resolves.toBe('Your session expired. Log in again.');
    });
  };
}

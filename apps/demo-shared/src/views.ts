import { deviceLabel } from './device.js';
import { html, raw, type SafeHtml } from './html.js';

/** Name of the hidden form field that carries the CSRF token (core's default). */
export const CSRF_FIELD = '_csrf';

export interface SessionView {
  /** A keyed hash of the session id: identifies the row without showing any part of a token. */
  handle: string;
  device: string;
  userAgent: string | null;
  ip: string | null;
  createdAt: number;
  lastSeenAt: number;
  authenticatedAt: number;
  idleExpiresAt: number | null;
  absoluteExpiresAt: number;
  persistent: boolean;
  current: boolean;
  /** Bound to a client's DPoP key: its tokens are refused without a proof from that key. */
  keyBound: boolean;
}

export interface ExpiryPolicyView {
  idleTimeoutMs: number | null;
  absoluteTimeoutMs: number;
  touchIntervalMs: number;
  reauthAfterMs: number;
}

interface Frame {
  title: string;
  csrfToken: string;
  /** The signed-in user's e-mail: the header then shows their menu and Log out. */
  email?: string | null;
  notice?: string | null;
  problem?: string | null;
}

/** Who is signed in, for the header of pages that anyone may see (login, 404, error pages). */
export interface Viewer {
  email: string;
  csrfToken: string;
}

// On globalThis: Next bundles each route handler with its own copy of this module.
const FRAMEWORK_KEY = Symbol.for('demo-shared.framework');
type FrameworkHolder = { [FRAMEWORK_KEY]?: string };

/**
 * Names the framework in every page's footer ("This demo runs on Express 5"). Each demo app calls
 * it once when it is built; one process serves one demo.
 *
 * @example
 * ```ts
 * setDemoFramework('Fastify 5');
 * ```
 */
export function setDemoFramework(name: string): void {
  (globalThis as FrameworkHolder)[FRAMEWORK_KEY] = name;
}

function runsOn(): string {
  return (globalThis as FrameworkHolder)[FRAMEWORK_KEY] ?? 'Node.js';
}

/** A time in UTC, in a `<time>` element; the page script shows it in the viewer's time zone. */
function timeElement(ms: number): SafeHtml {
  return html`<time datetime="${new Date(ms).toISOString()}">${formatTime(ms)}</time>`;
}

/** UTC date and time, to the second. */
export function formatTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** "in 4 min 10 s", "2 h 5 min ago". */
export function formatRelative(ms: number, now: number): string {
  const delta = Math.round((ms - now) / 1000);
  const seconds = Math.abs(delta);
  const parts =
    seconds >= 3600
      ? `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`
      : seconds >= 60
        ? `${Math.floor(seconds / 60)} min ${seconds % 60} s`
        : `${seconds} s`;
  return delta >= 0 ? `in ${parts}` : `${parts} ago`;
}

/** "30 min", "12 h", "90 s". */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${Math.round(ms / 1000)} s`;
}

function csrfField(token: string): SafeHtml {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${token}">`;
}

function layout(frame: Frame, body: SafeHtml): string {
  const nav = frame.email
    ? html`<nav>
        <a href="/sessions">Sessions</a>
        <a href="/account">Account</a>
        <a href="/jwt">JWT API</a>
        <span class="who" id="who">${frame.email}</span>
        <form method="post" action="/logout" class="inline">${csrfField(frame.csrfToken)}<button type="submit" id="logout">Log out</button></form>
      </nav>`
    : html`<nav><a href="/login">Log in</a> <a href="/signup">Sign up</a></nav>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${frame.title} · session demo</title>
<link rel="stylesheet" href="/demo.css">
${raw('<script src="/demo.js" defer></script>')}
</head>
<body>
<header><strong>session demo</strong> ${nav}</header>
<main>
<h1>${frame.title}</h1>
${frame.notice ? html`<p class="notice" role="status">${frame.notice}</p>` : null}
${frame.problem ? html`<p class="problem" role="alert">${frame.problem}</p>` : null}
${body}
</main>
<footer id="runs-on">This demo runs on ${runsOn()}, with the <code>@org/session-*</code> packages.</footer>
</body>
</html>`.value;
}

export function loginPage(input: {
  csrfToken: string;
  email?: string;
  notice?: string | null;
  problem?: string | null;
  /** The e-mail of the session this browser already has, if any: the header shows its menu. */
  signedInAs?: string | null;
}) {
  return layout(
    { title: 'Log in', ...input, email: input.signedInAs ?? null },
    html`<form method="post" action="/login" class="card">
  ${csrfField(input.csrfToken)}
  <label>Email <input type="email" name="email" autocomplete="username" required value="${input.email ?? ''}"></label>
  <label>Password <input type="password" name="password" autocomplete="current-password" required></label>
  <label class="check"><input type="checkbox" name="remember" value="1"> Remember me (a persistent cookie instead of one that ends with the browser)</label>
  <button type="submit">Log in</button>
</form>
<p>No account yet? <a href="/signup">Sign up</a>.</p>`,
  );
}

export function signupPage(input: {
  csrfToken: string;
  email?: string;
  notice?: string | null;
  problem?: string | null;
}) {
  return layout(
    { title: 'Sign up', ...input, email: null },
    html`<form method="post" action="/signup" class="card">
  ${csrfField(input.csrfToken)}
  <label>Email <input type="email" name="email" autocomplete="username" required value="${input.email ?? ''}"></label>
  <label>Password (at least 8 characters) <input type="password" name="password" autocomplete="new-password" minlength="8" required></label>
  <button type="submit">Create account</button>
</form>
<p>Passwords are hashed with scrypt and a per-user salt; the demo keeps users in SQLite.</p>`,
  );
}

/**
 * The one answer to every sign-up that passed the form checks, whether the e-mail was new or
 * already registered: the page never tells which.
 */
export function signupSentPage(input: { viewer?: Viewer | null } = {}) {
  return layout(
    { title: 'Check your e-mail', csrfToken: input.viewer?.csrfToken ?? '', email: input.viewer?.email },
    html`<section class="card">
  <p id="check-email">Check your e-mail to continue: we sent a message to the address you gave.</p>
  <p class="hint">A real app would send a confirmation mail (and, for an address that already has an
  account, a note saying so instead). This demo sends no mail: it prints the message to the server
  console. A new account is ready to use at once.</p>
  <p><a href="/login" id="continue-login">Log in</a></p>
</section>`,
  );
}

function deadline(label: string, at: number | null, now: number, id: string): SafeHtml {
  if (at === null) return html`<tr><th>${label}</th><td colspan="2">none</td></tr>`;
  return html`<tr><th>${label}</th><td>${timeElement(at)}</td>
<td id="${id}" data-deadline="${at}">${formatRelative(at, now)}</td></tr>`;
}

export function sessionsPage(input: {
  csrfToken: string;
  email: string;
  sessions: SessionView[];
  policy: ExpiryPolicyView;
  now: number;
  notice?: string | null;
}) {
  const current = input.sessions.find((s) => s.current);
  const others = input.sessions.filter((s) => !s.current).length;
  const { policy, now } = input;
  const expiry = current
    ? html`<section class="card" id="expiry">
  <h2>This session</h2>
  <table>
    ${deadline('Idle expiry', current.idleExpiresAt, now, 'idle-expiry')}
    ${deadline('Absolute expiry', current.absoluteExpiresAt, now, 'absolute-expiry')}
    ${deadline('Fresh for sensitive actions until', current.authenticatedAt + policy.reauthAfterMs, now, 'fresh-until')}
  </table>
  <p class="hint">Idle timeout ${policy.idleTimeoutMs === null ? 'off' : formatDuration(policy.idleTimeoutMs)}, absolute
  timeout ${formatDuration(policy.absoluteTimeoutMs)}. Activity pushes the idle deadline forward, with one store
  write at most every ${formatDuration(policy.touchIntervalMs)}; nothing extends the absolute deadline. Shorten both with
  <code>IDLE_TIMEOUT_MS</code> and <code>ABSOLUTE_TIMEOUT_MS</code> to watch a session expire.
  ${current.persistent ? 'This is a "remember me" session: its cookie outlives the browser.' : 'The cookie ends when the browser closes.'}</p>
  <p id="key-binding">${
    current.keyBound
      ? "Key-bound (DPoP): its tokens are refused without a proof from the client's key."
      : 'Not key-bound: a bearer session, usable by whoever holds its cookie. API clients can bind theirs with DPoP (see the README).'
  }</p>
</section>`
    : null;
  const rows = input.sessions.map(
    (s) => html`<tr class="${s.current ? 'current' : ''}" data-session="${s.handle}">
  <td data-label="Device"><strong>${s.device}</strong>${s.current ? html` <span class="badge">this device</span>` : null}${s.keyBound ? html` <span class="badge">key-bound (DPoP)</span>` : null}<br><small class="user-agent" title="${s.userAgent ?? 'no user agent'}">${s.userAgent ? deviceLabel(s.userAgent) : 'no user agent'}</small></td>
  <td data-label="IP">${s.ip ?? 'unknown'}</td>
  <td data-label="Created">${timeElement(s.createdAt)}</td>
  <td data-label="Last seen">${timeElement(s.lastSeenAt)}</td>
  <td>${
    s.current
      ? html`<form method="post" action="/logout">${csrfField(input.csrfToken)}<button type="submit">Log out</button></form>`
      : html`<form method="post" action="/sessions/revoke">${csrfField(input.csrfToken)}<input type="hidden" name="session" value="${s.handle}"><button type="submit">Log out this device</button></form>`
  }</td>
</tr>`,
  );
  return layout(
    { title: 'Active sessions', csrfToken: input.csrfToken, email: input.email, notice: input.notice },
    html`${expiry}
<section class="card">
  <h2>Where you are signed in</h2>
  <table id="sessions" class="stack">
    <thead><tr><th>Device</th><th>IP</th><th>Created</th><th>Last seen</th><th></th></tr></thead>
    <tbody>${rows}</tbody>
  </table>
  ${
    others > 0
      ? html`<form method="post" action="/sessions/revoke-others">${csrfField(input.csrfToken)}<button type="submit" id="revoke-others">Log out everywhere else (${others})</button></form>`
      : html`<p>No other sessions.</p>`
  }
</section>`,
  );
}

export function accountPage(input: {
  csrfToken: string;
  email: string;
  fresh: boolean;
  freshUntil: number;
  now: number;
  notice?: string | null;
  problem?: string | null;
}) {
  const freshness = input.fresh
    ? html`<p>You signed in recently: sensitive actions are allowed until ${timeElement(input.freshUntil)} (${formatRelative(input.freshUntil, input.now)}).</p>`
    : html`<p>You signed in a while ago: these actions will first ask for your password again.</p>`;
  return layout(
    { title: 'Account', ...input },
    html`${freshness}
<section class="card" id="change-password">
  <h2>Change password</h2>
  <form method="post" action="/account/password">
    ${csrfField(input.csrfToken)}
    <label>New password <input type="password" name="newPassword" autocomplete="new-password" minlength="8" required></label>
    <button type="submit">Change password</button>
  </form>
  <p class="hint">Changing the password logs out every other session.</p>
</section>
<section class="card danger" id="delete-account">
  <h2>Delete account</h2>
  <form method="post" action="/account/delete">
    ${csrfField(input.csrfToken)}
    <button type="submit" id="delete-account">Delete my account and every session</button>
  </form>
</section>`,
  );
}

export function reauthPage(input: { csrfToken: string; email: string; next: string; problem?: string | null }) {
  return layout(
    {
      title: 'Confirm it is you',
      ...input,
      notice: input.problem ? null : 'This action needs a recent login. Enter your password to continue.',
    },
    html`<form method="post" action="/reauth" class="card">
  ${csrfField(input.csrfToken)}
  <input type="hidden" name="next" value="${input.next}">
  <label>Password <input type="password" name="password" autocomplete="current-password" required></label>
  <button type="submit">Confirm</button>
</form>`,
  );
}

export function jwtPage(input: { csrfToken: string; email: string; origin: string; jwtTtlSeconds: number }) {
  return layout(
    { title: 'JSON API with a session JWT', csrfToken: input.csrfToken, email: input.email },
    html`<section class="card">
  <p>Other services verify a short-lived session JWT (${input.jwtTtlSeconds} s) with the public key from
  <a href="/.well-known/jwks.json">/.well-known/jwks.json</a>, without calling this server's session store.
  The script on this page asks for a JWT (a same-origin POST with the CSRF token), keeps it only in a
  variable, and calls <code>GET /api/me</code> with <code>Authorization: Bearer</code>. Nothing is written to
  web storage.</p>
  <button type="button" id="call-api" data-csrf="${input.csrfToken}">Get a JWT and call /api/me</button>
  <pre id="api-result" aria-live="polite"></pre>
</section>
<section class="card" id="reveal">
  <h2>Use it from a terminal</h2>
  <p>Any client holding a JWT can call the API. The JWT is your own session's; this page shows it only
  when you ask, and it expires after ${input.jwtTtlSeconds} s.</p>
  <button type="button" id="reveal-jwt" data-csrf="${input.csrfToken}">Reveal and copy my session JWT</button>
  <p id="reveal-status" class="hint" aria-live="polite"></p>
  <textarea id="jwt-value" readonly hidden rows="4" aria-label="Your session JWT"></textarea>
  <p>Then, in a terminal: <code>JWT='&lt;paste it here&gt;'</code> and
  <code>curl -H "Authorization: Bearer $JWT" ${input.origin}/api/me</code>. This demo checks the session
  behind the JWT on every call (strict mode), so logging out ends API access at once; a service that
  only checks the signature accepts the JWT until it expires.</p>
</section>`,
  );
}

export function messagePage(input: {
  title: string;
  message: string;
  /** A stable error code, shown small under the message (the heading stays in words). */
  code?: string | null;
  csrfToken?: string;
  email?: string | null;
  /** Who is signed in (takes the place of `email` and `csrfToken`): the header shows their menu. */
  viewer?: Viewer | null;
}) {
  return layout(
    {
      title: input.title,
      csrfToken: input.viewer?.csrfToken ?? input.csrfToken ?? '',
      email: input.viewer?.email ?? input.email ?? null,
    },
    html`<p>${input.message}</p>${input.code ? html`<p class="code"><small>Error code: <code id="error-code">${input.code}</code></small></p>` : null}<p><a href="/">Back to the start</a></p>`,
  );
}

/** Styles for every page, served from /demo.css (the CSP allows no inline styles). */
export const stylesheet = `
*, *::before, *::after { box-sizing: border-box; }
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; color: #1b1b1f; background: #f6f6f8; }
header { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; padding: .75rem 1.5rem; background: #23233a; color: #fff; }
header a { color: #cfd3ff; margin-right: .75rem; }
header nav { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; flex: 1; min-width: 0; }
header .who { margin-left: auto; opacity: .8; min-width: 0; max-width: 100%; overflow-wrap: anywhere; }
main { max-width: 60rem; margin: 1.5rem auto; padding: 0 1.5rem; }
footer { max-width: 60rem; margin: 2rem auto; padding: 0 1.5rem; color: #555; font-size: .85rem; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 8px; padding: 1rem 1.25rem; margin: 1rem 0; }
.card:target { outline: 3px solid #6b74d6; }
.danger { border-color: #d66; }
label { display: block; margin: .5rem 0; }
label.check { font-size: .9rem; }
input[type=email], input[type=password] { display: block; width: 100%; max-width: 24rem; padding: .4rem; }
button { padding: .4rem .9rem; cursor: pointer; }
form.inline { display: inline; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem; border-bottom: 1px solid #eee; vertical-align: top; }
tr.current { background: #eef7ee; }
.badge { background: #2d7a2d; color: #fff; border-radius: 4px; padding: 0 .4rem; font-size: .8rem; }
.notice { background: #eef3ff; border: 1px solid #9ab; padding: .5rem 1rem; border-radius: 6px; }
.problem { background: #fff0f0; border: 1px solid #d88; padding: .5rem 1rem; border-radius: 6px; }
.hint, .code { color: #555; font-size: .9rem; }
code { overflow-wrap: anywhere; }
pre { background: #f0f0f4; padding: .75rem; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
textarea { display: block; width: 100%; font: .85rem/1.4 ui-monospace, monospace; word-break: break-all; }
[hidden] { display: none; }
@media (max-width: 40rem) {
  header, main, footer { padding-left: .75rem; padding-right: .75rem; }
  .card { padding: .75rem; }
  table.stack thead { display: none; }
  table.stack tr { display: block; border-bottom: 1px solid #ddd; padding: .4rem 0; }
  table.stack td { display: block; border: 0; padding: .15rem .4rem; }
  table.stack td[data-label]::before { content: attr(data-label) ": "; color: #555; font-size: .85rem; }
}
`;

/**
 * The only script, served from /demo.js: shows every time in the viewer's own time zone (the
 * server renders UTC), live countdowns for the expiry deadlines (no requests, so watching the page
 * never keeps the session alive), the JWT API call and the JWT reveal (the JWT only ever in a
 * variable and the field it is shown in, never in web storage), and focus on the form that a
 * re-authentication resumed.
 */
export const script = `
'use strict';
function remaining(ms) {
  var s = Math.round(ms / 1000);
  if (s <= 0) return 'expired (reload to see the server agree)';
  if (s >= 3600) return 'in ' + Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  if (s >= 60) return 'in ' + Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
  return 'in ' + s + ' s';
}
function tick() {
  document.querySelectorAll('[data-deadline]').forEach(function (el) {
    el.textContent = remaining(Number(el.getAttribute('data-deadline')) - Date.now());
  });
}
function two(n) { return (n < 10 ? '0' : '') + n; }
function localTimes() {
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';
  document.querySelectorAll('time[datetime]').forEach(function (el) {
    var at = new Date(el.getAttribute('datetime'));
    if (isNaN(at.getTime())) return;
    el.title = el.textContent;
    el.textContent = at.getFullYear() + '-' + two(at.getMonth() + 1) + '-' + two(at.getDate()) + ' ' +
      two(at.getHours()) + ':' + two(at.getMinutes()) + ':' + two(at.getSeconds()) + ' (' + zone + ')';
  });
}
async function sessionJwt(button) {
  var issued = await fetch('/api/session-jwt', {
    method: 'POST',
    headers: { 'x-csrf-token': button.getAttribute('data-csrf') },
    credentials: 'same-origin',
  });
  var body = await issued.json();
  return issued.ok ? { jwt: body.jwt, expiresAt: body.expiresAt } : { problem: 'POST /api/session-jwt: ' + issued.status + ' ' + JSON.stringify(body) };
}
function callApi(button) {
  button.addEventListener('click', async function () {
    var out = document.getElementById('api-result');
    out.textContent = 'Asking for a session JWT...';
    var issued = await sessionJwt(button);
    if (!issued.jwt) { out.textContent = issued.problem; return; }
    var jwt = issued.jwt;
    var api = await fetch('/api/me', { headers: { authorization: 'Bearer ' + jwt }, credentials: 'omit' });
    out.textContent = 'GET /api/me with Authorization: Bearer <JWT, ' + jwt.length + ' characters>\\n' +
      api.status + ' ' + JSON.stringify(await api.json(), null, 2);
  });
}
function revealJwt(button) {
  button.addEventListener('click', async function () {
    var status = document.getElementById('reveal-status');
    var field = document.getElementById('jwt-value');
    status.textContent = 'Asking for a session JWT...';
    var issued = await sessionJwt(button);
    if (!issued.jwt) { status.textContent = issued.problem; return; }
    field.value = issued.jwt;
    field.hidden = false;
    field.focus();
    field.select();
    var until = issued.expiresAt ? ' It expires in ' + remaining(issued.expiresAt - Date.now()).replace('in ', '') + '.' : '';
    try {
      await navigator.clipboard.writeText(issued.jwt);
      status.textContent = 'Copied to the clipboard.' + until;
    } catch (error) {
      status.textContent = 'Selected: copy it with Ctrl+C (the browser did not allow copying).' + until;
    }
  });
}
document.addEventListener('DOMContentLoaded', function () {
  localTimes();
  tick();
  if (document.querySelector('[data-deadline]')) setInterval(tick, 1000);
  var api = document.getElementById('call-api');
  if (api) callApi(api);
  var reveal = document.getElementById('reveal-jwt');
  if (reveal) revealJwt(reveal);
});
// After the browser has scrolled to the fragment (which would take the focus back): the form that
// a re-authentication resumed gets the focus.
window.addEventListener('load', function () {
  var resumed = location.hash ? document.getElementById(location.hash.slice(1)) : null;
  var field = resumed && resumed.querySelector('input:not([type=hidden]), button');
  if (field) setTimeout(function () { field.focus(); }, 0);
});
`;

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
  email?: string | null;
  notice?: string | null;
  problem?: string | null;
  /** Pages with a script list it here; the CSP only allows same-origin scripts. */
  script?: boolean;
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
        <span class="who">${frame.email}</span>
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
${frame.script ? raw('<script src="/demo.js" defer></script>') : null}
</head>
<body>
<header><strong>session demo</strong> ${nav}</header>
<main>
<h1>${frame.title}</h1>
${frame.notice ? html`<p class="notice" role="status">${frame.notice}</p>` : null}
${frame.problem ? html`<p class="problem" role="alert">${frame.problem}</p>` : null}
${body}
</main>
</body>
</html>`.value;
}

export function loginPage(input: {
  csrfToken: string;
  email?: string;
  notice?: string | null;
  problem?: string | null;
}) {
  return layout(
    { title: 'Log in', ...input, email: null },
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

function deadline(label: string, at: number | null, now: number, id: string): SafeHtml {
  if (at === null) return html`<tr><th>${label}</th><td colspan="2">none</td></tr>`;
  return html`<tr><th>${label}</th><td><time datetime="${new Date(at).toISOString()}">${formatTime(at)}</time></td>
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
  <td><strong>${s.device}</strong>${s.current ? html` <span class="badge">this device</span>` : null}${s.keyBound ? html` <span class="badge">key-bound (DPoP)</span>` : null}<br><small>${s.userAgent ?? 'no user agent'}</small></td>
  <td>${s.ip ?? 'unknown'}</td>
  <td><time datetime="${new Date(s.createdAt).toISOString()}">${formatTime(s.createdAt)}</time></td>
  <td><time datetime="${new Date(s.lastSeenAt).toISOString()}">${formatTime(s.lastSeenAt)}</time></td>
  <td>${
    s.current
      ? html`<form method="post" action="/logout">${csrfField(input.csrfToken)}<button type="submit">Log out</button></form>`
      : html`<form method="post" action="/sessions/revoke">${csrfField(input.csrfToken)}<input type="hidden" name="session" value="${s.handle}"><button type="submit">Log out this device</button></form>`
  }</td>
</tr>`,
  );
  return layout(
    { title: 'Active sessions', csrfToken: input.csrfToken, email: input.email, notice: input.notice, script: true },
    html`${expiry}
<section class="card">
  <h2>Where you are signed in</h2>
  <table id="sessions">
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
    ? html`<p>You signed in recently: sensitive actions are allowed until ${formatTime(input.freshUntil)} (${formatRelative(input.freshUntil, input.now)}).</p>`
    : html`<p>You signed in a while ago: these actions will first ask for your password again.</p>`;
  return layout(
    { title: 'Account', ...input },
    html`${freshness}
<section class="card">
  <h2>Change password</h2>
  <form method="post" action="/account/password">
    ${csrfField(input.csrfToken)}
    <label>New password <input type="password" name="newPassword" autocomplete="new-password" minlength="8" required></label>
    <button type="submit">Change password</button>
  </form>
  <p class="hint">Changing the password logs out every other session.</p>
</section>
<section class="card danger">
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
    { title: 'JSON API with a session JWT', csrfToken: input.csrfToken, email: input.email, script: true },
    html`<section class="card">
  <p>Other services verify a short-lived session JWT (${input.jwtTtlSeconds} s) with the public key from
  <a href="/.well-known/jwks.json">/.well-known/jwks.json</a>, without calling this server's session store.
  The script on this page asks for a JWT (a same-origin POST with the CSRF token), keeps it only in a
  variable, and calls <code>GET /api/me</code> with <code>Authorization: Bearer</code>. Nothing is written to
  web storage.</p>
  <button type="button" id="call-api" data-csrf="${input.csrfToken}">Get a JWT and call /api/me</button>
  <pre id="api-result" aria-live="polite"></pre>
</section>
<section class="card">
  <p>Any client holding a JWT can call the API, for example from a terminal:
  <code>curl -H "Authorization: Bearer $JWT" ${input.origin}/api/me</code>. This demo checks the session
  behind the JWT on every call (strict mode), so logging out ends API access at once; a service that
  only checks the signature accepts the JWT until it expires.</p>
</section>`,
  );
}

export function messagePage(input: { title: string; message: string; csrfToken?: string; email?: string | null }) {
  return layout(
    { title: input.title, csrfToken: input.csrfToken ?? '', email: input.email ?? null },
    html`<p>${input.message}</p><p><a href="/">Back to the start</a></p>`,
  );
}

/** Styles for every page, served from /demo.css (the CSP allows no inline styles). */
export const stylesheet = `
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; color: #1b1b1f; background: #f6f6f8; }
header { display: flex; gap: 1rem; align-items: center; padding: .75rem 1.5rem; background: #23233a; color: #fff; }
header a { color: #cfd3ff; margin-right: .75rem; }
header nav { display: flex; align-items: center; gap: .5rem; flex: 1; }
header .who { margin-left: auto; opacity: .8; }
main { max-width: 60rem; margin: 1.5rem auto; padding: 0 1.5rem; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 8px; padding: 1rem 1.25rem; margin: 1rem 0; }
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
.hint { color: #555; font-size: .9rem; }
pre { background: #f0f0f4; padding: .75rem; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
`;

/**
 * The only script, served from /demo.js: live countdowns for the expiry deadlines (no requests, so
 * watching the page never keeps the session alive) and the JWT API call, which keeps the JWT in a
 * local variable only.
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
document.addEventListener('DOMContentLoaded', function () {
  tick();
  setInterval(tick, 1000);
  var button = document.getElementById('call-api');
  if (!button) return;
  button.addEventListener('click', async function () {
    var out = document.getElementById('api-result');
    out.textContent = 'Asking for a session JWT...';
    var issued = await fetch('/api/session-jwt', {
      method: 'POST',
      headers: { 'x-csrf-token': button.getAttribute('data-csrf') },
      credentials: 'same-origin',
    });
    var body = await issued.json();
    if (!issued.ok) { out.textContent = 'POST /api/session-jwt: ' + issued.status + ' ' + JSON.stringify(body); return; }
    var jwt = body.jwt;
    var api = await fetch('/api/me', { headers: { authorization: 'Bearer ' + jwt }, credentials: 'omit' });
    out.textContent = 'GET /api/me with Authorization: Bearer <JWT, ' + jwt.length + ' characters>\\n' +
      api.status + ' ' + JSON.stringify(await api.json(), null, 2);
  });
});
`;

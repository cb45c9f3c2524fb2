/**
 * Server-rendered pages of the demo authorization server: login, consent, sign-out and error.
 * Plain HTML with no script at all and one external stylesheet, so the pages work under a strict CSP
 * (see PAGE_CSP). Every dynamic value goes through escapeHtml.
 */

export const STYLESHEET_PATH = '/assets/demo-as.css';

export const STYLESHEET = `
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;padding:3rem 1rem;color:#1d2330}
main{max-width:24rem;margin:0 auto;background:#fff;border-radius:8px;padding:1.5rem 2rem;box-shadow:0 1px 3px rgba(0,0,0,.15)}
h1{font-size:1.3rem;margin-top:0}
label{display:block;margin:.8rem 0 .2rem;font-weight:600}
input{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}
button{margin-top:1rem;padding:.5rem 1.2rem;font-size:1rem;cursor:pointer}
.error{background:#fde8e8;color:#8a1c1c;padding:.5rem .8rem;border-radius:4px}
.hint{color:#5b6475;font-size:.85rem}
.actions{display:flex;gap:.8rem}
code{background:#eef0f3;padding:0 .3rem;border-radius:3px}
`;

/**
 * No scripts, no inline styles, no framing. form-action is deliberately absent: browsers apply it to the
 * redirects that follow a form POST, and the consent POST ends in a redirect to the client's redirect_uri.
 */
export const PAGE_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'";

export function escapeHtml(value: unknown): string {
  return String(value)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Demo authorization server</title>
<link rel="stylesheet" href="${STYLESHEET_PATH}">
</head>
<body>
<main>
${body}
</main>
</body>
</html>`;
}

export interface LoginPageInput {
  action: string;
  clientName: string;
  username?: string;
  error?: string;
}

export function renderLoginPage({ action, clientName, username, error }: LoginPageInput): string {
  return layout(
    'Sign in',
    `<h1>Sign in</h1>
<p>to continue to <strong>${escapeHtml(clientName)}</strong></p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${escapeHtml(action)}">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" required value="${escapeHtml(username ?? '')}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<p class="hint">Demo accounts: <code>alice</code> / <code>alice-demo-password</code>, <code>bob</code> / <code>bob-demo-password</code></p>`,
  );
}

export interface ConsentPageInput {
  action: string;
  clientName: string;
  clientId: string;
  username: string;
  scopes: string[];
  resource: string | undefined;
}

export function renderConsentPage({ action, clientName, clientId, username, scopes, resource }: ConsentPageInput): string {
  const items = scopes.map((s) => `<li><code>${escapeHtml(s)}</code></li>`).join('\n');
  return layout(
    'Authorize access',
    `<h1>Authorize ${escapeHtml(clientName)}</h1>
<p>Signed in as <strong>${escapeHtml(username)}</strong>.</p>
<p><strong>${escapeHtml(clientName)}</strong> <span class="hint">(${escapeHtml(clientId)})</span> asks for:</p>
<ul>
${items || '<li>basic access</li>'}
</ul>
${resource ? `<p class="hint">on <code>${escapeHtml(resource)}</code></p>` : ''}
<form method="post" action="${escapeHtml(action)}">
<div class="actions">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</div>
</form>`,
  );
}

export interface LogoutPageInput {
  /**
   * oidc-provider's own form (its action and the xsrf value that ties the answer to this sign-out),
   * markup it generated; the buttons go inside it.
   */
  form: string;
  /** Who is signed in here; empty when nobody is. */
  username: string;
  /** The application that asked for the sign-out, when it said which it is. */
  clientName: string | undefined;
}

/** OpenID Connect RP-Initiated Logout: the AS asks before it ends the person's sign-in here. */
export function renderLogoutPage({ form, username, clientName }: LogoutPageInput): string {
  const buttons = `<div class="actions">
<button type="submit" name="logout" value="yes" autofocus>Yes, sign me out</button>
<button type="submit">No, stay signed in</button>
</div>`;
  return layout(
    'Sign out',
    `<h1>Sign out of the demo authorization server?</h1>
${username ? `<p>Signed in as <strong>${escapeHtml(username)}</strong>.</p>` : ''}
${clientName ? `<p><strong>${escapeHtml(clientName)}</strong> asks to sign you out here too.</p>` : ''}
${form.replace('</form>', `${buttons}</form>`)}
<p class="hint">Signing out here ends your sign-in at this server for every application: the next one that connects asks for your password again.</p>`,
  );
}

/** After a sign-out that names no page to go back to. */
export function renderSignedOutPage(): string {
  return layout('Signed out', '<h1>Signed out</h1>\n<p>You are signed out of the demo authorization server. You can close this page.</p>');
}

export function renderErrorPage(title: string, details: Record<string, string | undefined>): string {
  const rows = Object.entries(details)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([k, v]) => `<p><strong>${escapeHtml(k)}</strong>: ${escapeHtml(v)}</p>`)
    .join('\n');
  return layout(title, `<h1>${escapeHtml(title)}</h1>\n${rows}`);
}

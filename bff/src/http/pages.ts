import type { LoginErrorCode } from '@mcp-bff/shared';

const MESSAGES: Record<LoginErrorCode, string> = {
  access_denied: 'Access was denied at the sign-in page.',
  authorization_failed: 'The sign-in response could not be verified.',
  login_expired: 'This sign-in attempt expired or was already used.',
  state_mismatch: 'This sign-in response does not belong to a sign-in started in this browser.',
  token_exchange_failed: 'The authorization server did not issue usable tokens.',
  authorization_server_unavailable: 'The authorization server is unavailable.',
  resource_mismatch: 'The MCP server describes itself as a different server than the one configured.',
  pkce_unsupported: 'The authorization server does not support the required security (PKCE with S256).',
  registration_failed: 'This app could not register with the authorization server.',
  insufficient_scope: 'The permission the server needs was not granted.',
  rate_limited: 'Too many sign-in attempts came from your network. Wait a minute and try again.',
  enterprise_access_denied: "Your organisation's identity provider, or the server's authorization server, refused access to this server.",
};

/** The BFF's own request ids (UUIDs): the only thing a page may show as a reference. */
const REFERENCE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A static page for a callback that is refused outright. It reflects nothing from the request: the
 * text comes from a fixed table keyed by our own code, and the reference is the BFF's own request id
 * (in the log lines of this request), for a person to quote when reporting it.
 */
export function loginFailedPage(code: LoginErrorCode, reference?: string): string {
  const ref = reference !== undefined && REFERENCE.test(reference) ? `\n<p>Reference: <code>${reference}</code></p>` : '';
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign-in failed</title></head>
<body>
<main>
<h1>Sign-in failed</h1>
<p>${MESSAGES[code]}</p>
<p>Nothing was changed. You can <a href="/">go back to the app</a> and sign in again.</p>${ref}
</main>
</body>
</html>
`;
}

/**
 * The same-site bounce after a login: the callback was reached by a navigation the authorization
 * server's page started, on which browsers withhold SameSite=Strict cookies. This page, on the app's
 * own origin, navigates on to /bff/callback/complete, which then carries them. No script: a meta
 * refresh, with a link for the rare browser that ignores it.
 */
export function loginBouncePage(next: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${next}"><title>Signing in…</title></head>
<body><main><p>Signing in… <a href="${next}">Continue</a></p></main></body>
</html>
`;
}

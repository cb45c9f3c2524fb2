import { createHash, randomBytes } from 'node:crypto';
import { CookieJar } from '../src/cookie-jar.js';
import { loginThroughForms } from '../src/login-driver.js';

/**
 * Small OAuth client helpers for tests against the demo authorization server: build the authorization
 * request, drive the login, exchange, refresh, revoke. Deliberately hand-rolled and literal (form
 * bodies, Basic auth) so that tests show exactly what goes on the wire.
 */
export interface TestClient {
  client_id: string;
  client_secret: string;
  redirect_uri: string;
}

export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope?: string;
  refresh_token?: string;
  id_token?: string;
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function randomState(): string {
  return randomBytes(16).toString('base64url');
}

export function authorizationUrl(
  issuer: string,
  params: {
    client: TestClient;
    scope: string;
    resource?: string;
    state: string;
    codeChallenge?: string;
    codeChallengeMethod?: string;
    extra?: Record<string, string>;
  },
): string {
  const url = new URL(`${issuer}/auth`);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', params.client.client_id);
  url.searchParams.set('redirect_uri', params.client.redirect_uri);
  url.searchParams.set('scope', params.scope);
  url.searchParams.set('state', params.state);
  if (params.resource !== undefined) url.searchParams.set('resource', params.resource);
  if (params.codeChallenge !== undefined) url.searchParams.set('code_challenge', params.codeChallenge);
  if (params.codeChallengeMethod !== undefined) url.searchParams.set('code_challenge_method', params.codeChallengeMethod);
  for (const [k, v] of Object.entries(params.extra ?? {})) url.searchParams.set(k, v);
  return url.href;
}

export function basicAuth(client: Pick<TestClient, 'client_id' | 'client_secret'>): string {
  // RFC 6749 §2.3.1: form-urlencode id and secret before base64.
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(client.client_id)}:${enc(client.client_secret)}`).toString('base64')}`;
}

/** POSTs a form to the token (or revocation) endpoint with client_secret_basic. */
export async function postForm(url: string, client: TestClient, form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: basicAuth(client), 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(form),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

export function exchangeCode(issuer: string, client: TestClient, code: string, verifier: string, resource?: string) {
  return postForm(`${issuer}/token`, client, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: client.redirect_uri,
    code_verifier: verifier,
    ...(resource !== undefined ? { resource } : {}),
  });
}

export function refreshTokens(issuer: string, client: TestClient, refreshToken: string, resource?: string) {
  return postForm(`${issuer}/token`, client, {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    ...(resource !== undefined ? { resource } : {}),
  });
}

export function revokeToken(issuer: string, client: TestClient, token: string, hint?: string) {
  return postForm(`${issuer}/token/revocation`, client, { token, ...(hint ? { token_type_hint: hint } : {}) });
}

/**
 * The whole authorization-code + PKCE flow as a user would go through it: authorization request with
 * `resource`, login and consent through the real forms, state and iss checks, code exchange.
 */
export async function loginAndGetTokens(options: {
  issuer: string;
  resource: string;
  client: TestClient;
  scope?: string;
  user?: string;
  password?: string;
  cookieJar?: CookieJar;
}): Promise<TokenResponse> {
  const { issuer, resource, client } = options;
  const { verifier, challenge } = pkcePair();
  const state = randomState();
  const redirect = await loginThroughForms(
    authorizationUrl(issuer, {
      client,
      scope: options.scope ?? 'mcp:tools offline_access',
      resource,
      state,
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
    }),
    options.user,
    options.password,
    'allow',
    options.cookieJar ?? new CookieJar(),
  );
  if (redirect.searchParams.get('state') !== state) throw new Error('state mismatch');
  if (redirect.searchParams.get('iss') !== issuer) throw new Error('iss mismatch');
  const code = redirect.searchParams.get('code');
  if (!code) throw new Error(`no code in ${redirect.href}`);
  const { status, body } = await exchangeCode(issuer, client, code, verifier, resource);
  if (status !== 200) throw new Error(`token endpoint answered ${status}: ${JSON.stringify(body)}`);
  return body as unknown as TokenResponse;
}

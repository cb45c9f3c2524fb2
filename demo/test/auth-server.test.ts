import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieJar } from '../src/cookie-jar.js';
import { type DemoStack, startDemoStack } from '../src/demo-stack.js';
import { LoginDriverError, loginThroughForms } from '../src/login-driver.js';
import {
  authorizationUrl,
  exchangeCode,
  loginAndGetTokens,
  pkcePair,
  randomState,
  refreshTokens,
  revokeToken,
  type TestClient,
} from './oauth-flow.js';

const client: TestClient = {
  client_id: 'test-bff',
  client_secret: 'test-bff-secret',
  redirect_uri: 'http://localhost:3999/bff/callback',
};

let stack: DemoStack;
let issuer: string;
let resource: string;

beforeAll(async () => {
  stack = await startDemoStack({
    clients: [{ client_id: client.client_id, client_secret: client.client_secret, redirect_uris: [client.redirect_uri], client_name: 'Test BFF' }],
  });
  ({ issuer, resource } = stack);
});

afterAll(async () => {
  await stack?.close();
});

/** Starts an authorization request and follows it to the login page; returns the page and the jar. */
async function openLoginPage(jar: CookieJar) {
  const { challenge } = pkcePair();
  let url = new URL(
    authorizationUrl(issuer, { client, scope: 'mcp:tools', resource, state: randomState(), codeChallenge: challenge, codeChallengeMethod: 'S256' }),
  );
  for (let i = 0; i < 5; i++) {
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header(url) ?? '' } });
    jar.store(url, res.headers);
    const location = res.headers.get('location');
    if (!location) return { url, res, html: await res.text() };
    url = new URL(location, url);
  }
  throw new Error('too many redirects');
}

describe('metadata', () => {
  it('serves the same RFC 8414 and OpenID discovery documents', async () => {
    const oauth = await fetch(`${issuer}/.well-known/oauth-authorization-server`);
    const oidc = await fetch(`${issuer}/.well-known/openid-configuration`);
    expect(oauth.status).toBe(200);
    expect(oidc.status).toBe(200);
    const a = (await oauth.json()) as Record<string, unknown>;
    const b = (await oidc.json()) as Record<string, unknown>;
    expect(a).toEqual(b);
    expect(a).toMatchObject({
      issuer,
      authorization_endpoint: `${issuer}/auth`,
      token_endpoint: `${issuer}/token`,
      jwks_uri: `${issuer}/jwks`,
      revocation_endpoint: `${issuer}/token/revocation`,
      registration_endpoint: `${issuer}/reg`,
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
    });
    expect(a.scopes_supported).toEqual(expect.arrayContaining(['mcp:tools', 'mcp:admin', 'offline_access']));
    expect(a.token_endpoint_auth_methods_supported).toContain('client_secret_basic');
  });

  it('publishes an RS256 signing key', async () => {
    const jwks = (await (await fetch(`${issuer}/jwks`)).json()) as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(jwks.keys[0]).not.toHaveProperty('d'); // public part only
  });
});

describe('authorization code + PKCE', () => {
  it('logs in through the real pages and issues an audience-bound JWT and a refresh token', async () => {
    const { verifier, challenge } = pkcePair();
    const state = randomState();
    const jar = new CookieJar();
    const before = stack.authServer.tokenRequests.length;

    // Step by step, to prove what the pages look like.
    const first = await openLoginPage(jar);
    expect(first.res.status).toBe(200);
    expect(first.url.pathname).toMatch(/^\/interaction\/[\w-]+$/);
    expect(first.res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(first.html).toContain('<label for="username">Username</label>');
    expect(first.html).toContain('<label for="password">Password</label>');
    expect(first.html).toContain('>Sign in</button>');
    expect(first.html).toContain('Test BFF');
    expect(first.html).not.toMatch(/<script/i);
    expect(first.html).not.toMatch(/\sstyle=/i);

    // The driver does the same and goes on through consent.
    const redirect = await loginThroughForms(
      authorizationUrl(issuer, {
        client,
        scope: 'mcp:tools offline_access',
        resource,
        state,
        codeChallenge: challenge,
        codeChallengeMethod: 'S256',
      }),
      'alice',
      'alice-demo-password',
      'allow',
      jar,
    );
    expect(`${redirect.origin}${redirect.pathname}`).toBe(client.redirect_uri);
    expect(redirect.searchParams.get('state')).toBe(state);
    expect(redirect.searchParams.get('iss')).toBe(issuer); // RFC 9207
    const code = redirect.searchParams.get('code');
    expect(code).toBeTruthy();
    // Authorization codes live 60 s.
    const stored = await stack.authServer.provider.AuthorizationCode.find(code ?? '');
    expect((stored?.exp ?? 0) - (stored?.iat ?? 0)).toBe(60);
    // No token request happened during the browser part.
    expect(stack.authServer.tokenRequests.length).toBe(before);

    const { status, body } = await exchangeCode(issuer, client, code ?? '', verifier, resource);
    expect(status).toBe(200);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 600 });
    expect(typeof body.refresh_token).toBe('string');
    expect(body).not.toHaveProperty('id_token'); // plain OAuth request, no openid
    const accessToken = body.access_token as string;
    expect(decodeProtectedHeader(accessToken)).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    const claims = decodeJwt(accessToken);
    expect(claims).toMatchObject({ iss: issuer, aud: resource, sub: 'alice', client_id: client.client_id, scope: 'mcp:tools' });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(600);

    expect(stack.authServer.tokenRequests.slice(before).map((r) => r.grantType)).toEqual(['authorization_code']);

    // Single use: the same code again is refused.
    const again = await exchangeCode(issuer, client, code ?? '', verifier, resource);
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_grant');
    // ... and, per RFC 9700 §4.5.3, replaying a code revokes what it had issued.
    const afterReplay = await refreshTokens(issuer, client, body.refresh_token as string, resource);
    expect(afterReplay.body.error).toBe('invalid_grant');
    expect(stack.authServer.tokenRequests.slice(before).map((r) => r.grantType)).toEqual([
      'authorization_code',
      'authorization_code',
      'refresh_token',
    ]);
  });

  it('works without a resource parameter too (default resource) and with openid', async () => {
    const tokens = await loginAndGetTokens({ issuer, resource, client, scope: 'openid mcp:tools mcp:admin' });
    expect(typeof tokens.id_token).toBe('string');
    expect(decodeJwt(tokens.access_token)).toMatchObject({ aud: resource, scope: 'mcp:tools mcp:admin' });
    const refreshed = await refreshTokens(issuer, client, tokens.refresh_token ?? ''); // no resource
    expect(refreshed.status).toBe(200);
    expect(decodeJwt(refreshed.body.access_token as string)).toMatchObject({ aud: resource, scope: 'mcp:tools mcp:admin' });
  });

  it('rotates refresh tokens: the new one works, the old one is refused', async () => {
    const tokens = await loginAndGetTokens({ issuer, resource, client });
    const first = await refreshTokens(issuer, client, tokens.refresh_token ?? '', resource);
    expect(first.status).toBe(200);
    expect(first.body.refresh_token).toEqual(expect.any(String));
    expect(first.body.refresh_token).not.toBe(tokens.refresh_token);
    expect(decodeProtectedHeader(first.body.access_token as string).typ).toBe('at+jwt');
    expect(decodeJwt(first.body.access_token as string)).toMatchObject({ aud: resource, sub: 'alice', scope: 'mcp:tools' });

    const second = await refreshTokens(issuer, client, first.body.refresh_token as string, resource);
    expect(second.status).toBe(200);

    const reused = await refreshTokens(issuer, client, tokens.refresh_token ?? '', resource);
    expect(reused.status).toBe(400);
    expect(reused.body.error).toBe('invalid_grant');
  });

  it('refuses an unknown resource indicator', async () => {
    const { challenge } = pkcePair();
    const res = await fetch(
      authorizationUrl(issuer, {
        client,
        scope: 'mcp:tools',
        resource: `${resource}/other`,
        state: 's',
        codeChallenge: challenge,
        codeChallengeMethod: 'S256',
      }),
      { redirect: 'manual' },
    );
    const location = new URL(res.headers.get('location') ?? '', issuer);
    expect(location.searchParams.get('error')).toBe('invalid_target');
  });

  it('refuses PKCE plain and requests without PKCE', async () => {
    for (const extra of [
      { codeChallenge: 'a'.repeat(43), codeChallengeMethod: 'plain' },
      {},
    ]) {
      const res = await fetch(authorizationUrl(issuer, { client, scope: 'mcp:tools', resource, state: 'st', ...extra }), { redirect: 'manual' });
      expect(res.status).toBe(303);
      const location = new URL(res.headers.get('location') ?? '');
      expect(`${location.origin}${location.pathname}`).toBe(client.redirect_uri);
      expect(location.searchParams.get('error')).toBe('invalid_request');
      expect(location.searchParams.get('iss')).toBe(issuer);
      expect(location.searchParams.get('state')).toBe('st');
    }
  });

  it('refuses a wrong code_verifier', async () => {
    const { challenge } = pkcePair();
    const redirect = await loginThroughForms(
      authorizationUrl(issuer, { client, scope: 'mcp:tools', resource, state: 'x', codeChallenge: challenge, codeChallengeMethod: 'S256' }),
    );
    const { status, body } = await exchangeCode(issuer, client, redirect.searchParams.get('code') ?? '', pkcePair().verifier, resource);
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_grant');
  });

  it('Deny sends access_denied to the client', async () => {
    const { challenge } = pkcePair();
    const redirect = await loginThroughForms(
      authorizationUrl(issuer, { client, scope: 'mcp:tools', resource, state: 'deny-state', codeChallenge: challenge, codeChallengeMethod: 'S256' }),
      'bob',
      'bob-demo-password',
      'deny',
    );
    expect(`${redirect.origin}${redirect.pathname}`).toBe(client.redirect_uri);
    expect(redirect.searchParams.get('error')).toBe('access_denied');
    expect(redirect.searchParams.get('state')).toBe('deny-state');
    expect(redirect.searchParams.get('iss')).toBe(issuer);
    expect(redirect.searchParams.has('code')).toBe(false);
  });

  it('re-shows the login form with an error after a wrong password', async () => {
    const jar = new CookieJar();
    const page = await openLoginPage(jar);
    const action = /<form method="post" action="([^"]+)"/.exec(page.html)?.[1] ?? '';
    const target = new URL(action, page.url);
    const res = await fetch(target, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: jar.header(target) ?? '', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: 'alice', password: 'wrong' }),
    });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('Wrong username or password.');
    expect(html).toContain('<label for="password">Password</label>');
    expect(html).toContain('value="alice"');

    await expect(
      loginThroughForms(page.url.href.replace(/\/interaction\/.*/, '/nothing'), 'alice', 'x'),
    ).rejects.toBeInstanceOf(LoginDriverError);
    const { challenge } = pkcePair();
    await expect(
      loginThroughForms(
        authorizationUrl(issuer, { client, scope: 'mcp:tools', resource, state: 'x', codeChallenge: challenge, codeChallengeMethod: 'S256' }),
        'alice',
        'wrong',
      ),
    ).rejects.toThrow(/login as alice failed/);
  });

  it('shows a consent page with the client name and requested scopes', async () => {
    const jar = new CookieJar();
    const page = await openLoginPage(jar);
    const action = /<form method="post" action="([^"]+)"/.exec(page.html)?.[1] ?? '';
    let url = new URL(action, page.url);
    let res = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: jar.header(url) ?? '', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: 'alice', password: 'alice-demo-password' }),
    });
    expect(res.status).toBe(303); // POST -> 303 back to the provider
    for (let location = res.headers.get('location'); location; location = res.headers.get('location')) {
      jar.store(url, res.headers);
      url = new URL(location, url);
      res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header(url) ?? '' } });
    }
    expect(url.pathname).toMatch(/^\/interaction\/[\w-]+$/);
    const html = await res.text();
    expect(html).toContain('<h1>Authorize Test BFF</h1>');
    expect(html).toContain('Signed in as <strong>alice</strong>');
    expect(html).toContain('<li><code>mcp:tools</code></li>');
    expect(html).toContain(`<code>${resource}</code>`);
    expect(html).toContain('<button type="submit" name="decision" value="allow">Allow</button>');
    expect(html).toContain('<button type="submit" name="decision" value="deny">Deny</button>');
    expect(html).not.toMatch(/<script/i);
  });

  it('refuses a login POST without the interaction cookie (another browser, CSRF)', async () => {
    const page = await openLoginPage(new CookieJar());
    const action = /<form method="post" action="([^"]+)"/.exec(page.html)?.[1] ?? '';
    const res = await fetch(new URL(action, page.url), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: 'alice', password: 'alice-demo-password' }),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });

  it('skips login and consent on a second request in the same browser session', async () => {
    const jar = new CookieJar();
    await loginAndGetTokens({ issuer, resource, client, cookieJar: jar, user: 'bob', password: 'bob-demo-password' });
    // Wrong password given to the driver: it must not be needed.
    const tokens = await loginAndGetTokens({ issuer, resource, client, cookieJar: jar, user: 'bob', password: 'unused' });
    expect(decodeJwt(tokens.access_token).sub).toBe('bob');
  });
});

describe('token endpoint bookkeeping', () => {
  it('records failed token requests too (bad client credentials, unreadable body)', async () => {
    const before = stack.authServer.tokenRequests.length;
    const badClient = await refreshTokens(issuer, { ...client, client_secret: 'wrong' }, 'whatever', resource);
    expect(badClient.status).toBe(401);
    expect(badClient.body.error).toBe('invalid_client');
    const notAForm = await fetch(`${issuer}/token`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'grant_type=refresh_token' });
    expect(notAForm.status).toBe(400);
    expect(stack.authServer.tokenRequests.slice(before).map((r) => r.grantType)).toEqual(['refresh_token', '']);
  });
});

describe('revocation', () => {
  it('revokes a refresh token (RFC 7009) and records the request', async () => {
    const tokens = await loginAndGetTokens({ issuer, resource, client });
    const before = stack.authServer.revocations.length;
    const res = await revokeToken(issuer, client, tokens.refresh_token ?? '', 'refresh_token');
    expect(res.status).toBe(200);
    expect(stack.authServer.revocations.slice(before).map((r) => r.hint)).toEqual(['refresh_token']);
    const refreshed = await refreshTokens(issuer, client, tokens.refresh_token ?? '', resource);
    expect(refreshed.body.error).toBe('invalid_grant');
  });
});

describe('dynamic client registration', () => {
  it('registers a client and escapes its name on the login page', async () => {
    const redirectUri = 'http://localhost:3999/other/callback';
    const reg = await fetch(`${issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [redirectUri], client_name: '<img src=x onerror=alert(1)>"&' }),
    });
    expect(reg.status).toBe(201);
    const registered = (await reg.json()) as Record<string, unknown>;
    expect(registered).toMatchObject({
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
    });
    const dynamic: TestClient = {
      client_id: registered.client_id as string,
      client_secret: registered.client_secret as string,
      redirect_uri: redirectUri,
    };

    const { challenge } = pkcePair();
    const res = await fetch(
      authorizationUrl(issuer, { client: dynamic, scope: 'mcp:tools', resource, state: 's', codeChallenge: challenge, codeChallengeMethod: 'S256' }),
      { redirect: 'manual' },
    );
    const jar = new CookieJar();
    const loginUrl = new URL(res.headers.get('location') ?? '', issuer);
    jar.store(issuer, res.headers);
    const page = await (await fetch(loginUrl, { headers: { cookie: jar.header(loginUrl) ?? '' } })).text();
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;&quot;&amp;');
    expect(page).not.toContain('<img');

    const tokens = await loginAndGetTokens({ issuer, resource, client: dynamic });
    expect(decodeJwt(tokens.access_token)).toMatchObject({ aud: resource, client_id: dynamic.client_id });
  });
});

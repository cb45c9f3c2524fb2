import type { ConnectionDetails } from '@mcp-bff/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unsealData } from 'iron-session';
import { DEMO_CLIENT, DEMO_SESSION_SECRET, type Stack, startStack } from '../../demo/src/stack.js';
import { loginThroughForms } from '../../demo/src/login-driver.js';
import { expireSoon, TestBrowser } from './support.js';

/**
 * GET /bff/servers/:server/connection against the real demo authorization server and MCP server: what
 * the login found and did, the client, scopes, lifetimes and refreshes, a failed login's steps, and
 * the access token's claims only when the deployment turns them on. Never a token.
 */

let stack: Stack;
let withClaims: Stack;
beforeAll(async () => {
  [stack, withClaims] = await Promise.all([startStack(), startStack({ env: { CONNECTION_CLAIMS: '1' } })]);
});
afterAll(async () => {
  await Promise.all([stack?.close(), withClaims?.close()]);
});

async function details(browser: TestBrowser, server = 'default'): Promise<{ res: Response; text: string; body: ConnectionDetails }> {
  const res = await browser.request(`/bff/servers/${server}/connection`);
  const text = await res.text();
  return { res, text, body: JSON.parse(text) as ConnectionDetails };
}

/** Every secret the BFF holds for this browser's connection: none may appear in what it answers. */
async function secretsOf(s: Stack, browser: TestBrowser): Promise<string[]> {
  const record = await s.store.getConnection(await browser.sessionId(), 'default');
  if (!record) throw new Error('not connected');
  const [header, payload, signature] = record.accessToken.split('.');
  return [record.accessToken, record.refreshToken as string, `${header}.${payload}`, signature as string, DEMO_CLIENT.client_secret].filter(Boolean);
}

describe('connection details', () => {
  it('after a login: where discovery found what, the configured client, scopes, lifetimes; no claims with the switch off; no token', async () => {
    const browser = new TestBrowser(stack.appUrl);
    const callback = await browser.authorize();
    // The login's own secrets: the code, and the verifier and state in the sealed login cookie.
    const sealed = /mcp_login=([^;]+)/.exec(browser.jar.header(`${stack.appUrl}/bff/callback`) ?? '')?.[1] as string;
    const transaction = await unsealData<{ codeVerifier: string; state: string }>(sealed, { password: { 1: DEMO_SESSION_SECRET } });
    const loginSecrets = [callback.searchParams.get('code') as string, transaction.codeVerifier, transaction.state];
    expect(loginSecrets.every((s) => s.length >= 16)).toBe(true);
    await browser.finishLogin(callback);
    const { res, text, body } = await details(browser);
    for (const secret of loginSecrets) expect(text.includes(secret), 'a login secret in the answer').toBe(false);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const mcpOrigin = new URL(stack.mcpUrl).origin;
    expect(body).toMatchObject({
      server: 'default',
      name: 'Demo MCP server',
      status: 'connected',
      discovery: {
        resourceMetadataUrl: `${mcpOrigin}/.well-known/oauth-protected-resource/mcp`,
        resource: stack.mcpUrl,
        authorizationServers: [stack.issuer],
        authorizationServerMetadataUrl: `${stack.issuer}/.well-known/oauth-authorization-server`,
        issuer: stack.issuer,
      },
      client: { source: 'configuration', clientId: 'mcp-bff-demo' },
      scopes: { requested: ['mcp:tools'], granted: ['mcp:tools'] },
      token: { lifetimeSeconds: 600, refreshable: true },
      lastRefresh: null,
      claims: { enabled: false, header: null, payload: null },
      login: { outcome: 'succeeded', error: null },
    });
    // First used now, so bound to this issuer since about now.
    expect(body.client?.since).toBeGreaterThan(Date.now() - 60_000);
    expect(body.token?.nextRefreshAt).toBe((body.token?.expiresAt as number) - 300_000);
    expect(body.login?.steps.map((s) => [s.step, s.status])).toEqual([
      ['resource_metadata', 'ok'],
      ['authorization_server_metadata', 'ok'],
      ['client', 'ok'],
      ['authorization_request', 'ok'],
      ['authorization_response', 'ok'],
      ['token_exchange', 'ok'],
    ]);
    expect(body.login?.steps.find((s) => s.step === 'token_exchange')?.url).toBe(`${stack.issuer}/token`);
    for (const secret of await secretsOf(stack, browser)) expect(text.includes(secret), 'a secret in the answer').toBe(false);
    expect(text).not.toMatch(/eyJ/);
  });

  it('with CONNECTION_CLAIMS=1: the JWT access token header and payload, decoded by the BFF, and never the token or its signature', async () => {
    const browser = new TestBrowser(withClaims.appUrl);
    await browser.login({ user: 'bob' });
    const { text, body } = await details(browser);
    expect(body.claims.enabled).toBe(true);
    expect(body.claims.header).toMatchObject({ alg: 'RS256' });
    expect(body.claims.payload).toMatchObject({ iss: withClaims.issuer, aud: withClaims.mcpUrl, scope: 'mcp:tools' });
    expect(typeof body.claims.payload?.exp).toBe('number');
    for (const secret of await secretsOf(withClaims, browser)) expect(text.includes(secret), 'a secret in the answer').toBe(false);
  });

  it('a refresh is shown with when it happened; a refresh the AS could not answer, with what it means', async () => {
    const browser = new TestBrowser(stack.appUrl);
    await browser.login();
    const sid = await browser.sessionId();
    await expireSoon(stack, sid);
    const client = await browser.mcpClient();
    await client.listTools();
    await client.close();
    const refreshed = (await details(browser)).body;
    expect(refreshed.lastRefresh).toMatchObject({ outcome: 'ok' });
    expect(refreshed.lastRefresh?.at).toBeGreaterThan(Date.now() - 60_000);
    // What the login found stays with the connection across refreshes.
    expect(refreshed.discovery?.issuer).toBe(stack.issuer);

    await expireSoon(stack, sid);
    await stack.stopAuthServer();
    try {
      const res = await browser.request('/mcp/default', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
      });
      expect(res.status).toBe(503);
    } finally {
      await stack.startAuthServer();
    }
    const failed = (await details(browser)).body;
    expect(failed.status).toBe('connected');
    expect(failed.lastRefresh).toMatchObject({ outcome: 'failed' });
    expect(failed.lastRefresh?.detail).toMatch(/could not be reached.*connection is kept/);
  }, 60_000);

  it('a denied consent: the steps up to the authorization response, which failed, and why in words to act on', async () => {
    const browser = new TestBrowser(stack.appUrl);
    const callback = await browser.authorize({ consent: 'deny', returnTo: '/servers/default/connection' });
    const res = await browser.request(callback.pathname + callback.search, { csrf: false });
    expect(res.headers.get('location')).toMatch(/^\/servers\/default\/connection\?login_error=access_denied&login_ref=[0-9a-f-]{36}$/);
    const { body, text } = await details(browser);
    expect(body.status).toBe('login_required');
    expect(body.login).toMatchObject({ outcome: 'failed', error: 'access_denied' });
    expect(body.login?.steps.map((s) => [s.step, s.status])).toEqual([
      ['resource_metadata', 'ok'],
      ['authorization_server_metadata', 'ok'],
      ['client', 'ok'],
      ['authorization_request', 'ok'],
      ['authorization_response', 'failed'],
    ]);
    expect(body.login?.steps.at(-1)?.detail).toMatch(/declined.*Connect again and allow access/);
    expect(body.discovery?.issuer).toBe(stack.issuer);
    // The AS's own words are never shown, nor anything of the callback.
    expect(text).not.toContain(callback.searchParams.get('state') as string);
    expect(text).not.toMatch(/error_description|code_verifier/);

    // Another browser sees nothing of it.
    expect((await details(new TestBrowser(stack.appUrl))).body.login).toBeNull();
    // A successful login afterwards replaces it.
    await browser.login();
    expect((await details(browser)).body.login).toMatchObject({ outcome: 'succeeded' });
  });

  it('a login that fails at its start names the step: the authorization server is down', async () => {
    // A stack of its own: nothing of its authorization server's metadata is cached yet.
    const fresh = await startStack();
    const browser = new TestBrowser(fresh.appUrl);
    let body: ConnectionDetails;
    try {
      await fresh.stopAuthServer();
      const res = await browser.request('/bff/login?server=default&returnTo=/', { csrf: false });
      expect(res.headers.get('location')).toMatch(/^\/\?login_error=authorization_server_unavailable&login_ref=[0-9a-f-]{36}$/);
      body = (await details(browser)).body;
    } finally {
      await fresh.close();
    }
    expect(body.login).toMatchObject({ outcome: 'failed', error: 'authorization_server_unavailable' });
    const failed = body.login?.steps.at(-1);
    expect(failed).toMatchObject({ step: 'authorization_server_metadata', status: 'failed' });
    expect(failed?.detail).toMatch(/could not be reached.*Try again in a moment/);
    expect(body.discovery?.resourceMetadataUrl).toBe(`${new URL(fresh.mcpUrl).origin}/.well-known/oauth-protected-resource/mcp`);
  });

  it('an authorization code the AS will not exchange: the token exchange step failed, and what to do', async () => {
    const browser = new TestBrowser(stack.appUrl);
    const callback = await browser.authorize();
    callback.searchParams.set('code', 'not-a-real-code');
    const res = await browser.request(callback.pathname + callback.search, { csrf: false });
    expect(res.headers.get('location')).toMatch(/^\/\?login_error=token_exchange_failed&login_ref=[0-9a-f-]{36}$/);
    const { body } = await details(browser);
    expect(body.login).toMatchObject({ outcome: 'failed', error: 'token_exchange_failed' });
    expect(body.login?.steps.at(-2)).toMatchObject({ step: 'authorization_response', status: 'ok' });
    expect(body.login?.steps.at(-1)).toMatchObject({ step: 'token_exchange', status: 'failed' });
    expect(body.login?.steps.at(-1)?.detail).toMatch(/would not exchange the authorization code.*Connect again/);
  });

  it('a dynamically registered client: its source, when it was registered, and where', async () => {
    const two = await startStack({ secondServer: true });
    try {
      const browser = new TestBrowser(two.appUrl);
      const start = await browser.request('/bff/login?server=notes&returnTo=/', { csrf: false });
      const callback = await loginThroughForms(start.headers.get('location') as string, 'alice', 'alice-demo-password', 'allow', browser.asJar);
      await browser.finishLogin(callback);
      const { body } = await details(browser, 'notes');
      const registered = two.second?.as.registrations[0];
      expect(body.client).toEqual({ source: 'dynamic_registration', clientId: registered?.clientId, since: expect.any(Number) });
      expect(Math.abs((body.client?.since as number) - (registered?.at as number))).toBeLessThan(5_000);
      expect(body.login?.steps.find((s) => s.step === 'client')).toMatchObject({ status: 'ok', url: `${two.second?.issuer}/reg` });
      expect(body.discovery?.issuer).toBe(two.second?.issuer);
    } finally {
      await two.close();
    }
  });

  it('same rules as every /bff endpoint: X-CSRF required, unknown servers are 404, nobody else sees anything', async () => {
    const browser = new TestBrowser(stack.appUrl);
    expect((await browser.request('/bff/servers/default/connection', { csrf: false })).status).toBe(403);
    expect((await browser.request('/bff/servers/default/connection', { headers: { origin: 'https://evil.example' } })).status).toBe(403);
    expect((await browser.request('/bff/servers/nowhere/connection')).status).toBe(404);
    const { body } = await details(browser);
    expect(body).toMatchObject({ status: 'login_required', discovery: null, client: null, scopes: null, token: null, lastRefresh: null, login: null });
  });
});

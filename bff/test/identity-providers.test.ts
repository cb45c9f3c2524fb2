import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginThroughForms } from '../../demo/src/login-driver.js';
import { type Stack, startStack } from '../../demo/src/stack.js';
import { createLogger } from '../src/log.js';
import { expireSoon, grants, MCP_HEADERS, rpc, TestBrowser } from './support.js';

/**
 * Per-server settings for the quirks of real identity providers, each against the demo authorization
 * server (oidc-provider) configured to behave as that provider does.
 */

/** The 401 of a first MCP request, its login URL, the AS's pages: the callback URL the AS sent the browser to. */
async function authorizeAt(browser: TestBrowser, server: string): Promise<{ authorizationUrl: URL; callback: URL }> {
  const first = await browser.request(`/mcp/${server}`, { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') });
  expect(first.status).toBe(401);
  const { loginUrl } = (await first.json()) as { loginUrl: string };
  const login = await browser.request(loginUrl, { csrf: false });
  expect(login.status).toBe(302);
  const authorizationUrl = new URL(login.headers.get('location') as string);
  const callback = await loginThroughForms(authorizationUrl.href, 'alice', 'alice-demo-password', 'allow', browser.asJar);
  return { authorizationUrl, callback };
}

async function whoami(browser: TestBrowser, server = 'default'): Promise<unknown> {
  const client = await browser.mcpClient(server);
  try {
    return (await client.callTool({ name: 'whoami', arguments: {} })).structuredContent;
  } finally {
    await client.close();
  }
}

function logSink(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, stream };
}

describe('Auth0: an API audience in the authorization request', () => {
  const AUDIENCE = 'https://mcp-api.example.com/';
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      authServer: { requireAudience: AUDIENCE },
      env: { OAUTH_AUTHORIZATION_PARAMS: new URLSearchParams({ audience: AUDIENCE, prompt: 'consent' }).toString() },
    });
  });
  afterAll(() => stack?.close());

  it('sends the configured parameters, logs in and calls a tool; the AS refuses a request without them', async () => {
    const browser = new TestBrowser(stack.appUrl);
    const { authorizationUrl, callback } = await authorizeAt(browser, 'default');
    expect(authorizationUrl.searchParams.get('audience')).toBe(AUDIENCE);
    expect(authorizationUrl.searchParams.get('prompt')).toBe('consent');
    // The protocol's own parameters are the BFF's, once each.
    for (const name of ['response_type', 'client_id', 'redirect_uri', 'state', 'code_challenge', 'scope', 'resource']) {
      expect(authorizationUrl.searchParams.getAll(name)).toHaveLength(1);
    }
    expect(callback.searchParams.get('code')).toBeTruthy();
    expect((await browser.finishLogin(callback)).status).toBe(302);
    expect(await whoami(browser)).toMatchObject({ sub: 'alice' });

    // Without `audience` this AS refuses the request, as Auth0 does for an API that needs one.
    const other = new TestBrowser(stack.appUrl);
    const login = await other.request('/bff/login?server=default&returnTo=/', { csrf: false });
    const bare = new URL(login.headers.get('location') as string);
    bare.searchParams.delete('audience');
    const refused = await loginThroughForms(bare.href, 'alice', 'alice-demo-password', 'allow', other.asJar);
    expect(refused.searchParams.get('error')).toBe('invalid_request');
    expect(refused.searchParams.get('code')).toBeNull();
  });
});

describe('Entra ID: no resource parameter; Keycloak: an initial access token and no resource in a registration', () => {
  const IAT = 'keycloak-initial-access-token-for-tests-only';
  const { lines, stream } = logSink();
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      log: createLogger('trace', stream),
      authServer: { rejectResource: true },
      env: { NOTES_IAT: IAT },
      secondServer: true,
      secondAuthServer: { rejectResource: true, registrationInitialAccessToken: IAT },
      serverSettings: { default: { resourceIndicator: false }, notes: { resourceIndicator: false, initialAccessTokenEnv: 'NOTES_IAT' } },
    });
  });
  afterAll(() => stack?.close());

  it('logs in without `resource` at an AS that refuses it, calls a tool and refreshes', async () => {
    const browser = new TestBrowser(stack.appUrl);
    const { authorizationUrl, callback } = await authorizeAt(browser, 'default');
    expect(authorizationUrl.searchParams.has('resource')).toBe(false);
    expect((await browser.finishLogin(callback)).status).toBe(302);
    expect(await whoami(browser)).toMatchObject({ sub: 'alice' });

    // The refresh request leaves it out too (this AS would answer invalid_target).
    const refreshes = grants(stack, 'refresh_token');
    await expireSoon(stack, await browser.sessionId());
    expect(await whoami(browser)).toMatchObject({ sub: 'alice' });
    expect(grants(stack, 'refresh_token')).toBe(refreshes + 1);
    expect((await browser.session()).connections[0]?.status).toBe('connected');

    // The AS really refuses `resource`: the same request with it comes back invalid_target.
    const other = new TestBrowser(stack.appUrl);
    const login = await other.request('/bff/login?server=default&returnTo=/', { csrf: false });
    const withResource = new URL(login.headers.get('location') as string);
    withResource.searchParams.set('resource', stack.mcpUrl);
    const refused = await loginThroughForms(withResource.href, 'alice', 'alice-demo-password', 'allow', other.asJar);
    expect(refused.searchParams.get('error')).toBe('invalid_target');
  });

  it('registers with the initial access token, logs in and calls a tool; the token is never logged', async () => {
    const second = stack.second as NonNullable<Stack['second']>;
    const registrationEndpoint = `${second.issuer}/reg`;
    const body = JSON.stringify({ redirect_uris: [`${stack.appUrl}/bff/callback/notes`] });
    const headers = { 'content-type': 'application/json' };
    // The AS really wants the token, and really refuses `resource` in a registration body.
    expect((await fetch(registrationEndpoint, { method: 'POST', headers, body })).status).toBe(400);
    expect((await fetch(registrationEndpoint, { method: 'POST', headers: { ...headers, authorization: 'Bearer wrong' }, body })).status).toBe(401);
    const withResource = JSON.stringify({ redirect_uris: [`${stack.appUrl}/bff/callback/notes`], resource: second.mcpUrl });
    const refused = await fetch(registrationEndpoint, { method: 'POST', headers: { ...headers, authorization: `Bearer ${IAT}` }, body: withResource });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toBe('invalid_client_metadata');
    const registered = second.as.registrations.length;

    const browser = new TestBrowser(stack.appUrl);
    const { callback } = await authorizeAt(browser, 'notes');
    expect(second.as.registrations.length).toBe(registered + 1);
    expect((await browser.finishLogin(callback)).status).toBe(302);
    expect(await whoami(browser, 'notes')).toMatchObject({ sub: 'alice' });
    expect(lines.some((line) => line.includes(IAT))).toBe(false);
  });
});

describe('Okta: dynamic registration without the initial access token it needs', () => {
  const { lines, stream } = logSink();
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      log: createLogger('trace', stream),
      secondServer: true,
      secondAuthServer: { registrationInitialAccessToken: 'okta-initial-access-token-for-tests-only' },
    });
  });
  afterAll(() => stack?.close());

  it('fails the login with registration_failed and a log line that names the setting', async () => {
    const browser = new TestBrowser(stack.appUrl);
    const first = await browser.request('/mcp/notes', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') });
    const { loginUrl } = (await first.json()) as { loginUrl: string };
    const login = await browser.request(loginUrl, { csrf: false });
    expect(login.status).toBe(302);
    expect(login.headers.get('location')).toMatch(/loginError=registration_failed|error=registration_failed/);
    const failed = lines.map((line) => JSON.parse(line) as { event?: string; err?: { message?: string } }).find((l) => l.event === 'login_failed');
    expect(failed?.err?.message).toMatch(/requires an initial access token, set one \(initialAccessTokenEnv in MCP_SERVERS, OAUTH_INITIAL_ACCESS_TOKEN\)/);
  });
});

describe('token endpoints that answer form-encoded', () => {
  let stack: Stack;
  const accepts: string[] = [];
  beforeAll(async () => {
    // A fault the real AS cannot show: its token endpoint's JSON answers are handed to the BFF
    // form-encoded, as GitHub's OAuth apps answer, with an error in a 200 the way GitHub reports one.
    const formEncoded: typeof fetch = async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const response = await fetch(input, init);
      if (url.pathname !== '/token') return response;
      accepts.push(new Headers(init?.headers).get('accept') ?? '');
      const json = (await response.json()) as Record<string, unknown>;
      const form = new URLSearchParams(Object.entries(json).map(([k, v]) => [k, String(v)]));
      return new Response(form.toString(), { status: 200, headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } });
    };
    stack = await startStack({ outboundFetch: formEncoded });
  });
  afterAll(() => stack?.close());

  it('logs in, calls a tool and refreshes; an error answered with 200 ends the connection', async () => {
    const browser = new TestBrowser(stack.appUrl);
    const { callback } = await authorizeAt(browser, 'default');
    expect((await browser.finishLogin(callback)).status).toBe(302);
    const session = await browser.session();
    expect(session.connections[0]).toMatchObject({ status: 'connected', scopes: ['mcp:tools'] });
    expect(session.connections[0]?.expiresAt).toBeGreaterThan(Date.now());
    expect(await whoami(browser)).toMatchObject({ sub: 'alice' });

    const sid = await browser.sessionId();
    await expireSoon(stack, sid);
    expect(await whoami(browser)).toMatchObject({ sub: 'alice' });
    expect(grants(stack, 'refresh_token')).toBe(1);
    expect(accepts.length).toBe(2);
    expect(accepts.every((a) => a === 'application/json')).toBe(true);

    // The refresh token is spent at the AS: a refresh with it answers invalid_grant (in a 200).
    const record = await stack.store.getConnection(sid, 'default');
    await stack.store.putConnection(sid, 'default', { ...(record as NonNullable<typeof record>), refreshToken: 'not-a-refresh-token' });
    await expireSoon(stack, sid);
    const after = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') });
    expect(after.status, await after.text()).toBe(401);
    expect((await browser.session()).connections[0]?.status).toBe('login_required');
  });
});

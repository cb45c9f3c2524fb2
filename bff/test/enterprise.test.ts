import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CookieJar } from '../../demo/src/cookie-jar.js';
import { loginThroughForms } from '../../demo/src/login-driver.js';
import { DEMO_CLIENT, DEMO_IDP_CLIENT, type Stack, startStack } from '../../demo/src/stack.js';
import { IDP_CONNECTION } from '../src/enterprise/idp.js';
import { createLogger } from '../src/log.js';
import { grants, rpc, TestBrowser } from './support.js';

/**
 * Enterprise-managed authorization against real servers: the demo enterprise IdP (oidc-provider,
 * issuing ID-JAGs by token exchange), the demo authorization server (taking them as JWT bearer grants)
 * and the demo MCP server.
 */

const INIT = rpc('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } });
const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** Everything the browser saw: bodies and headers (cookies included) of every answer. */
class WatchedBrowser extends TestBrowser {
  readonly seen: string[] = [];
  override async request(path: string, init: RequestInit & { csrf?: boolean } = {}): Promise<Response> {
    const res = await super.request(path, init);
    const copy = res.clone();
    this.seen.push([...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n'), await copy.text().catch(() => ''));
    return res;
  }
}

/** Signs in at the IdP as `user` through /bff/login?server=default; returns where the BFF finally sends the browser. */
async function signInAndConnect(stack: Stack, browser: TestBrowser, user: string): Promise<string> {
  const login = await browser.request('/bff/login?server=default&returnTo=/servers/default', { csrf: false });
  expect(login.status).toBe(302);
  const toIdp = new URL(login.headers.get('location') as string);
  expect(toIdp.origin).toBe(stack.idp?.issuer);
  const callback = await loginThroughForms(toIdp.href, user, `${user}-demo-password`, 'allow', browser.asJar);
  expect(callback.pathname).toBe('/bff/idp/callback');
  const back = await browser.finishLogin(callback);
  // Back to the login of the server, which now connects without any page.
  const again = back.headers.get('location') as string;
  expect(again).toBe('/bff/login?server=default&returnTo=%2Fservers%2Fdefault');
  const done = await browser.request(again, { csrf: false });
  expect(done.status).toBe(302);
  return done.headers.get('location') as string;
}

describe('enterprise-managed authorization', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      enterprise: { allow: ({ sub }) => sub !== 'bob', idpRefreshTokenTtlSeconds: 2 * 3600 },
      env: { SESSION_IDLE_TIMEOUT_SECONDS: String(24 * 3600), SESSION_TTL_SECONDS: String(24 * 3600) },
    });
  });
  afterAll(() => stack.close());
  afterEach(() => {
    vi.useRealTimers();
  });

  it('signs in once at the IdP (OIDC code + PKCE + state + nonce) and connects with no consent page, then calls a tool', async () => {
    const browser = new WatchedBrowser(stack.appUrl);
    // Before: the SPA's first call is answered login_required, pointing at the server's login URL.
    const first = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: INIT });
    expect(first.status).toBe(401);
    const challenge = (await first.json()) as { error: string; loginUrl: string };
    expect(challenge.error).toBe('login_required');
    expect(challenge.loginUrl).toMatch(/^\/bff\/login\?server=default&returnTo=%2F/);

    const login = await browser.request('/bff/login?server=default&returnTo=/', { csrf: false });
    const toIdp = new URL(login.headers.get('location') as string);
    expect(toIdp.origin).toBe(stack.idp?.issuer);
    expect(toIdp.searchParams.get('scope')).toBe('openid');
    expect(toIdp.searchParams.get('redirect_uri')).toBe(`${stack.appUrl}/bff/idp/callback`);
    expect(toIdp.searchParams.get('code_challenge_method')).toBe('S256');
    expect(toIdp.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(toIdp.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const asAuthorizationCodes = grants(stack, 'authorization_code');
    expect(await signInAndConnect(stack, browser, 'alice')).toBe('/servers/default');
    // No authorization at the MCP server's AS: one JWT bearer grant, after one token exchange at the IdP.
    expect(grants(stack, 'authorization_code')).toBe(asAuthorizationCodes);
    expect(grants(stack, 'urn:ietf:params:oauth:grant-type:jwt-bearer')).toBeGreaterThanOrEqual(1);
    expect(stack.idp?.as.tokenRequests.map((r) => r.grantType)).toContain('urn:ietf:params:oauth:grant-type:token-exchange');

    const info = await browser.session();
    expect(info.connections[0]).toMatchObject({ server: 'default', status: 'connected', managedBy: 'organisation', scopes: ['mcp:tools'] });

    const client = await browser.mcpClient();
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    expect(result.structuredContent).toMatchObject({ sub: 'alice', clientId: 'mcp-bff-demo', scopes: ['mcp:tools'] });
    await client.close();

    // The ID token stays in the BFF: in its store, never in anything the browser got.
    const idToken = (await stack.store.getConnection(await browser.sessionId(), IDP_CONNECTION))?.idToken ?? '';
    expect(idToken).toMatch(/^eyJ/);
    const details = (await (await browser.request('/bff/servers/default/connection')).json()) as {
      login: { outcome: string; steps: Array<{ step: string; detail: string }> } | null;
      client: { source: string; clientId: string } | null;
    };
    expect(details.client).toMatchObject({ source: 'configuration', clientId: 'mcp-bff-demo' });
    expect(details.login?.outcome).toBe('succeeded');
    expect(details.login?.steps.find((s) => s.step === 'token_exchange')?.detail).toMatch(/^Enterprise-managed: .* no consent page/);
    const seen = browser.seen.join('\n');
    expect(seen).not.toContain(idToken);
    expect(seen).not.toContain(idToken.split('.')[1]);
    for (const cookie of browser.jar.header(stack.appUrl)?.split('; ') ?? []) expect(cookie).not.toMatch(/eyJ/);
  });

  it('connects again by itself, with no page, when the connection is gone and the IdP sign-in lasts', async () => {
    const browser = new TestBrowser(stack.appUrl);
    await signInAndConnect(stack, browser, 'alice');
    const sid = await browser.sessionId();
    const record = await stack.store.getConnection(sid, 'default');
    // The connection is gone (a logout of this one server, or a refused refresh): the next call gets new tokens.
    await stack.store.deleteConnection(sid, 'default');
    const before = grants(stack, 'urn:ietf:params:oauth:grant-type:jwt-bearer');
    const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: INIT });
    expect(res.status).toBe(200);
    expect(grants(stack, 'urn:ietf:params:oauth:grant-type:jwt-bearer')).toBe(before + 1);
    expect((await stack.store.getConnection(sid, 'default'))?.accessToken).not.toBe(record?.accessToken);
  });

  it('says clearly when the IdP refuses the exchange (its policy)', async () => {
    const browser = new TestBrowser(stack.appUrl);
    const back = new URL(await signInAndConnect(stack, browser, 'bob'), stack.appUrl);
    expect(back.pathname).toBe('/servers/default');
    expect(back.searchParams.get('login_error')).toBe('enterprise_access_denied');
    // The SPA's calls get the same answer, not a login loop.
    const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: INIT });
    expect(res.status).toBe(403);
    const body = (await res.json()) as { error: string; message: string; loginUrl?: string };
    expect(body.error).toBe('enterprise_access_denied');
    expect(body.message).toMatch(/identity provider did not allow access to this server \(invalid_grant\)/);
    expect(body.loginUrl).toBeUndefined();
  });

  it('does not ask the IdP again on every call while it refuses: the refusal is kept briefly, a new sign-in asks again', async () => {
    const browser = new TestBrowser(stack.appUrl);
    await signInAndConnect(stack, browser, 'bob');
    const exchanges = () => stack.idp?.as.tokenRequests.filter((r) => r.grantType === 'urn:ietf:params:oauth:grant-type:token-exchange').length ?? 0;
    const before = exchanges();
    for (let i = 0; i < 3; i++) {
      const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: INIT });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: string }).error).toBe('enterprise_access_denied');
    }
    expect(exchanges()).toBe(before);
    // A new sign-in at the IdP (the previous one over) is asked about at once.
    await stack.store.deleteConnection(await browser.sessionId(), IDP_CONNECTION);
    await signInAndConnect(stack, browser, 'bob');
    expect(exchanges()).toBe(before + 1);
  });

  it('logging out ends the IdP sign-in with the session: the next connection needs the IdP again', async () => {
    const browser = new TestBrowser(stack.appUrl);
    await signInAndConnect(stack, browser, 'alice');
    const sid = await browser.sessionId();
    expect((await stack.store.getConnection(sid, IDP_CONNECTION))?.refreshToken).toBeDefined();
    const idpRevocations = stack.idp?.as.revocations.length ?? 0;
    expect((await browser.request('/bff/logout', { method: 'POST' })).status).toBe(200);
    expect(await stack.store.getConnection(sid, IDP_CONNECTION)).toBeUndefined();
    // The IdP's refresh token is revoked at the IdP too, as every connection's is at its AS.
    expect(stack.idp?.as.revocations.slice(idpRevocations).map((r) => r.hint)).toContain('refresh_token');
    const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: INIT });
    expect(res.status).toBe(401);
    const login = await browser.request(((await res.json()) as { loginUrl: string }).loginUrl, { csrf: false });
    expect(new URL(login.headers.get('location') as string).origin).toBe(stack.idp?.issuer);
  });

  it('the demo IdP and AS check what the extension says they must (§4.1, §5.1)', async () => {
    const browser = new TestBrowser(stack.appUrl);
    await signInAndConnect(stack, browser, 'alice');
    const idToken = (await stack.store.getConnection(await browser.sessionId(), IDP_CONNECTION))?.idToken ?? '';
    const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
    const post = (url: string, auth: string, form: Record<string, string>) =>
      fetch(url, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
    const idpAuth = basic(DEMO_IDP_CLIENT.client_id, DEMO_IDP_CLIENT.client_secret);
    const exchange = {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      requested_token_type: 'urn:ietf:params:oauth:token-type:id-jag',
      subject_token: idToken,
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      audience: stack.issuer,
      resource: stack.mcpUrl,
      scope: 'mcp:tools',
    };
    const idpToken = `${stack.idp?.issuer}/token`;
    expect(((await (await post(idpToken, idpAuth, { ...exchange, requested_token_type: 'urn:ietf:params:oauth:token-type:access_token' })).json()) as { error: string }).error).toBe('invalid_request');
    expect(((await (await post(idpToken, idpAuth, { ...exchange, subject_token: `${idToken.slice(0, -4)}AAAA` })).json()) as { error: string }).error).toBe('invalid_grant');
    const issued = await post(idpToken, idpAuth, exchange);
    expect(issued.status).toBe(200);
    const grant = (await issued.json()) as { access_token: string; issued_token_type: string; token_type: string };
    expect(grant).toMatchObject({ issued_token_type: 'urn:ietf:params:oauth:token-type:id-jag', token_type: 'N_A' });
    const [header, payload] = grant.access_token.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>) as [
      Record<string, unknown>,
      Record<string, unknown>,
    ];
    expect(header.typ).toBe('oauth-id-jag+jwt');
    expect(payload).toMatchObject({ iss: stack.idp?.issuer, sub: 'alice', aud: stack.issuer, resource: stack.mcpUrl, client_id: DEMO_CLIENT.client_id, scope: 'mcp:tools' });
    expect(Object.keys(payload).sort()).toEqual(['aud', 'client_id', 'exp', 'iat', 'iss', 'jti', 'resource', 'scope', 'sub']);

    const asToken = `${stack.issuer}/token`;
    const asAuth = basic(DEMO_CLIENT.client_id, DEMO_CLIENT.client_secret);
    const bearer = { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: grant.access_token };
    // The ID token itself is no grant (typ), and the grant is good once.
    expect(((await (await post(asToken, asAuth, { ...bearer, assertion: idToken })).json()) as { error: string }).error).toBe('invalid_grant');
    expect((await post(asToken, asAuth, bearer)).status).toBe(200);
    expect(((await (await post(asToken, asAuth, bearer)).json()) as { error: string }).error).toBe('invalid_grant');
  });

  it('steps up by exchanging again for more scopes, without a page', async () => {
    const browser = new TestBrowser(stack.appUrl);
    await signInAndConnect(stack, browser, 'alice');
    const call = rpc('tools/call', { name: 'admin_report', arguments: {} }, 2);
    const headers = { ...MCP_HEADERS, 'mcp-protocol-version': '2026-07-28' };
    const refused = await browser.request('/mcp/default', { method: 'POST', headers, body: call });
    expect(refused.status).toBe(403);
    const body = (await refused.json()) as { error: string; scope: string; loginUrl: string };
    expect(body.error).toBe('insufficient_scope');
    expect(body.scope.split(' ')).toContain('mcp:admin');
    // The cross-site link of another page does not widen anything.
    const crossSite = await browser.request(body.loginUrl, { csrf: false, headers: { 'sec-fetch-site': 'cross-site' } });
    expect(crossSite.headers.get('location')).toBe('/');
    expect((await stack.store.getConnection(await browser.sessionId(), 'default'))?.scopes).toEqual(['mcp:tools']);
    // The app's own navigation to the login URL does.
    const stepUp = await browser.request(body.loginUrl, { csrf: false, headers: { 'sec-fetch-site': 'same-origin' } });
    expect(stepUp.headers.get('location')).toBe('/');
    expect((await stack.store.getConnection(await browser.sessionId(), 'default'))?.scopes.sort()).toEqual(['mcp:admin', 'mcp:tools']);
    const client = await browser.mcpClient();
    const report = await client.callTool({ name: 'admin_report', arguments: {} });
    expect(report.isError).toBeFalsy();
    await client.close();
  });

  it("ends the enterprise connections of the previous person when another signs in at the IdP in the same browser", async () => {
    const browser = new TestBrowser(stack.appUrl);
    await signInAndConnect(stack, browser, 'alice');
    expect((await stack.store.getConnection(await browser.sessionId(), 'default'))?.subject).toBe('alice');
    // Alice's sign-in is over (as when its ID token expired); bob signs in at the IdP in this browser.
    await stack.store.deleteConnection(await browser.sessionId(), IDP_CONNECTION);
    const login = await browser.request('/bff/login?server=default&returnTo=/', { csrf: false });
    const callback = await loginThroughForms(login.headers.get('location') as string, 'bob', 'bob-demo-password', 'allow', new CookieJar());
    const back = await browser.finishLogin(callback);
    const done = await browser.request(back.headers.get('location') as string, { csrf: false });
    // Bob may not use the server (the IdP's policy), and alice's connection is gone, not left to him.
    expect(new URL(done.headers.get('location') as string, stack.appUrl).searchParams.get('login_error')).toBe('enterprise_access_denied');
    expect(await stack.store.getConnection(await browser.sessionId(), 'default')).toBeUndefined();
    expect((await stack.store.getConnection(await browser.sessionId(), IDP_CONNECTION))?.subject).toBe('bob');
  });

  it('renews the ID token at the IdP when it expired and the IdP session lasts', async () => {
    const browser = new TestBrowser(stack.appUrl);
    await signInAndConnect(stack, browser, 'alice');
    const sid = await browser.sessionId();
    const before = (await stack.store.getConnection(sid, IDP_CONNECTION))?.idToken;
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 65 * 60 * 1000 });
    const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: INIT });
    expect(res.status).toBe(200);
    const after = (await stack.store.getConnection(sid, IDP_CONNECTION))?.idToken;
    expect(after).toMatch(/^eyJ/);
    expect(after).not.toBe(before);
  });

  it('renews the ID token once when several connects need it at the same time (the refresh token is sent once)', async () => {
    const browser = new TestBrowser(stack.appUrl);
    await signInAndConnect(stack, browser, 'alice');
    const sid = await browser.sessionId();
    await stack.store.deleteConnection(sid, 'default');
    const refreshes = () => stack.idp?.as.tokenRequests.filter((r) => r.grantType === 'refresh_token').length ?? 0;
    const before = refreshes();
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 65 * 60 * 1000 });
    // Two connects at once (a call and a step-up), each needing a fresh ID token.
    const [call, stepUp] = await Promise.all([
      browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: INIT }),
      browser.request('/bff/login?server=default&returnTo=/&scope=mcp:admin', { csrf: false, headers: { 'sec-fetch-site': 'same-origin' } }),
    ]);
    expect(call.status).toBe(200);
    expect(stepUp.headers.get('location')).toBe('/');
    expect(refreshes()).toBe(before + 1);
    const signIn = await stack.store.getConnection(sid, IDP_CONNECTION);
    expect(signIn?.refreshedAt).toBeDefined();
  });

  it('asks to sign in at the IdP again once the ID token has expired and cannot be renewed', async () => {
    const browser = new TestBrowser(stack.appUrl);
    await signInAndConnect(stack, browser, 'alice');
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 3 * 3600 * 1000 });
    const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: INIT });
    expect(res.status).toBe(401);
    const body = (await res.json()) as { error: string; loginUrl: string };
    expect(body.error).toBe('login_required');
    const login = await browser.request(body.loginUrl, { csrf: false });
    expect(new URL(login.headers.get('location') as string).origin).toBe(stack.idp?.issuer);
  });
});

describe('enterprise-managed authorization: the authorization server refuses the grant', () => {
  let stack: Stack;
  beforeAll(async () => {
    // The IdP's administrator mapped the BFF to a client the authorization server does not know it as.
    stack = await startStack({ enterprise: { idJagClientId: 'some-other-client' } });
  });
  afterAll(() => stack.close());

  it('says which party refused', async () => {
    const browser = new TestBrowser(stack.appUrl);
    const back = new URL(await signInAndConnect(stack, browser, 'alice'), stack.appUrl);
    expect(back.searchParams.get('login_error')).toBe('enterprise_access_denied');
    const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: INIT });
    expect(res.status).toBe(403);
    const body = (await res.json()) as { error: string; message: string };
    expect(body).toMatchObject({ error: 'enterprise_access_denied' });
    expect(body.message).toMatch(/authorization server did not accept the grant .*\(invalid_grant\)/);
    expect(await stack.store.getConnection(await browser.sessionId(), 'default')).toBeUndefined();
  });
});

describe('enterprise-managed authorization: the IdP renews the refresh token but sends no ID token', () => {
  let stack: Stack;
  let idpIssuer = '';
  beforeAll(async () => {
    // A fault the demo IdP does not make: its refresh answer without id_token (OpenID Connect allows it).
    const outboundFetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const res = await fetch(input, init);
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (url.origin !== idpIssuer || url.pathname !== '/token' || !String(init?.body ?? '').includes('grant_type=refresh_token') || !res.ok) return res;
      const { id_token: _, ...rest } = (await res.json()) as Record<string, unknown>;
      return new Response(JSON.stringify(rest), { status: res.status, headers: { 'content-type': 'application/json' } });
    }) as typeof fetch;
    stack = await startStack({ enterprise: { idpRefreshTokenTtlSeconds: 2 * 3600 }, outboundFetch, env: { SESSION_IDLE_TIMEOUT_SECONDS: String(24 * 3600), SESSION_TTL_SECONDS: String(24 * 3600) } });
    idpIssuer = stack.idp?.issuer ?? '';
  });
  afterAll(() => stack.close());
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps the rotated refresh token (the old one is spent) and asks for a sign-in', async () => {
    const browser = new TestBrowser(stack.appUrl);
    await signInAndConnect(stack, browser, 'alice');
    const sid = await browser.sessionId();
    const before = await stack.store.getConnection(sid, IDP_CONNECTION);
    await stack.store.deleteConnection(sid, 'default');
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 65 * 60 * 1000 });
    const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: INIT });
    expect(res.status).toBe(401);
    const after = await stack.store.getConnection(sid, IDP_CONNECTION);
    // Compared, never printed: a failure must not show a token.
    expect(typeof after?.refreshToken === 'string' && after.refreshToken !== before?.refreshToken).toBe(true);
  });
});

describe('enterprise-managed authorization: the AS issues a refresh token with the identity assertion grant', () => {
  let stack: Stack;
  let asIssuer = '';
  beforeAll(async () => {
    // The demo AS issues none for the JWT bearer grant; many do (a fake adds one to its answer).
    const outboundFetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const res = await fetch(input, init);
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (url.origin !== asIssuer || url.pathname !== '/token' || !String(init?.body ?? '').includes('jwt-bearer') || !res.ok) return res;
      const body = (await res.json()) as Record<string, unknown>;
      return new Response(JSON.stringify({ ...body, refresh_token: 'refresh-token-of-the-as' }), { status: res.status, headers: { 'content-type': 'application/json' } });
    }) as typeof fetch;
    stack = await startStack({ enterprise: {}, outboundFetch, env: { SESSION_IDLE_TIMEOUT_SECONDS: String(24 * 3600), SESSION_TTL_SECONDS: String(24 * 3600) } });
    asIssuer = new URL(stack.issuer).origin;
  });
  afterAll(() => stack.close());
  afterEach(() => {
    vi.useRealTimers();
  });

  it('does not outlive the IdP sign-in: no refresh at the AS, access ends with the access token once the sign-in is gone', async () => {
    const browser = new TestBrowser(stack.appUrl);
    await signInAndConnect(stack, browser, 'alice');
    const sid = await browser.sessionId();
    expect((await stack.store.getConnection(sid, 'default'))?.refreshToken).toBeUndefined();
    // The IdP sign-in is over (signed out there, or its renewal refused); the access token then expires.
    await stack.store.deleteConnection(sid, IDP_CONNECTION);
    const asRefreshes = grants(stack, 'refresh_token');
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 65 * 60 * 1000 });
    const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: INIT });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe('login_required');
    expect(grants(stack, 'refresh_token')).toBe(asRefreshes);
  });
});

describe('enterprise-managed authorization: the server names an authorization server other than the configured one', () => {
  let stack: Stack;
  beforeAll(async () => {
    // The operator configured another AS than the one the MCP server's metadata now names (as a
    // malicious or compromised server would, to get a grant minted for an AS of its choosing).
    stack = await startStack({ enterprise: {}, env: { OAUTH_ISSUER: 'https://as.example.com' } });
  });
  afterAll(() => stack.close());

  it('exchanges nothing at the IdP, registers no client, and says access was refused', async () => {
    const browser = new TestBrowser(stack.appUrl);
    const back = new URL(await signInAndConnect(stack, browser, 'alice'), stack.appUrl);
    expect(back.searchParams.get('login_error')).toBe('enterprise_access_denied');
    expect(stack.idp?.as.tokenRequests.map((r) => r.grantType)).not.toContain('urn:ietf:params:oauth:grant-type:token-exchange');
    expect(grants(stack, 'urn:ietf:params:oauth:grant-type:jwt-bearer')).toBe(0);
    expect(stack.as.registrations).toHaveLength(0);
    expect(await stack.store.getConnection(await browser.sessionId(), 'default')).toBeUndefined();
  });
});

describe('enterprise-managed authorization behind an authenticating proxy (ENTERPRISE_IDP_ID_TOKEN_HEADER)', () => {
  const HEADER = 'X-Forwarded-Id-Token';
  let trusted: Stack;
  let untrusted: Stack;
  let idToken: string;
  let bobIdToken: string;
  beforeAll(async () => {
    // The tests' requests come from 127.0.0.1: a trusted proxy for one BFF, not for the other.
    [trusted, untrusted] = await Promise.all([
      startStack({ enterprise: {}, env: { ENTERPRISE_IDP_ID_TOKEN_HEADER: HEADER, TRUSTED_PROXIES: '127.0.0.1' } }),
      startStack({ enterprise: {}, env: { ENTERPRISE_IDP_ID_TOKEN_HEADER: HEADER, TRUSTED_PROXIES: '10.9.9.9' } }),
    ]);
    // Real ID tokens of the IdP for the BFF's client, as the proxy got them when alice and bob signed in there.
    const tokenOf = async (user: string) => {
      const browser = new TestBrowser(trusted.appUrl);
      await signInAndConnect(trusted, browser, user);
      return (await trusted.store.getConnection(await browser.sessionId(), IDP_CONNECTION))?.idToken ?? '';
    };
    [idToken, bobIdToken] = [await tokenOf('alice'), await tokenOf('bob')];
    expect(idToken).toMatch(/^eyJ/);
    expect(bobIdToken).toMatch(/^eyJ/);
  });
  afterAll(() => Promise.all([trusted.close(), untrusted.close()]));

  /** A browser behind the proxy, signed in there as the owner of `token`, connected to the server. */
  async function behindProxy(token: string): Promise<TestBrowser> {
    const browser = new TestBrowser(trusted.appUrl);
    browser.proxyHeaders = { [HEADER]: token };
    const res = await browser.request('/bff/login?server=default&returnTo=/servers/default', { csrf: false });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/servers/default');
    return browser;
  }

  it('takes the ID token the trusted proxy forwards: no IdP page, straight to the server', async () => {
    const browser = await behindProxy(idToken);
    const client = await browser.mcpClient();
    expect((await client.callTool({ name: 'whoami', arguments: {} })).structuredContent).toMatchObject({ sub: 'alice' });
    await client.close();
  });

  it('ignores the header from anyone else, and sends the person to sign in at the IdP', async () => {
    const browser = new TestBrowser(untrusted.appUrl);
    const res = await browser.request('/bff/login?server=default&returnTo=/', { csrf: false, headers: { [HEADER]: idToken } });
    expect(new URL(res.headers.get('location') as string).origin).toBe(untrusted.idp?.issuer);
  });

  it("checks the forwarded token's signature against the IdP's keys: a forged one is never exchanged", async () => {
    const [header, payload] = idToken.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'bob' })).toString('base64url')}.${'A'.repeat(342)}`;
    const exchanges = () => trusted.idp?.as.tokenRequests.filter((r) => r.grantType === 'urn:ietf:params:oauth:grant-type:token-exchange').length;
    const before = exchanges();
    const browser = new TestBrowser(trusted.appUrl);
    const res = await browser.request('/bff/login?server=default&returnTo=/', { csrf: false, headers: { [HEADER]: forged } });
    // Not taken as a sign-in: the person is sent to the IdP, and the IdP was never asked to exchange it.
    expect(new URL(res.headers.get('location') as string).origin).toBe(trusted.idp?.issuer);
    expect(exchanges()).toBe(before);
  });

  it("ends alice's session when bob signs in at the proxy in her browser: /mcp and /bff/session stop serving her", async () => {
    const browser = await behindProxy(idToken);
    const sid = await browser.sessionId();
    expect(await trusted.store.getConnection(sid, 'default')).toBeDefined();
    const revocations = trusted.as.revocations.length;
    browser.proxyHeaders = { [HEADER]: bobIdToken };
    const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: INIT });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe('login_required');
    // Ended as a logout ends it: gone from the store, its tokens revoked at the AS.
    expect(await trusted.store.getSession(sid)).toBeUndefined();
    expect(trusted.as.revocations.length).toBeGreaterThan(revocations);
    expect((await browser.session()).connections[0]?.status).toBe('login_required');
    // Bob's own sign-in is then adopted by the login, in a fresh session of his.
    const login = await browser.request('/bff/login?server=default&returnTo=/', { csrf: false });
    expect(login.headers.get('location')).toBe('/');
    const client = await browser.mcpClient();
    expect((await client.callTool({ name: 'whoami', arguments: {} })).structuredContent).toMatchObject({ sub: 'bob' });
    await client.close();
  });

  it('ends the session when the proxy stops forwarding the sign-in it came from (signed out there)', async () => {
    const browser = await behindProxy(idToken);
    const sid = await browser.sessionId();
    browser.proxyHeaders = {};
    expect((await browser.session()).authenticated).toBe(false);
    expect(await trusted.store.getSession(sid)).toBeUndefined();
  });

  it('keeps the session while the same person goes on forwarding their sign-in', async () => {
    const browser = await behindProxy(idToken);
    const sid = await browser.sessionId();
    for (let i = 0; i < 3; i++) expect((await browser.session()).authenticated).toBe(true);
    expect(await browser.sessionId()).toBe(sid);
  });
});

describe('enterprise-managed authorization in the logs', () => {
  it('never writes a JWT (ID token, ID-JAG, access token) or refresh token, even at trace level', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const stack = await startStack({ enterprise: { allow: ({ sub }) => sub !== 'bob' }, log: createLogger('trace', sink) });
    try {
      const alice = new TestBrowser(stack.appUrl);
      await signInAndConnect(stack, alice, 'alice');
      const client = await alice.mcpClient();
      await client.callTool({ name: 'whoami', arguments: {} });
      await client.close();
      await signInAndConnect(stack, new TestBrowser(stack.appUrl), 'bob');
      const sid = await alice.sessionId();
      const secrets = [await stack.store.getConnection(sid, IDP_CONNECTION), await stack.store.getConnection(sid, 'default')].flatMap((r) =>
        [r?.idToken, r?.accessToken, r?.refreshToken].filter((v): v is string => typeof v === 'string' && v !== ''),
      );
      expect(secrets.length).toBeGreaterThanOrEqual(3);
      const log = lines.join('');
      expect(log).toContain('"event":"enterprise_connected"');
      for (const secret of secrets) expect(log).not.toContain(secret);
      expect(log).not.toMatch(/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/);
    } finally {
      await stack.close();
    }
  });
});

import { connect } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { ConnectionDetails } from '@mcp-bff/shared';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { listen } from '../../demo/src/listen.js';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { MemoryTokenStore } from '../src/store/memory.js';
import type { McpSessionOwner, TokenStore } from '../src/store/types.js';
import { MCP_HEADERS, rpc, TestBrowser } from './support.js';
import { startVariant, type Variant, type VariantOptions } from './variant-server.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()?.();
});

async function setup(options: VariantOptions = {}, env: Record<string, string> = {}, store: TokenStore = new MemoryTokenStore()) {
  const variant = await startVariant(options);
  closers.push(variant.close);
  const app = await listen(0, '127.0.0.1', 'localhost');
  closers.push(app.close);
  const config = loadConfig({
    PUBLIC_URL: app.origin,
    MCP_SERVER_URL: variant.url,
    // Test-only, public in this repository.
    SESSION_SECRET: 'NJQA7l/CJUKp+wCOMZfFr1oEnfR1tDEyZd495OrN7qWg09pxMdYpbzvoRIFeukRC',
    ALLOW_HTTP_LOOPBACK: '1',
    LOG_LEVEL: 'silent',
    TOKEN_STORE: 'memory',
    ...env,
  });
  app.handle(getRequestListener(createApp({ config, store, log: createLogger('silent') }).fetch));
  return { variant, browser: new TestBrowser(app.origin), app };
}

/** What the SPA does: call, and on login_required follow loginUrl through the AS back to the app. */
async function callAndLogin(browser: TestBrowser, variant: Variant, method = 'tools/list'): Promise<Response> {
  const call = () => browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc(method) });
  const first = await call();
  if (first.status !== 401 && first.status !== 403) return first;
  const { loginUrl } = (await first.json()) as { loginUrl?: string };
  if (!loginUrl) return first;
  const login = await browser.request(loginUrl, { csrf: false });
  const location = login.headers.get('location') as string;
  if (!location.startsWith(variant.issuer)) return login;
  const authorize = await fetch(location, { redirect: 'manual' });
  const callback = new URL(authorize.headers.get('location') as string);
  const done = await browser.request(callback.pathname + callback.search, { csrf: false });
  if (done.status !== 200) return done;
  await browser.request('/bff/callback/complete', { csrf: false });
  return call();
}

describe('discovery', () => {
  it.each([
    ['issuer without a path, RFC 8414 metadata', {}],
    ['issuer with a path, RFC 8414 path-inserted', { issuerPath: '/tenant/a' }],
    ['issuer with a path, OIDC path-inserted', { issuerPath: '/tenant/a', asMetadata: 'oidc-inserted' }],
    ['issuer with a path, OIDC path-appended', { issuerPath: '/tenant/a', asMetadata: 'oidc-appended' }],
    ['issuer without a path, OIDC only', { asMetadata: 'oidc-inserted' }],
    ['resource metadata only at the challenge URL', { prmAt: 'challenge-only' }],
    ['resource metadata at the root well-known', { prmAt: 'root' }],
  ] as Array<[string, VariantOptions]>)('%s: logs in and calls through', async (_name, options) => {
    const { variant, browser } = await setup(options);
    const res = await callAndLogin(browser, variant);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ result: { ok: true } });
    expect(variant.tokenRequests).toHaveLength(1);
    // Registered itself as a confidential web client with the exact redirect URI.
    expect(variant.registrations[0]).toMatchObject({
      application_type: 'web',
      redirect_uris: [`${browser.appUrl}/bff/callback/default`],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    expect(variant.tokenRequests[0]?.authorization).toMatch(/^Basic /);
    const authorize = variant.authorizeRequests[0] as URLSearchParams;
    expect(authorize.get('resource')).toBe(variant.url);
    expect(authorize.get('code_challenge_method')).toBe('S256');
    expect(variant.tokenRequests[0]?.params.get('resource')).toBe(variant.url);
  });

  it('accepts root resource metadata that names the origin (the identifier its URL was built from)', async () => {
    const { variant, browser } = await setup({ prmAt: 'root', prmResource: (u) => new URL(u).origin });
    expect((await callAndLogin(browser, variant)).status).toBe(200);
    expect(variant.authorizeRequests[0]?.get('resource')).toBe(new URL(variant.url).origin);
  });

  it('refuses path-inserted metadata that names only the origin', async () => {
    const { variant, browser } = await setup({ prmResource: (u) => new URL(u).origin });
    const res = await callAndLogin(browser, variant);
    expect(res.headers.get('location')).toMatch(/^\/\?login_error=resource_mismatch&login_ref=[0-9a-f-]{36}$/);
    expect(variant.authorizeRequests).toHaveLength(0);
  });

  it('a server that needs no authorization works without any login, its MCP session bound to this browser', async () => {
    // The session started here sets a cookie on an answer the proxy streams itself: the server adapter
    // must not then try to answer a second time (it reports that through console.error).
    const adapterErrors = vi.spyOn(console, 'error');
    const { variant, browser } = await setup({ noAuth: true });
    const init = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('initialize') });
    expect(init.status).toBe(200);
    const mcpSessionId = init.headers.get('mcp-session-id') as string;
    expect(mcpSessionId).toMatch(/^sess-/);
    expect(init.headers.getSetCookie().join()).toMatch(/mcp_session=.*SameSite=Strict/);
    const again = await browser.request('/mcp/default', {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'mcp-session-id': mcpSessionId },
      body: rpc('tools/list'),
    });
    expect(again.status).toBe(200);
    const stranger = new TestBrowser(browser.appUrl);
    const stolen = await stranger.request('/mcp/default', {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'mcp-session-id': mcpSessionId },
      body: rpc('tools/list'),
    });
    expect(stolen.status).toBe(404);
    expect(variant.mcpRequests.every((r) => r.authorization === undefined)).toBe(true);
    expect(variant.authorizeRequests).toHaveLength(0);
    expect(adapterErrors).not.toHaveBeenCalled();
    adapterErrors.mockRestore();
  });

  // A streaming answer still holds its upstream connection: the BFF closes it. A complete one has
  // already given its connection back for reuse: leaving again and again adds no connections.
  it.each([
    { answer: 'a stream still open', noAuthStreams: true, leaves: 1, maxOpen: 0 },
    { answer: 'a complete JSON answer', noAuthStreams: false, leaves: 3, maxOpen: 1 },
  ])('a browser that leaves while its answer ($answer) is being bound to a new session: nothing holds the upstream connection', async ({ noAuthStreams, leaves, maxOpen }) => {
    let entered = 0;
    let release = () => {};
    // A store that is slow to bind the new MCP session: the window in which the browser leaves.
    class SlowBindStore extends MemoryTokenStore {
      override async bindMcpSession(mcpSessionId: string, owner: McpSessionOwner): Promise<void> {
        entered++;
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        return super.bindMcpSession(mcpSessionId, owner);
      }
    }
    const { variant, app } = await setup({ noAuth: true, noAuthStreams }, {}, new SlowBindStore());
    const appConnections = () => new Promise<number>((resolve) => app.server.getConnections((_e, n) => resolve(n)));
    for (let leave = 1; leave <= leaves; leave++) {
      // A raw connection, so that leaving is a closed socket and nothing else.
      const body = rpc('initialize');
      const socket = connect(app.port, '127.0.0.1');
      socket.on('error', () => {});
      socket.write(
        `POST /mcp/default HTTP/1.1\r\nHost: ${new URL(app.origin).host}\r\nX-CSRF: 1\r\nContent-Type: application/json\r\n` +
          `Accept: application/json, text/event-stream\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      await expect.poll(() => entered).toBe(leave);
      socket.destroy();
      await expect.poll(appConnections).toBe(0);
      release();
      // Nothing is left holding the MCP server's answer.
      await expect.poll(() => variant.openConnections()).toBeLessThanOrEqual(maxOpen);
    }
    expect(variant.mcpRequests).toHaveLength(leaves);
  });

  it('forwards without a token first: a server that never answers 401 needs no login', async () => {
    const { variant, browser } = await setup();
    const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') });
    expect(res.status).toBe(401);
    expect(variant.mcpRequests[0]?.authorization).toBeUndefined();
  });

  it.each([
    ['no code_challenge_methods_supported', { metadata: { code_challenge_methods_supported: undefined } }, 'pkce_unsupported'],
    ['plain PKCE only', { metadata: { code_challenge_methods_supported: ['plain'] } }, 'pkce_unsupported'],
    ['metadata issuer differs', { metadata: { issuer: 'http://localhost:1/other' } }, 'authorization_failed'],
    ['resource metadata about another resource', { prmResource: (u: string) => `${u}/` }, 'resource_mismatch'],
  ] as Array<[string, VariantOptions, string]>)('%s: login refused, nothing sent to the AS', async (_n, options, code) => {
    const { variant, browser } = await setup(options);
    const res = await callAndLogin(browser, variant);
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toMatch(new RegExp(`^/\\?login_error=${code}&login_ref=[0-9a-f-]{36}$`));
    expect(variant.authorizeRequests).toHaveLength(0);
    expect(variant.registrations).toHaveLength(0);
    expect(variant.tokenRequests).toHaveLength(0);
  });

  it.each([
    ['iss missing though advertised', { iss: 'missing' }],
    ['iss wrong', { iss: 'wrong' }],
    ['iss present though not advertised, and wrong', { iss: 'wrong', metadata: { authorization_response_iss_parameter_supported: undefined } }],
  ] as Array<[string, VariantOptions]>)('%s: no token request', async (_n, options) => {
    const { variant, browser } = await setup(options);
    const res = await callAndLogin(browser, variant);
    expect(res.status).toBe(400);
    expect(variant.tokenRequests).toHaveLength(0);
  });
});

describe('scopes', () => {
  it('uses the challenge scope first', async () => {
    const { variant, browser } = await setup({ challengeScope: 'read write', scopesSupported: ['other'] });
    expect((await callAndLogin(browser, variant)).status).toBe(200);
    expect(variant.authorizeRequests[0]?.get('scope')).toBe('read write');
  });

  it("a challenge's scope goes only to the login of the browser that met it, never to another user's", async () => {
    const { variant, browser } = await setup({ scopesSupported: ['mcp:tools'] });
    const loginScope = async (who: TestBrowser, loginUrl: string) => {
      const login = await who.request(loginUrl, { csrf: false });
      expect(login.status).toBe(302);
      return new URL(login.headers.get('location') as string).searchParams.get('scope');
    };
    const drawChallenge = async (who: TestBrowser) => {
      const res = await who.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/call') });
      expect(res.status).toBe(401);
      return ((await res.json()) as { loginUrl: string }).loginUrl;
    };
    // Anyone, signed in or not, can send a request whose challenge names broad scopes (a server with
    // per-operation scopes), a huge scope, or something that is no scope at all.
    const anonymous = new TestBrowser(browser.appUrl);
    variant.challengeScope = 'admin:everything';
    const broad = await drawChallenge(anonymous);
    variant.challengeScope = `read ${'x'.repeat(3_000)}`;
    const huge = await drawChallenge(anonymous);
    variant.challengeScope = 'read\\" write';
    const odd = await drawChallenge(anonymous);
    variant.challengeScope = undefined;

    // Another user's next login asks for what the resource metadata says, untouched by all that.
    expect(await loginScope(browser, '/bff/login?server=default&returnTo=%2F')).toBe('mcp:tools');
    // The browser that met the challenge asks for its scope (MCP: the challenge's scope first), if it is one.
    expect(await loginScope(anonymous, broad)).toBe('admin:everything');
    expect(huge).not.toContain('challengeScope');
    expect(await loginScope(anonymous, huge)).toBe('mcp:tools');
    expect(odd).not.toContain('challengeScope');
    expect(await loginScope(anonymous, odd)).toBe('mcp:tools');
    // A hand-made one is bounded the same way.
    expect(await loginScope(anonymous, `/bff/login?server=default&returnTo=%2F&challengeScope=${'y'.repeat(1_001)}`)).toBe('mcp:tools');
  });

  it('drops the discovery cache on a refused token or new metadata, not on every anonymous challenge', async () => {
    const { variant, browser } = await setup();
    const anonymous = new TestBrowser(browser.appUrl);
    const call = (who: TestBrowser) => who.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') });
    expect((await callAndLogin(browser, variant)).status).toBe(200);
    const fetched = variant.hits.prm;
    for (let i = 0; i < 5; i++) expect((await call(anonymous)).status).toBe(401);
    // Logins read the metadata from the cache still.
    await anonymous.request('/bff/login?server=default&returnTo=%2F', { csrf: false });
    expect(variant.hits.prm).toBe(fetched);
    // A token the server refuses does drop it (the server may have moved to another AS): the refresh
    // that follows reads the metadata anew.
    variant.tokens.clear();
    expect((await call(browser)).status).toBe(200);
    expect(variant.hits.prm).toBeGreaterThan(fetched);
  });

  it('falls back to scopes_supported, then to no scope parameter', async () => {
    const a = await setup({ scopesSupported: ['a', 'b'] });
    expect((await callAndLogin(a.browser, a.variant)).status).toBe(200);
    expect(a.variant.authorizeRequests[0]?.get('scope')).toBe('a b');
    const b = await setup();
    expect((await callAndLogin(b.browser, b.variant)).status).toBe(200);
    expect(b.variant.authorizeRequests[0]?.has('scope')).toBe(false);
  });

  it('adds offline_access only when the AS lists it', async () => {
    const a = await setup({ challengeScope: 'read', metadata: { scopes_supported: ['read', 'offline_access'] } });
    expect((await callAndLogin(a.browser, a.variant)).status).toBe(200);
    expect(a.variant.authorizeRequests[0]?.get('scope')).toBe('read offline_access');
    const b = await setup({ challengeScope: 'read', metadata: { scopes_supported: ['read'] } });
    expect((await callAndLogin(b.browser, b.variant)).status).toBe(200);
    expect(b.variant.authorizeRequests[0]?.get('scope')).toBe('read');
  });

  it('steps up with the union of granted and required scopes', async () => {
    const { variant, browser } = await setup({ challengeScope: 'read', toolScope: 'write' });
    expect((await callAndLogin(browser, variant)).status).toBe(200);
    const res = await callAndLogin(browser, variant, 'tools/call');
    expect(res.status).toBe(200);
    expect(variant.authorizeRequests.map((p) => p.get('scope'))).toEqual(['read', 'read write']);
  });

  it('steps up with the scopes asked for before, granted or not, and the newly required ones (SEP-2350)', async () => {
    // The AS never grants "write": the token after the first step-up has "read" only. The next step-up
    // (for "files") still asks for "write" again, because the spec's union is over what was requested.
    const { variant, browser } = await setup({
      challengeScope: 'read',
      methodScopes: { 'tools/call': 'write', 'resources/read': 'files' },
      neverGrant: ['write'],
    });
    expect((await callAndLogin(browser, variant)).status).toBe(200);
    expect((await callAndLogin(browser, variant, 'tools/call')).status).toBe(403);
    expect((await callAndLogin(browser, variant, 'resources/read')).status).toBe(200);
    const asked = variant.authorizeRequests.map((p) => (p.get('scope') ?? '').split(' ').sort().join(' '));
    expect(asked).toEqual(['read', 'read write', 'files read write']);
  });

  it('counts the first authorization towards a need the server keeps naming', async () => {
    const { variant, browser } = await setup({ challengeScope: 'admin', toolScope: 'admin', neverGrant: ['admin'] });
    expect((await callAndLogin(browser, variant)).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await callAndLogin(browser, variant, 'tools/call')).status).toBe(403);
    const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/call') });
    expect(res.status).toBe(403);
    expect((await res.json()).loginUrl).toBeUndefined();
    expect(variant.authorizeRequests).toHaveLength(3);
  });

  it('stops offering step-up after three attempts for the same need', async () => {
    const { variant, browser } = await setup({ challengeScope: 'read', toolScope: 'admin', neverGrant: ['admin'] });
    expect((await callAndLogin(browser, variant)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await callAndLogin(browser, variant, 'tools/call')).status).toBe(403);
    const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/call') });
    expect(res.status).toBe(403);
    const body = await res.json();
    expect(body).toMatchObject({ error: 'insufficient_scope', scope: 'admin' });
    expect(body.loginUrl).toBeUndefined();
    expect(variant.authorizeRequests).toHaveLength(4);
  });
});

describe('client registration', () => {
  it('uses configured credentials first, with the method the AS supports', async () => {
    const { variant, browser } = await setup(
      { tokenAuthMethods: ['client_secret_post'] },
      { OAUTH_CLIENT_ID: 'configured', OAUTH_CLIENT_SECRET: 'configured-secret' },
    );
    expect((await callAndLogin(browser, variant)).status).toBe(200);
    expect(variant.registrations).toHaveLength(0);
    expect(variant.authorizeRequests[0]?.get('client_id')).toBe('configured');
    expect(variant.tokenRequests[0]?.params.get('client_secret')).toBe('configured-secret');
    expect(variant.tokenRequests[0]?.authorization).toBeUndefined();
  });

  it('sends client_secret_basic credentials form-encoded as RFC 6749 says (unreserved characters as they are)', async () => {
    const { variant, browser } = await setup({}, { OAUTH_CLIENT_ID: 'pre-registered_client.1~x y', OAUTH_CLIENT_SECRET: 'se:cret-._' });
    expect((await callAndLogin(browser, variant)).status).toBe(200);
    const basic = variant.tokenRequests[0]?.authorization?.slice('Basic '.length) as string;
    expect(Buffer.from(basic, 'base64').toString()).toBe('pre-registered_client.1%7Ex+y:se%3Acret-._');
  });

  it('never sends configured credentials to an AS other than the configured issuer', async () => {
    const { variant, browser } = await setup(
      {},
      { OAUTH_CLIENT_ID: 'configured', OAUTH_CLIENT_SECRET: 'configured-secret', OAUTH_ISSUER: 'https://as.example.com' },
    );
    expect((await callAndLogin(browser, variant)).status).toBe(200);
    expect(variant.registrations).toHaveLength(1);
    expect(variant.authorizeRequests[0]?.get('client_id')).not.toBe('configured');
    const sent = JSON.stringify(variant.tokenRequests.map((t) => [t.authorization, [...t.params]]));
    expect(sent).not.toContain('configured');
    expect(sent).not.toContain(Buffer.from('configured').toString('base64').slice(0, 8));
  });

  it('pins configured credentials to the first AS they were used with', async () => {
    const { variant, browser } = await setup({}, { OAUTH_CLIENT_ID: 'configured', OAUTH_CLIENT_SECRET: 'configured-secret' });
    expect((await callAndLogin(browser, variant)).status).toBe(200);
    expect(variant.authorizeRequests[0]?.get('client_id')).toBe('configured');
    const other = await startVariant();
    closers.push(other.close);
    variant.moveTo(other);
    expect((await callAndLogin(browser, { ...variant, issuer: other.issuer } as Variant)).status).toBe(200);
    expect(other.registrations).toHaveLength(1);
    expect(other.authorizeRequests.map((p) => p.get('client_id'))).not.toContain('configured');
    const sent = JSON.stringify(other.tokenRequests.map((t) => [t.authorization, [...t.params]]));
    expect(sent).not.toContain('configured');
  });

  it('credentials bound to the first AS, and the server moves to one with no other way to a client: the failure says so, and what to set', async () => {
    const { variant, browser, app } = await setup({}, { OAUTH_CLIENT_ID: 'configured', OAUTH_CLIENT_SECRET: 'configured-secret' });
    const firstUsed = Date.now();
    expect((await callAndLogin(browser, variant)).status).toBe(200);
    const other = await startVariant({ registration: false });
    closers.push(other.close);
    variant.moveTo(other);
    const res = await callAndLogin(browser, { ...variant, issuer: other.issuer } as Variant);
    expect(res.status).toBe(302);
    expect(new URL(res.headers.get('location') as string, app.origin).searchParams.get('login_error')).toBe('registration_failed');
    expect(other.authorizeRequests).toHaveLength(0);

    const details = (await (await browser.request('/bff/servers/default/connection')).json()) as ConnectionDetails;
    const failed = details.login?.steps.at(-1);
    expect(failed).toMatchObject({ step: 'client', status: 'failed' });
    const since = /bound to (\S+) since (\S+),/.exec(failed?.detail ?? '');
    expect(since?.[1]).toBe(variant.issuer);
    expect(Date.parse(since?.[2] as string)).toBeGreaterThanOrEqual(Math.floor(firstUsed / 1000) * 1000);
    expect(failed?.detail).toContain(`the server now names ${other.issuer}`);
    expect(failed?.detail).toContain(`set OAUTH_ISSUER ("issuer" in MCP_SERVERS) to ${other.issuer}`);
    expect(failed?.detail).not.toMatch(/configure client credentials/i);
  });

  it('credentials configured for another issuer (OAUTH_ISSUER), at an AS with no other way to a client: the failure names both issuers', async () => {
    const { variant, browser } = await setup(
      { registration: false },
      { OAUTH_CLIENT_ID: 'configured', OAUTH_CLIENT_SECRET: 'configured-secret', OAUTH_ISSUER: 'https://as.example.com' },
    );
    const login = await callAndLogin(browser, variant);
    expect(login.headers.get('location')).toMatch(/^\/\?login_error=registration_failed&login_ref=[0-9a-f-]{36}$/);
    const details = (await (await browser.request('/bff/servers/default/connection')).json()) as ConnectionDetails;
    const failed = details.login?.steps.at(-1);
    expect(failed).toMatchObject({ step: 'client', status: 'failed' });
    expect(failed?.detail).toContain('belong to https://as.example.com (its configured OAUTH_ISSUER)');
    expect(failed?.detail).toContain(`the server now names ${variant.issuer}`);
  });

  it('uses an externally hosted client ID metadata document when configured', async () => {
    const { variant, browser } = await setup({ cimd: true }, { OAUTH_CLIENT_METADATA_URL: 'https://client.example/meta.json' });
    expect((await callAndLogin(browser, variant)).status).toBe(200);
    expect(variant.authorizeRequests[0]?.get('client_id')).toBe('https://client.example/meta.json');
  });

  it('uses a client ID metadata document when the AS supports them', async () => {
    const { variant, browser } = await setup({ cimd: true });
    const res = await callAndLogin(browser, variant);
    expect(res.status).toBe(200);
    expect(variant.registrations).toHaveLength(0);
    const clientId = variant.authorizeRequests[0]?.get('client_id') as string;
    expect(clientId).toBe(`${browser.appUrl}/bff/oauth-client.json`);
    const doc = await (await fetch(clientId)).json();
    expect(doc).toMatchObject({ client_id: clientId, redirect_uris: [`${browser.appUrl}/bff/callback/default`], token_endpoint_auth_method: 'none' });
    expect(variant.tokenRequests[0]?.params.get('client_id')).toBe(clientId);
  });

  it('registers once per AS and reuses the client; token auth follows the registration', async () => {
    const { variant, browser } = await setup({ tokenAuthMethods: ['none'] });
    expect((await callAndLogin(browser, variant)).status).toBe(200);
    const other = new TestBrowser(browser.appUrl);
    expect((await callAndLogin(other, variant)).status).toBe(200);
    expect(variant.registrations).toHaveLength(1);
    expect(variant.registrations[0]?.token_endpoint_auth_method).toBe('none');
    expect(variant.tokenRequests.every((t) => t.authorization === undefined && !t.params.has('client_secret'))).toBe(true);
  });

  it('when the server moves to another AS, registers there and never sends the old credentials', async () => {
    const { variant, browser } = await setup();
    expect((await callAndLogin(browser, variant)).status).toBe(200);
    const oldClient = variant.authorizeRequests[0]?.get('client_id');
    const other = await startVariant();
    closers.push(other.close);
    variant.moveTo(other);
    // The old token is refused now; the login that follows goes to the new AS.
    const res = await callAndLogin(browser, { ...variant, issuer: other.issuer } as Variant);
    expect(res.status).toBe(200);
    expect(other.registrations).toHaveLength(1);
    expect(other.authorizeRequests[0]?.get('client_id')).not.toBe(oldClient);
    expect(other.tokenRequests.map((t) => t.authorization)).not.toContain(variant.tokenRequests[0]?.authorization);
    expect(other.tokenRequests.some((t) => t.params.get('client_id') === oldClient)).toBe(false);
  });

  it('when the server has moved to another AS, does not refresh at the old one: logs in at the new one (SEP-2352)', async () => {
    const { variant, browser } = await setup();
    expect((await callAndLogin(browser, variant)).status).toBe(200);
    const other = await startVariant();
    closers.push(other.close);
    variant.moveTo(other);
    // The old AS is gone for good: a refresh there could only fail (and, being a 5xx, keep failing as
    // "try again later"), and its tokens would not be accepted by the server anyway.
    variant.faults.refresh = 'status-500';
    const res = await callAndLogin(browser, { ...variant, issuer: other.issuer } as Variant);
    expect(res.status).toBe(200);
    expect(variant.hits.refresh).toBe(0);
    expect(other.registrations).toHaveLength(1);
    expect(other.tokenRequests).toHaveLength(1);
  });

  it('can leave out resource for authorization servers that reject it', async () => {
    const { variant, browser } = await setup({}, { OAUTH_RESOURCE_INDICATOR: '0' });
    expect((await callAndLogin(browser, variant)).status).toBe(200);
    expect(variant.authorizeRequests[0]?.has('resource')).toBe(false);
    expect(variant.tokenRequests[0]?.params.has('resource')).toBe(false);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../../demo/src/stack.js';
import { grants, TestBrowser } from './support.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

function cookieLine(res: Response, name: string): string | undefined {
  return res.headers.getSetCookie().find((l) => l.startsWith(`${name}=`));
}

describe('login', () => {
  it('sends an OAuth 2.1 authorization request with PKCE S256, state and resource', async () => {
    const browser = new TestBrowser(stack.appUrl);
    const res = await browser.request('/bff/login?server=default&returnTo=/servers/default', { csrf: false });
    expect(res.status).toBe(302);
    const url = new URL(res.headers.get('location') as string);
    expect(url.origin).toBe(stack.issuer);
    const p = url.searchParams;
    expect(p.get('response_type')).toBe('code');
    expect(p.get('client_id')).toBe('mcp-bff-demo');
    expect(p.get('redirect_uri')).toBe(`${stack.appUrl}/bff/callback/default`);
    expect(p.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(p.get('code_challenge_method')).toBe('S256');
    expect(p.get('scope')).toBe('mcp:tools');
    expect(Buffer.from(p.get('state') as string, 'base64url').length).toBeGreaterThanOrEqual(16);
    expect(p.get('resource')).toBe(stack.mcpUrl);
    // The verifier never leaves the BFF except in the token request.
    expect(url.href).not.toMatch(/code_verifier/);

    const line = cookieLine(res, 'mcp_login') as string;
    expect(line).toBeDefined();
    expect(line).toMatch(/; HttpOnly/);
    expect(line).toMatch(/; Secure/);
    expect(line).toMatch(/; SameSite=Lax/);
    expect(line).toMatch(/; Path=\/;/);
    expect(line).toMatch(/; Max-Age=600/);
    expect(cookieLine(res, 'mcp_session')).toBeUndefined();
  });

  it('logs in through the real login and consent pages, rotating to a new session id', async () => {
    const browser = new TestBrowser(stack.appUrl);
    const before = grants(stack, 'authorization_code');
    const callback = await browser.authorize({ returnTo: '/servers/default/tools/add?x=1' });
    expect(callback.origin + callback.pathname).toBe(`${stack.appUrl}/bff/callback/default`);
    expect(callback.searchParams.get('iss')).toBe(stack.issuer);

    const page = await browser.request(callback.pathname + callback.search, { csrf: false });
    expect(page.status).toBe(200);
    expect(grants(stack, 'authorization_code')).toBe(before + 1);
    // The callback sets no session cookie: its request came from the AS's page and carried none.
    expect(cookieLine(page, 'mcp_session')).toBeUndefined();
    expect(cookieLine(page, 'mcp_login')).toMatch(/; SameSite=Lax/);
    const html = await page.text();
    expect(html).toContain('<meta http-equiv="refresh" content="0;url=/bff/callback/complete">');
    expect(html).not.toMatch(/<script/i);

    const res = await browser.request('/bff/callback/complete', { csrf: false });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/servers/default/tools/add?x=1');
    const session = cookieLine(res, 'mcp_session') as string;
    expect(session).toMatch(/; HttpOnly/);
    expect(session).toMatch(/; Secure/);
    expect(session).toMatch(/; SameSite=Strict/);
    expect(session).toMatch(/; Path=\//);
    expect(cookieLine(res, 'mcp_login')).toMatch(/Max-Age=0/);
    expect(browser.jar.names(`${stack.appUrl}/bff/callback`)).not.toContain('mcp_login');
    // The completion is single-use too.
    expect((await browser.request('/bff/callback/complete', { csrf: false })).status).toBe(400);

    const info = await browser.session();
    expect(info.authenticated).toBe(true);
    expect(info.connections[0]).toMatchObject({ status: 'connected', scopes: ['mcp:tools'] });
    expect(JSON.stringify(info)).not.toMatch(/eyJ/); // no JWT, no token of any kind

    // A second login in the same browser gets yet another session id.
    const firstSid = await browser.sessionId();
    await browser.login();
    expect(await browser.sessionId()).not.toBe(firstSid);
    expect(await stack.store.getSession(firstSid)).toBeUndefined();
  });

  it('falls back to / for a returnTo that leaves the app', async () => {
    const browser = new TestBrowser(stack.appUrl);
    const res = await browser.login({ returnTo: '//evil.example/x' });
    expect(res.headers.get('location')).toBe('/');
  });
});

describe('callback failures make no token request and create no session', () => {
  async function expectNothingHappened(browser: TestBrowser, res: Response, tokenRequestsBefore: number) {
    expect(stack.as.tokenRequests.length).toBe(tokenRequestsBefore);
    expect(cookieLine(res, 'mcp_session')).toBeUndefined();
    expect((await browser.session()).authenticated).toBe(false);
  }

  it.each([
    ['missing state', (p: URLSearchParams) => p.delete('state')],
    ['empty state', (p: URLSearchParams) => p.set('state', '')],
    ['mismatched state', (p: URLSearchParams) => p.set('state', 'A'.repeat(43))],
    ['duplicated state', (p: URLSearchParams) => p.append('state', p.get('state') as string)],
    ['wrong iss', (p: URLSearchParams) => p.set('iss', 'http://127.0.0.1:1')],
    ['missing iss', (p: URLSearchParams) => p.delete('iss')],
  ])('%s: 400 page', async (_name, tamper) => {
    const browser = new TestBrowser(stack.appUrl);
    const callback = await browser.authorize();
    tamper(callback.searchParams);
    const before = stack.as.tokenRequests.length;
    const res = await browser.request(callback.pathname + callback.search, { csrf: false });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toMatch(/Sign-in failed/);
    await expectNothingHappened(browser, res, before);
  });

  it('no login cookie (an attacker’s callback opened in the victim’s browser)', async () => {
    const attacker = new TestBrowser(stack.appUrl);
    const callback = await attacker.authorize({ user: 'bob' });
    const victim = new TestBrowser(stack.appUrl);
    const before = stack.as.tokenRequests.length;
    const res = await victim.request(callback.pathname + callback.search, { csrf: false });
    expect(res.status).toBe(400);
    await expectNothingHappened(victim, res, before);
  });

  it('tampered login cookie', async () => {
    const browser = new TestBrowser(stack.appUrl);
    const callback = await browser.authorize();
    const cookie = browser.jar.header(callback) as string;
    const before = stack.as.tokenRequests.length;
    const res = await browser.request(callback.pathname + callback.search, {
      csrf: false,
      headers: { cookie: cookie.replace(/mcp_login=([^;]{10})/, 'mcp_login=$1x') },
    });
    expect(res.status).toBe(400);
    await expectNothingHappened(browser, res, before);
  });

  it('replayed callback: the second use is refused and touches nothing', async () => {
    const browser = new TestBrowser(stack.appUrl);
    const callback = await browser.authorize();
    const loginCookie = browser.jar.header(callback) as string;
    expect((await browser.finishLogin(callback)).status).toBe(302);
    const sid = await browser.sessionId();
    const before = stack.as.tokenRequests.length;
    const replay = await browser.request(callback.pathname + callback.search, { csrf: false, headers: { cookie: loginCookie } });
    expect(replay.status).toBe(400);
    expect(stack.as.tokenRequests.length).toBe(before);
    expect(cookieLine(replay, 'mcp_session')).toBeUndefined();
    expect(await browser.sessionId()).toBe(sid);
    expect((await browser.session()).authenticated).toBe(true);
  });

  it('AS error (access_denied): back to the SPA with a code, nothing reflected', async () => {
    const browser = new TestBrowser(stack.appUrl);
    const callback = await browser.authorize({ consent: 'deny', returnTo: '/somewhere' });
    expect(callback.searchParams.get('error')).toBe('access_denied');
    callback.searchParams.set('error_description', '<script>alert(1)</script>');
    const before = stack.as.tokenRequests.length;
    const res = await browser.request(callback.pathname + callback.search, { csrf: false });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toMatch(/^\/somewhere\?login_error=access_denied&login_ref=[0-9a-f-]{36}$/);
    expect(await res.text()).not.toMatch(/script/);
    await expectNothingHappened(browser, res, before);
  });

  it('bad token response (the AS refuses the code): no session', async () => {
    const browser = new TestBrowser(stack.appUrl);
    const callback = await browser.authorize();
    callback.searchParams.set('code', 'not-a-real-code');
    const res = await browser.request(callback.pathname + callback.search, { csrf: false });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toMatch(/^\/\?login_error=token_exchange_failed&login_ref=[0-9a-f-]{36}$/);
    expect(cookieLine(res, 'mcp_session')).toBeUndefined();
    expect((await browser.session()).authenticated).toBe(false);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CookieJar } from '../../demo/src/cookie-jar.js';
import { loginThroughForms } from '../../demo/src/login-driver.js';
import { type Stack, startStack } from '../../demo/src/stack.js';
import { expireSoon, grants, TestBrowser } from './support.js';

/**
 * Logging out, then signing out at the authorization server too (OpenID Connect RP-Initiated Logout
 * 1.0), against the real demo authorization server (oidc-provider): the BFF ends its own session as
 * before, offers the sign-out, sends the browser there with client_id, post_logout_redirect_uri, state
 * and (after an openid login) id_token_hint, and checks the state on the way back.
 */

const SAME_ORIGIN = { 'sec-fetch-site': 'same-origin' };

interface Offer {
  host: string;
  servers: string[];
  url: string;
}

async function logout(browser: TestBrowser): Promise<{ ok: boolean; signOut?: Offer[] }> {
  const res = await browser.request('/bff/logout', { method: 'POST' });
  expect(res.status).toBe(200);
  return res.json();
}

/** Follows the AS's redirects within its origin (its cookies in `jar`) to the first page it shows. */
async function firstPage(start: string, jar: CookieJar): Promise<{ url: URL; status: number; html: string }> {
  let url = new URL(start);
  for (let step = 0; step < 10; step++) {
    const cookie = jar.header(url);
    const res = await fetch(url, { headers: cookie ? { cookie } : {}, redirect: 'manual' });
    jar.store(url, res.headers);
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      url = new URL(location, url);
      continue;
    }
    return { url, status: res.status, html: await res.text() };
  }
  throw new Error('too many redirects');
}

/** Where a new login for `server` takes the browser first at the AS: its login form, or straight to consent. */
async function connectPage(browser: TestBrowser, server = 'default'): Promise<'password' | 'consent'> {
  const res = await browser.request(`/bff/login?server=${server}&returnTo=/`, { csrf: false });
  expect(res.status).toBe(302);
  const page = await firstPage(res.headers.get('location') as string, browser.asJar);
  expect(page.status).toBe(200);
  if (page.html.includes('type="password"')) return 'password';
  expect(page.html).toContain('>Allow<');
  return 'consent';
}

/**
 * The AS's sign-out page, answered as a person would: "Yes, sign me out" (or "No, stay signed in").
 * Returns where the AS sends the browser afterwards (not fetched).
 */
async function answerSignOut(page: { url: URL; html: string }, jar: CookieJar, signOut = true): Promise<URL> {
  const form = /<form\b[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(page.html);
  if (!form) throw new Error(`no sign-out form: ${page.html.slice(0, 300)}`);
  const action = new URL((form[1] as string).replaceAll('&amp;', '&'), page.url);
  const body = new URLSearchParams([...(form[2] as string).matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1] as string, m[2] as string]));
  if (signOut) body.set('logout', 'yes');
  const cookie = jar.header(action);
  const res = await fetch(action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
    body,
    redirect: 'manual',
  });
  jar.store(action, res.headers);
  await res.body?.cancel();
  expect(res.status).toBe(303);
  return new URL(res.headers.get('location') as string, action);
}

function logoutOutcome(res: Response): string | null {
  expect(res.status).toBe(302);
  return new URL(res.headers.get('location') as string, 'http://app').searchParams.get('logout');
}

describe('logout with a sign-out at the authorization server', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());

  it('ends the session as before, and offers the sign-out at the AS that advertises one', async () => {
    const browser = new TestBrowser(stack.appUrl);
    await browser.login();
    const revocationsBefore = stack.as.revocations.length;
    const res = await browser.request('/bff/logout', { method: 'POST' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      ok: true,
      signOut: [{ host: new URL(stack.issuer).host, servers: ['Demo MCP server'], url: '/bff/logout/end-session?server=default' }],
    });
    const line = res.headers.getSetCookie().find((l) => l.startsWith('mcp_logout=')) as string;
    expect(line).toMatch(/; Max-Age=600; Path=\/; HttpOnly; Secure; SameSite=Lax/);
    expect(res.headers.getSetCookie().join()).toMatch(/mcp_session=;.*Max-Age=0/);
    expect(await browser.session()).toMatchObject({ authenticated: false });
    expect(stack.as.revocations.length).toBe(revocationsBefore + 2);
  });

  it('signing out there too: the next Connect asks for the password again', async () => {
    const browser = new TestBrowser(stack.appUrl);
    await browser.login();
    const { signOut } = await logout(browser);
    const go = await browser.request((signOut as Offer[])[0]?.url as string, { csrf: false, headers: SAME_ORIGIN });
    expect(go.status).toBe(302);
    const endSession = new URL(go.headers.get('location') as string);
    expect(endSession.origin + endSession.pathname).toBe(`${stack.issuer}/session/end`);
    const p = endSession.searchParams;
    expect(p.get('client_id')).toBe('mcp-bff-demo');
    expect(p.get('post_logout_redirect_uri')).toBe(`${stack.appUrl}/bff/logout/callback`);
    expect(Buffer.from(p.get('state') as string, 'base64url').length).toBeGreaterThanOrEqual(16);
    // The login did not ask for openid: there is no ID token to hint with.
    expect(p.has('id_token_hint')).toBe(false);

    const page = await firstPage(endSession.href, browser.asJar);
    expect(page.status).toBe(200);
    expect(page.html).toContain('Sign out of the demo authorization server?');
    expect(page.html).toContain('Signed in as <strong>alice</strong>');
    const back = await answerSignOut(page, browser.asJar);
    expect(back.origin + back.pathname).toBe(`${stack.appUrl}/bff/logout/callback`);
    expect(back.searchParams.get('state')).toBe(p.get('state'));

    const done = await browser.request(back.pathname + back.search, { csrf: false });
    expect(logoutOutcome(done)).toBe('signed_out');
    expect(done.headers.getSetCookie().join()).toMatch(/mcp_logout=;.*Max-Age=0/);
    expect(await connectPage(browser)).toBe('password');
  });

  it('a plain logout leaves the sign-in at the AS alone: the next Connect goes straight to consent', async () => {
    const browser = new TestBrowser(stack.appUrl);
    await browser.login();
    await logout(browser);
    expect(await connectPage(browser)).toBe('consent');
  });

  it('the offer is used once, only from the app itself, and only the state it was sent with comes back', async () => {
    const browser = new TestBrowser(stack.appUrl);
    await browser.login();
    const { signOut } = await logout(browser);
    const url = (signOut as Offer[])[0]?.url as string;

    // A navigation another site starts carries the Lax cookie too: refused, and the offer stays.
    const crossSite = await browser.request(url, { csrf: false, headers: { 'sec-fetch-site': 'cross-site' } });
    expect(logoutOutcome(crossSite)).toBe('sign_out_unconfirmed');
    // Another browser has no offer; an unknown server is none either.
    expect(logoutOutcome(await new TestBrowser(stack.appUrl).request(url, { csrf: false, headers: SAME_ORIGIN }))).toBe('sign_out_expired');
    const nowhere = await browser.request('/bff/logout/end-session?server=nowhere', { csrf: false, headers: SAME_ORIGIN });
    expect(logoutOutcome(nowhere)).toBe('sign_out_expired');

    const go = await browser.request(url, { csrf: false, headers: SAME_ORIGIN });
    expect(go.status).toBe(302);
    const state = new URL(go.headers.get('location') as string).searchParams.get('state') as string;
    expect(logoutOutcome(await browser.request(url, { csrf: false, headers: SAME_ORIGIN }))).toBe('sign_out_expired');

    // A crafted answer (no state, another state, two) is refused, and leaves the real one working.
    for (const query of ['', '?state=forged-state-forged-state-1234', `?state=${state}&state=${state}`]) {
      expect(logoutOutcome(await browser.request(`/bff/logout/callback${query}`, { csrf: false }))).toBe('sign_out_unconfirmed');
    }
    expect(logoutOutcome(await new TestBrowser(stack.appUrl).request(`/bff/logout/callback?state=${state}`, { csrf: false }))).toBe(
      'sign_out_unconfirmed',
    );
    expect(logoutOutcome(await browser.request(`/bff/logout/callback?state=${state}`, { csrf: false }))).toBe('signed_out');
    // Used up.
    expect(logoutOutcome(await browser.request(`/bff/logout/callback?state=${state}`, { csrf: false }))).toBe('sign_out_unconfirmed');
  });

  it('disconnecting one server offers no sign-out: the session goes on', async () => {
    const browser = new TestBrowser(stack.appUrl);
    await browser.login();
    const res = await browser.request('/bff/logout?server=default', { method: 'POST' });
    expect(await res.json()).toEqual({ ok: true });
    expect(res.headers.getSetCookie().join()).not.toMatch(/mcp_logout=/);
  });

  it('the client is registered with its post-logout redirect URI: the metadata document lists it', async () => {
    const res = await fetch(`${stack.appUrl}/bff/oauth-client.json`);
    expect(await res.json()).toMatchObject({ post_logout_redirect_uris: [`${stack.appUrl}/bff/logout/callback`] });
  });
});

describe('logout after an OpenID Connect login', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { OAUTH_SCOPES: 'openid mcp:tools' } });
  });
  afterAll(() => stack.close());

  it('keeps the ID token server-side, encrypted with the tokens, and sends it only to the AS as id_token_hint', async () => {
    const browser = new TestBrowser(stack.appUrl);
    await browser.login();
    const record = await stack.store.getConnection(await browser.sessionId(), 'default');
    const idToken = record?.idToken as string;
    expect(idToken).toMatch(/^eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+$/);
    const claims = JSON.parse(Buffer.from(idToken.split('.')[1] as string, 'base64url').toString());
    expect(claims).toMatchObject({ iss: stack.issuer, aud: 'mcp-bff-demo', sub: 'alice' });

    const sessionBody = await (await browser.request('/bff/session')).text();
    expect(sessionBody).not.toContain(idToken);
    const logoutRes = await browser.request('/bff/logout', { method: 'POST' });
    const logoutBody = await logoutRes.text();
    expect(logoutBody).not.toContain(idToken);
    expect(logoutRes.headers.getSetCookie().join()).not.toContain(idToken);
    const { signOut } = JSON.parse(logoutBody) as { signOut: Offer[] };

    const go = await browser.request(signOut[0]?.url as string, { csrf: false, headers: SAME_ORIGIN });
    expect(go.headers.getSetCookie().join()).not.toContain(idToken);
    const endSession = new URL(go.headers.get('location') as string);
    expect(endSession.searchParams.get('id_token_hint')).toBe(idToken);
    expect(endSession.searchParams.get('client_id')).toBe('mcp-bff-demo');

    // The demo AS checks the hint (its signature, and that it was issued to this client) and asks.
    const page = await firstPage(endSession.href, browser.asJar);
    expect(page.status).toBe(200);
    const back = await answerSignOut(page, browser.asJar);
    expect(logoutOutcome(await browser.request(back.pathname + back.search, { csrf: false }))).toBe('signed_out');
    expect(await connectPage(browser)).toBe('password');
  });
});

describe('refresh after an OpenID Connect login', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { OAUTH_SCOPES: 'openid mcp:tools' } });
  });
  afterAll(() => stack.close());

  it('refreshes as before, and the connection keeps an ID token for the sign-out', async () => {
    const browser = new TestBrowser(stack.appUrl);
    await browser.login();
    const sid = await browser.sessionId();
    const first = (await stack.store.getConnection(sid, 'default'))?.idToken;
    expect(first).toBeDefined();
    await expireSoon(stack, sid);
    const refreshes = grants(stack, 'refresh_token');
    const client = await browser.mcpClient();
    await client.listTools();
    await client.close();
    expect(grants(stack, 'refresh_token')).toBe(refreshes + 1);
    const after = await stack.store.getConnection(sid, 'default');
    expect(after?.generation).toBeGreaterThan(0);
    const idToken = after?.idToken ?? '';
    expect(idToken).toMatch(/^eyJ/);
    const claims = JSON.parse(Buffer.from(idToken.split('.')[1] as string, 'base64url').toString());
    expect(claims).toMatchObject({ sub: 'alice', aud: 'mcp-bff-demo' });
  });
});

describe('sign-out at several authorization servers', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ secondServer: true });
  });
  afterAll(() => stack.close());

  it('a dynamically registered client is registered with the post-logout redirect URI; one AS is chosen', async () => {
    const browser = new TestBrowser(stack.appUrl);
    await browser.login();
    const notes = await browser.request('/bff/login?server=notes&returnTo=/', { csrf: false });
    const secondJar = new TestBrowser(stack.appUrl).asJar;
    await browser.finishLogin(await loginThroughForms(notes.headers.get('location') as string, 'alice', 'alice-demo-password', 'allow', secondJar));
    const second = stack.second as NonNullable<Stack['second']>;
    const registered = await second.as.provider.Client.find(second.as.registrations[0]?.clientId as string);
    expect(registered?.postLogoutRedirectUris).toEqual([`${stack.appUrl}/bff/logout/callback`]);

    const { signOut } = await logout(browser);
    expect(signOut).toEqual([
      { host: new URL(stack.issuer).host, servers: ['Demo MCP server'], url: '/bff/logout/end-session?server=default' },
      { host: new URL(second.issuer).host, servers: ['Second demo MCP server'], url: '/bff/logout/end-session?server=notes' },
    ]);
    // The one chosen: the second AS, as the client the BFF registered there, back to the app with the state.
    const go = await browser.request(signOut?.[1]?.url as string, { csrf: false, headers: SAME_ORIGIN });
    const endSession = new URL(go.headers.get('location') as string);
    expect(endSession.origin).toBe(second.issuer);
    expect(endSession.searchParams.get('client_id')).toBe(registered?.clientId);
    const back = await answerSignOut(await firstPage(endSession.href, secondJar), secondJar);
    expect(logoutOutcome(await browser.request(back.pathname + back.search, { csrf: false }))).toBe('signed_out');
    // One sign-out per logout: the other offer went with it.
    expect(logoutOutcome(await browser.request(signOut?.[0]?.url as string, { csrf: false, headers: SAME_ORIGIN }))).toBe('sign_out_expired');
  });
});

describe('what the authorization server advertises', () => {
  // A fault the real AS cannot be made to show: its metadata rewritten on the way to the BFF.
  for (const advertised of [undefined, 'http://sign-out.example/end', 'https://user:secret@sign-out.example/end', 'not a url']) {
    it(`nothing is offered for an end_session_endpoint that is ${advertised === undefined ? 'absent' : `"${advertised}"`}`, async () => {
      const outboundFetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
        const res = await fetch(input, init);
        const url = input instanceof Request ? input.url : String(input);
        if (!url.includes('/.well-known/oauth-authorization-server') || res.status !== 200) return res;
        const metadata = (await res.json()) as Record<string, unknown>;
        if (advertised === undefined) delete metadata.end_session_endpoint;
        else metadata.end_session_endpoint = advertised;
        return new Response(JSON.stringify(metadata), { status: 200, headers: { 'content-type': 'application/json' } });
      }) as typeof fetch;
      const stack = await startStack({ outboundFetch });
      try {
        const browser = new TestBrowser(stack.appUrl);
        await browser.login();
        const res = await browser.request('/bff/logout', { method: 'POST' });
        expect(await res.json()).toEqual({ ok: true });
        expect(res.headers.getSetCookie().join()).not.toMatch(/mcp_logout=/);
        expect(await browser.session()).toMatchObject({ authenticated: false });
      } finally {
        await stack.close();
      }
    });
  }
});

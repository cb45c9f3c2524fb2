import type { ConnectionDetails } from '@mcp-bff/shared';
import { sealData, unsealData } from 'iron-session';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TestBrowser } from './support.js';
import {
  authorizeAtVariant,
  expectCleanError,
  expectSameOriginPath,
  setCookieLine,
  startVariantApp,
  TEST_SESSION_SECRET,
  type VariantApp,
} from './hostile-support.js';
import type { VariantOptions } from './variant-server.js';

/**
 * Forged, replayed, stale and crossed callbacks: each is answered with a small 4xx page (or a redirect
 * with a fixed code), never reaches the token endpoint, never creates or changes a session.
 */

const apps: VariantApp[] = [];
afterEach(async () => {
  while (apps.length) await apps.pop()?.close();
});

async function start(options: VariantOptions = {}, env: Record<string, string> = {}): Promise<VariantApp> {
  const app = await startVariantApp(options, env);
  apps.push(app);
  return app;
}

/** The sealed login cookie as the browser holds it for the callback path. */
function loginCookie(browser: TestBrowser): string {
  const value = /mcp_login=([^;]+)/.exec(browser.jar.header(`${browser.appUrl}/bff/callback`) ?? '')?.[1];
  if (!value) throw new Error('no login cookie');
  return value;
}

async function sessionOf(browser: TestBrowser): Promise<{ authenticated: boolean }> {
  return (await browser.request('/bff/session')).json();
}

/** Loads the callback URL; expects the refusal page; nothing reached the token endpoint; no session. */
async function expectRefused(app: VariantApp, browser: TestBrowser, callback: string, init: RequestInit = {}): Promise<string> {
  const tokenRequests = app.variant.tokenRequests.length;
  const res = await browser.request(callback, { ...init, csrf: false });
  expect(res.status).toBe(400);
  expect(res.headers.get('content-type')).toMatch(/text\/html/);
  expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
  const text = await res.clone().text();
  await expectCleanError(res, 400, undefined, [app.variant.issuer]);
  expect(text).toMatch(/Sign-in failed/);
  expect(app.variant.tokenRequests.length).toBe(tokenRequests);
  expect(setCookieLine(res, 'mcp_session')).toBeUndefined();
  return text;
}

function pathOf(url: URL): string {
  return url.pathname + url.search;
}

describe('state', () => {
  it.each([
    ['missing', (p: URLSearchParams) => p.delete('state')],
    ['empty', (p: URLSearchParams) => p.set('state', '')],
    ['another value of the same length', (p: URLSearchParams) => p.set('state', 'A'.repeat((p.get('state') as string).length))],
    ['the right one in another case', (p: URLSearchParams) => p.set('state', (p.get('state') as string).toUpperCase())],
    ['the right one with a space', (p: URLSearchParams) => p.set('state', `${p.get('state')} `)],
    ['a prefix of the right one', (p: URLSearchParams) => p.set('state', (p.get('state') as string).slice(0, 20))],
    ['very long', (p: URLSearchParams) => p.set('state', 'x'.repeat(6000))],
    ['duplicated, right one first', (p: URLSearchParams) => p.append('state', 'forged')],
    [
      'duplicated, right one second',
      (p: URLSearchParams) => {
        const right = p.get('state') as string;
        p.set('state', 'forged');
        p.append('state', right);
      },
    ],
    ['the right one twice', (p: URLSearchParams) => p.append('state', p.get('state') as string)],
  ])('%s: a 4xx page, no token request, no session', async (_name, tamper) => {
    const app = await start();
    const browser = app.browser();
    const callback = await authorizeAtVariant(browser);
    tamper(callback.searchParams);
    await expectRefused(app, browser, pathOf(callback));
    expect((await sessionOf(browser)).authenticated).toBe(false);
  });

  it('a forged callback does not spoil the login in progress: the real callback still completes it', async () => {
    const app = await start();
    const browser = app.browser();
    const callback = await authorizeAtVariant(browser);
    const forged = new URL(callback);
    forged.searchParams.set('state', 'forged-state-value-of-some-length-000000000');
    await expectRefused(app, browser, pathOf(forged));
    const done = await browser.finishLogin(callback);
    expect(done.status).toBe(302);
    expect((await sessionOf(browser)).authenticated).toBe(true);
    expect(app.variant.tokenRequests).toHaveLength(1);
  });
});

describe('login transaction cookie', () => {
  it('no login in progress: a 4xx page', async () => {
    const app = await start();
    const attacker = app.browser();
    const callback = await authorizeAtVariant(attacker);
    const victim = app.browser();
    await expectRefused(app, victim, pathOf(callback));
    expect((await sessionOf(victim)).authenticated).toBe(false);
  });

  it.each([
    ['a flipped character', (c: string) => `${c.slice(0, 40)}${c[40] === 'A' ? 'B' : 'A'}${c.slice(41)}`],
    ['truncated', (c: string) => c.slice(0, c.length - 10)],
    ['with bytes inserted into its MAC', (c: string) => c.replace(/~2$/, 'AAAA~2')],
    ['another password id', (c: string) => c.replace(/^Fe26\.2\*1\*/, 'Fe26.2*7*')],
    ['garbage', () => 'not-a-seal'],
    ['empty', () => ''],
    ['oversized', (c: string) => c + 'A'.repeat(5000)],
    ['broken percent-encoding', () => '%E0%A4%A'],
    ['JSON instead of a seal', () => encodeURIComponent(JSON.stringify({ state: 'x', codeVerifier: 'y' }))],
  ])('tampered (%s): a 4xx page', async (_name, tamper) => {
    const app = await start();
    const browser = app.browser();
    const callback = await authorizeAtVariant(browser);
    const cookie = tamper(loginCookie(browser));
    await expectRefused(app, browser, pathOf(callback), { headers: { cookie: `mcp_login=${cookie}` } });
  });

  /** A transaction the BFF would accept, but sealed by the test: with another secret, or too old. */
  async function forgedTransaction(browser: TestBrowser, password: string, createdAt: number) {
    const callback = await authorizeAtVariant(browser);
    const txn = await unsealData<Record<string, unknown>>(loginCookie(browser), { password: { 1: TEST_SESSION_SECRET } });
    expect(txn.state).toBe(callback.searchParams.get('state'));
    const sealed = await sealData({ ...txn, createdAt }, { password: { 1: password }, ttl: 600 });
    return { callback, sealed };
  }

  it('sealed with another deployment’s secret: a 4xx page', async () => {
    const app = await start();
    const browser = app.browser();
    const { callback, sealed } = await forgedTransaction(browser, 'another-deployment-secret-0123456789abcdef', Date.now());
    await expectRefused(app, browser, pathOf(callback), { headers: { cookie: `mcp_login=${sealed}` } });
  });

  it('expired (created 11 minutes ago, or a seal past its own expiry): a 4xx page', async () => {
    const app = await start();
    const browser = app.browser();
    const old = await forgedTransaction(browser, TEST_SESSION_SECRET, Date.now() - 11 * 60 * 1000);
    await expectRefused(app, browser, pathOf(old.callback), { headers: { cookie: `mcp_login=${old.sealed}` } });

    // A seal made 20 minutes ago with a 10-minute lifetime (iron-session's own expiry).
    const again = app.browser();
    const callback = await authorizeAtVariant(again);
    const txn = await unsealData<Record<string, unknown>>(loginCookie(again), { password: { 1: TEST_SESSION_SECRET } });
    vi.useFakeTimers({ toFake: ['Date'] });
    let stale: string;
    try {
      vi.setSystemTime(Date.now() - 20 * 60 * 1000);
      stale = await sealData(txn, { password: { 1: TEST_SESSION_SECRET }, ttl: 600 });
    } finally {
      vi.useRealTimers();
    }
    await expectRefused(app, again, pathOf(callback), { headers: { cookie: `mcp_login=${stale}` } });
  });

  it('a completion cookie where a transaction belongs (and the other way round): 4xx', async () => {
    const app = await start();
    const browser = app.browser();
    const callback = await authorizeAtVariant(browser);
    const page = await browser.request(pathOf(callback), { csrf: false });
    expect(page.status).toBe(200);
    const completion = loginCookie(browser);
    const tokenRequests = app.variant.tokenRequests.length;
    await expectRefused(app, app.browser(), pathOf(callback), { headers: { cookie: `mcp_login=${completion}` } });
    // The transaction cookie of a new login at the completion endpoint.
    const other = app.browser();
    await authorizeAtVariant(other);
    const res = await other.request('/bff/callback/complete', { csrf: false });
    expect(res.status).toBe(400);
    expect(setCookieLine(res, 'mcp_session')).toBeUndefined();
    expect(app.variant.tokenRequests.length).toBe(tokenRequests);
  });
});

describe('replay', () => {
  it('a replayed callback (with its old login cookie) never touches the session it created', async () => {
    const app = await start();
    const browser = app.browser();
    const callback = await authorizeAtVariant(browser);
    const oldLoginCookie = loginCookie(browser);
    expect((await browser.finishLogin(callback)).status).toBe(302);
    const sid = await sidOf(browser);
    const record = await app.store.getConnection(sid, 'default');
    const sessionCookie = browser.jar.header(app.origin) as string;

    await expectRefused(app, browser, pathOf(callback), { headers: { cookie: `${sessionCookie}; mcp_login=${oldLoginCookie}` } });
    expect(await sidOf(browser)).toBe(sid);
    expect((await app.store.getConnection(sid, 'default'))?.accessToken).toBe(record?.accessToken);
    expect(app.variant.tokenRequests).toHaveLength(1);
  });

  it('a replayed completion (its cookie kept by an attacker) is refused and changes nothing', async () => {
    const app = await start();
    const browser = app.browser();
    const callback = await authorizeAtVariant(browser);
    await browser.request(pathOf(callback), { csrf: false });
    const completion = loginCookie(browser);
    const done = await browser.request('/bff/callback/complete', { csrf: false });
    expect(done.status).toBe(302);
    const sid = await sidOf(browser);
    const replay = await app.browser().request('/bff/callback/complete', { csrf: false, headers: { cookie: `mcp_login=${completion}` } });
    expect(replay.status).toBe(400);
    expect(setCookieLine(replay, 'mcp_session')).toBeUndefined();
    expect(await sidOf(browser)).toBe(sid);
    expect((await sessionOf(browser)).authenticated).toBe(true);
  });
});

async function sidOf(browser: TestBrowser): Promise<string> {
  const sealed = /mcp_session=([^;]+)/.exec(browser.jar.header(browser.appUrl) ?? '')?.[1];
  if (!sealed) throw new Error('no session cookie');
  return (await unsealData<{ sid: string }>(sealed, { password: { 1: TEST_SESSION_SECRET } })).sid;
}

describe('two logins in two tabs of one browser', () => {
  it('the second login’s cookie replaces the first’s: the first callback fails cleanly, the second succeeds', async () => {
    const app = await start();
    const browser = app.browser();
    const first = await authorizeAtVariant(browser, '/first');
    const second = await authorizeAtVariant(browser, '/second');
    await expectRefused(app, browser, pathOf(first));
    expect(app.variant.tokenRequests).toHaveLength(0);
    const done = await browser.finishLogin(second);
    expect(done.headers.get('location')).toBe('/second');
    expect((await sessionOf(browser)).authenticated).toBe(true);
    expect(app.variant.tokenRequests).toHaveLength(1);
  });

  it('in the other order: the second completes, then the first is refused and leaves the session alone', async () => {
    const app = await start();
    const browser = app.browser();
    const first = await authorizeAtVariant(browser, '/first');
    const second = await authorizeAtVariant(browser, '/second');
    expect((await browser.finishLogin(second)).headers.get('location')).toBe('/second');
    const sid = await sidOf(browser);
    await expectRefused(app, browser, pathOf(first));
    expect(await sidOf(browser)).toBe(sid);
    expect((await sessionOf(browser)).authenticated).toBe(true);
  });
});

describe('login CSRF: an attacker’s callback URL opened in the victim’s browser', () => {
  it('with no login in progress, with the victim’s own login in progress, and with the victim signed in', async () => {
    const app = await start();
    const attacker = app.browser();
    const attackersCallback = await authorizeAtVariant(attacker);

    const fresh = app.browser();
    await expectRefused(app, fresh, pathOf(attackersCallback));
    expect((await sessionOf(fresh)).authenticated).toBe(false);

    const midLogin = app.browser();
    const own = await authorizeAtVariant(midLogin);
    await expectRefused(app, midLogin, pathOf(attackersCallback));
    expect((await midLogin.finishLogin(own)).status).toBe(302);
    const victimToken = (await app.store.getConnection(await sidOf(midLogin), 'default'))?.accessToken;

    const sid = await sidOf(midLogin);
    await expectRefused(app, midLogin, pathOf(attackersCallback));
    expect(await sidOf(midLogin)).toBe(sid);
    expect((await app.store.getConnection(sid, 'default'))?.accessToken).toBe(victimToken);
    // The attacker's code was never exchanged: only the victim's own login reached the token endpoint.
    expect(app.variant.tokenRequests.map((t) => t.params.get('code'))).toEqual([own.searchParams.get('code')]);
  });
});

describe('issuer checks', () => {
  it.each([
    ['iss missing though advertised', { iss: 'missing' }],
    ['iss wrong', { iss: 'wrong' }],
    ['iss wrong though not advertised', { iss: 'wrong', metadata: { authorization_response_iss_parameter_supported: undefined } }],
  ] as Array<[string, VariantOptions]>)('%s: a 4xx page, no token request, no session', async (_name, options) => {
    const app = await start(options);
    const browser = app.browser();
    const callback = await authorizeAtVariant(browser);
    await expectRefused(app, browser, pathOf(callback));
    expect((await sessionOf(browser)).authenticated).toBe(false);
  });

  it('an iss added by an attacker to a callback that had none is refused too', async () => {
    const app = await start({ iss: 'missing', metadata: { authorization_response_iss_parameter_supported: undefined } });
    const browser = app.browser();
    const callback = await authorizeAtVariant(browser);
    callback.searchParams.set('iss', 'https://evil.example');
    await expectRefused(app, browser, pathOf(callback));
  });

  it('AS metadata naming another issuer: refused before anything is sent to the AS', async () => {
    const app = await start({ metadata: { issuer: 'https://evil.example' } });
    const browser = app.browser();
    const res = await browser.request('/bff/login?server=default&returnTo=/x', { csrf: false });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toMatch(/^\/x\?login_error=authorization_failed&login_ref=[0-9a-f-]{36}$/);
    // No login transaction: the login cookie only points to the failed login's report.
    const details = (await (await browser.request('/bff/servers/default/connection')).json()) as ConnectionDetails;
    expect(details.login?.steps.at(-1)).toMatchObject({ step: 'authorization_server_metadata', status: 'failed' });
    expect(details.login?.steps.at(-1)?.detail).toMatch(/^Authorization server metadata at .* is invalid./);
    expect(app.variant.authorizeRequests).toHaveLength(0);
    expect(app.variant.registrations).toHaveLength(0);
    expect(app.variant.tokenRequests).toHaveLength(0);
  });
});

describe('the AS’s error parameters are never reflected', () => {
  const XSS = '<script>alert(1)</script>';
  it.each([
    ['access_denied', 'access_denied'],
    [XSS, 'authorization_failed'],
    ['"><img src=x onerror=alert(1)>', 'authorization_failed'],
    ['server_error', 'authorization_failed'],
  ])('error=%s: a redirect with the fixed code %s, nothing of the AS’s text anywhere', async (error, code) => {
    const app = await start();
    const browser = app.browser();
    const callback = await authorizeAtVariant(browser, '/tools');
    const p = new URLSearchParams({
      error,
      error_description: `<img src=x onerror=alert(2)> ${XSS}`,
      error_uri: 'javascript:alert(3)',
      state: callback.searchParams.get('state') as string,
      iss: app.variant.issuer,
    });
    const res = await browser.request(`/bff/callback/default?${p}`, { csrf: false });
    expect(res.status).toBe(302);
    const location = res.headers.get('location') as string;
    expectSameOriginPath(location, app.origin);
    expect(location).toMatch(new RegExp(`^/tools\\?login_error=${code}&login_ref=[0-9a-f-]{36}$`));
    const body = await res.text();
    for (const bit of ['<script', '<img', 'onerror', 'javascript:', 'alert']) {
      expect(body).not.toContain(bit);
      expect(location).not.toContain(bit);
      expect([...res.headers.values()].join('\n')).not.toContain(bit);
    }
    expect(app.variant.tokenRequests).toHaveLength(0);
    expect(setCookieLine(res, 'mcp_session')).toBeUndefined();
  });

  it('on a refused callback page too', async () => {
    const app = await start();
    const browser = app.browser();
    await authorizeAtVariant(browser);
    const p = new URLSearchParams({ error: XSS, error_description: XSS, error_uri: 'javascript:alert(1)', state: 'forged' });
    const html = await expectRefused(app, browser, `/bff/callback/default?${p}`);
    expect(html).not.toMatch(/script|alert|javascript|onerror/i);
  });
});

describe('Host and forwarded headers change nothing', () => {
  const HOSTILE = {
    host: 'evil.example',
    'x-forwarded-host': 'evil.example',
    'x-forwarded-proto': 'https',
    'x-forwarded-port': '443',
    'x-forwarded-prefix': '/evil',
    forwarded: 'host=evil.example;proto=https',
    'x-original-url': '//evil.example/',
    'x-rewrite-url': '//evil.example/',
  };

  it('redirect_uri, client metadata, cookies and the final Location come from configuration', async () => {
    const app = await start();
    const browser = app.browser();
    const login = await browser.request('/bff/login?server=default&returnTo=/x', { csrf: false, headers: HOSTILE });
    expect(login.status).toBe(302);
    const authorizeUrl = new URL(login.headers.get('location') as string);
    expect(authorizeUrl.origin).toBe(new URL(app.variant.issuer).origin);
    expect(authorizeUrl.searchParams.get('redirect_uri')).toBe(`${app.origin}/bff/callback/default`);
    const loginLine = setCookieLine(login, 'mcp_login') as string;
    expect(loginLine).not.toMatch(/domain=/i);
    expect(loginLine).toMatch(/; Path=\/(;|$)/);

    const authorize = await fetch(authorizeUrl, { redirect: 'manual' });
    const callback = new URL(authorize.headers.get('location') as string);
    expect(callback.origin).toBe(app.origin);
    const page = await browser.request(pathOf(callback), { csrf: false, headers: HOSTILE });
    expect(page.status).toBe(200);
    expect(await page.text()).not.toContain('evil');
    const done = await browser.request('/bff/callback/complete', { csrf: false, headers: HOSTILE });
    expect(done.status).toBe(302);
    expect(done.headers.get('location')).toBe('/x');
    const sessionLine = setCookieLine(done, 'mcp_session') as string;
    expect(sessionLine).not.toMatch(/domain=/i);
    expect(sessionLine).toMatch(/; Path=\/(;|$)/);
    expect(app.variant.tokenRequests[0]?.params.get('redirect_uri')).toBe(`${app.origin}/bff/callback/default`);

    const doc = await (await browser.request('/bff/oauth-client.json', { csrf: false, headers: HOSTILE })).json();
    expect(JSON.stringify(doc)).not.toContain('evil');
    expect(doc.redirect_uris).toEqual([`${app.origin}/bff/callback/default`]);

    const errorRedirect = await browser.request('/bff/login?server=nope', { csrf: false, headers: HOSTILE });
    expect(errorRedirect.headers.get('location')).toMatch(/^\/\?login_error=authorization_failed&login_ref=[0-9a-f-]{36}$/);
  });
});

import { sealData, unsealData } from 'iron-session';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MCP_HEADERS, rpc, type TestBrowser } from './support.js';
import {
  expectCleanError,
  loginAtVariant,
  setCookieLine,
  startVariantApp,
  TEST_SESSION_SECRET,
  type VariantApp,
} from './hostile-support.js';

/**
 * The session cookie under attack: whatever the browser sends that is not a live session the BFF sealed
 * is anonymous (never a 500), a login never keeps a session id from before it, and the cookie's
 * attributes are exactly those of DESIGN.md.
 */

let app: VariantApp;
beforeAll(async () => {
  app = await startVariantApp();
});
afterAll(() => app.close());

function sessionCookieValue(browser: TestBrowser): string {
  const value = /mcp_session=([^;]+)/.exec(browser.jar.header(browser.appUrl) ?? '')?.[1];
  if (!value) throw new Error('no session cookie');
  return value;
}

async function sidOf(cookie: string): Promise<string> {
  return (await unsealData<{ sid: string }>(cookie, { password: { 1: TEST_SESSION_SECRET } })).sid;
}

async function signedIn(): Promise<{ browser: TestBrowser; cookie: string; sid: string }> {
  const browser = app.browser();
  expect((await loginAtVariant(browser)).status).toBe(302);
  const cookie = sessionCookieValue(browser);
  return { browser, cookie, sid: await sidOf(cookie) };
}

/** With only this Cookie header: anonymous everywhere, clean answers, nothing of anyone's session used. */
async function expectAnonymous(cookieHeader: string): Promise<void> {
  const browser = app.browser();
  const headers = { cookie: cookieHeader };
  const session = await browser.request('/bff/session', { headers });
  expect(session.status).toBe(200);
  expect(await session.json()).toMatchObject({ authenticated: false, sessionExpiresAt: null });

  const mcpBefore = app.variant.mcpRequests.length;
  const call = await browser.request('/mcp/default', { method: 'POST', headers: { ...MCP_HEADERS, ...headers }, body: rpc('tools/list') });
  await expectCleanError(call, 401, 'login_required', [app.variant.url]);
  // Lazy login: the call went upstream without any token, and the upstream's 401 became login_required.
  expect(app.variant.mcpRequests.slice(mcpBefore).map((r) => r.headers.authorization)).toEqual([undefined]);

  const logout = await browser.request('/bff/logout', { method: 'POST', headers });
  expect(logout.status).toBe(200);
}

describe('cookies that are not a live session are anonymous', () => {
  it.each([
    ['a flipped character', (c: string) => `${c.slice(0, 50)}${c[50] === 'A' ? 'B' : 'A'}${c.slice(51)}`],
    ['truncated', (c: string) => c.slice(0, Math.floor(c.length / 2))],
    ['truncated by one', (c: string) => c.slice(0, -1)],
    ['bytes in its MAC', (c: string) => c.replace(/~2$/, 'AA~2')],
    ['another password id', (c: string) => c.replace(/^Fe26\.2\*1\*/, 'Fe26.2*2*')],
    ['another seal format', (c: string) => c.replace(/^Fe26\.2/, 'Fe26.1')],
    ['garbage', () => 'garbage'],
    ['empty', () => ''],
    ['10 kB', () => 'A'.repeat(10_000)],
    ['broken percent-encoding', () => '%E0%A4%A'],
    ['a NUL byte', () => 'Fe26.2*1*%00'],
    ['JSON with a session id', () => encodeURIComponent(JSON.stringify({ sid: 'A'.repeat(43) }))],
  ])('%s', async (_name, tamper) => {
    const { cookie, sid } = await signedIn();
    await expectAnonymous(`mcp_session=${tamper(cookie)}`);
    // The real session was not touched by any of it (logout with a bad cookie ends nothing).
    expect(await app.store.getSession(sid)).toBeDefined();
  });

  it('sealed with another deployment’s secret, for a session id that exists here', async () => {
    const { sid } = await signedIn();
    const foreign = await sealData({ sid }, { password: { 1: 'another-deployment-secret-0123456789abcdef' }, ttl: 3600 });
    await expectAnonymous(`mcp_session=${foreign}`);
    expect(await app.store.getSession(sid)).toBeDefined();
  });

  it('sealed right, but the seal expired', async () => {
    const { sid } = await signedIn();
    vi.useFakeTimers({ toFake: ['Date'] });
    let stale: string;
    try {
      vi.setSystemTime(Date.now() - 3 * 3600 * 1000);
      stale = await sealData({ sid }, { password: { 1: TEST_SESSION_SECRET }, ttl: 3600 });
    } finally {
      vi.useRealTimers();
    }
    await expectAnonymous(`mcp_session=${stale}`);
  });

  it('sealed right, for a session that ended (idle or absolute end) or never existed', async () => {
    const { cookie, sid } = await signedIn();
    await app.store.touchSession(sid, Date.now() - 1000);
    await expectAnonymous(`mcp_session=${cookie}`);
    const unknown = await sealData({ sid: 'B'.repeat(43) }, { password: { 1: TEST_SESSION_SECRET }, ttl: 3600 });
    await expectAnonymous(`mcp_session=${unknown}`);
  });

  it('sealed right, but not the shape of a session cookie', async () => {
    for (const data of [{ sid: 'short' }, { sid: `${'A'.repeat(43)}/` }, { sid: 'A'.repeat(43), admin: true }, { id: 'A'.repeat(43) }, 'A'.repeat(43)]) {
      const sealed = await sealData(data, { password: { 1: TEST_SESSION_SECRET }, ttl: 3600 });
      await expectAnonymous(`mcp_session=${sealed}`);
    }
  });

  it('the login cookie’s seal presented as a session cookie', async () => {
    const browser = app.browser();
    await browser.request('/bff/login?server=default', { csrf: false });
    const login = /mcp_login=([^;]+)/.exec(browser.jar.header(`${app.origin}/bff/callback`) ?? '')?.[1] as string;
    expect(login).toBeTruthy();
    await expectAnonymous(`mcp_session=${login}`);
  });

  it('a logged-out session’s cookie stays worthless', async () => {
    const { browser, cookie, sid } = await signedIn();
    expect((await browser.request('/bff/logout', { method: 'POST' })).status).toBe(200);
    expect(await app.store.getSession(sid)).toBeUndefined();
    await expectAnonymous(`mcp_session=${cookie}`);
  });
});

describe('fixation', () => {
  it('a session cookie planted in the victim’s browser is replaced at login and dies', async () => {
    const attacker = await signedIn();
    const victim = app.browser();
    victim.jar.store(app.origin, new Headers({ 'set-cookie': `mcp_session=${attacker.cookie}; Path=/` }));
    expect(sessionCookieValue(victim)).toBe(attacker.cookie);

    expect((await loginAtVariant(victim)).status).toBe(302);
    const victimSid = await sidOf(sessionCookieValue(victim));
    expect(victimSid).not.toBe(attacker.sid);
    expect(sessionCookieValue(victim)).not.toBe(attacker.cookie);
    // The planted id is gone: the attacker's copy of the cookie reaches nothing of the victim's.
    expect(await app.store.getSession(attacker.sid)).toBeUndefined();
    await expectAnonymous(`mcp_session=${attacker.cookie}`);
    const victimToken = (await app.store.getConnection(victimSid, 'default'))?.accessToken as string;
    expect(victimToken).toBeTruthy();
    expect(app.variant.mcpRequests.some((r) => r.headers.authorization === `Bearer ${victimToken}`)).toBe(false);
  });

  it('every login, even in the same browser, gets a new id; the old one ends', async () => {
    const { browser, sid } = await signedIn();
    expect((await loginAtVariant(browser)).status).toBe(302);
    const next = await sidOf(sessionCookieValue(browser));
    expect(next).not.toBe(sid);
    expect(await app.store.getSession(sid)).toBeUndefined();
  });
});

describe('cookie attributes (DESIGN.md: Cookies and state)', () => {
  function attributes(line: string): { name: string; value: string; attrs: Map<string, string> } {
    const [pair = '', ...rest] = line.split(';').map((p) => p.trim());
    const eq = pair.indexOf('=');
    const attrs = new Map(rest.map((a) => [a.split('=')[0]?.toLowerCase() ?? '', a.includes('=') ? a.slice(a.indexOf('=') + 1) : '']));
    return { name: pair.slice(0, eq), value: pair.slice(eq + 1), attrs };
  }

  it('over http (loopback dev): mcp_session HttpOnly Secure SameSite=Strict Path=/, mcp_login Lax Path=/, set and cleared alike', async () => {
    const browser = app.browser();
    const login = await browser.request('/bff/login?server=default&returnTo=/', { csrf: false });
    const loginCookie = attributes(setCookieLine(login, 'mcp_login') as string);
    expect(Object.fromEntries(loginCookie.attrs)).toEqual({ 'max-age': '600', path: '/', httponly: '', secure: '', samesite: 'Lax' });

    const authorize = await fetch(login.headers.get('location') as string, { redirect: 'manual' });
    const callback = new URL(authorize.headers.get('location') as string);
    const page = await browser.request(callback.pathname + callback.search, { csrf: false });
    // The transaction is cleared and the completion set in one answer: browsers apply them in order.
    const lines = page.headers.getSetCookie().filter((l) => l.startsWith('mcp_login='));
    expect(lines.map((l) => attributes(l).attrs.get('max-age'))).toEqual(['0', '60']);
    const completion = attributes(lines[1] as string);
    expect(Object.fromEntries(completion.attrs)).toEqual({ 'max-age': '60', path: '/', httponly: '', secure: '', samesite: 'Lax' });

    const done = await browser.request('/bff/callback/complete', { csrf: false });
    const set = attributes(setCookieLine(done, 'mcp_session') as string);
    expect(set.name).toBe('mcp_session');
    expect(Object.fromEntries(set.attrs)).toEqual({ 'max-age': String(8 * 3600), path: '/', httponly: '', secure: '', samesite: 'Strict' });
    const clearedLogin = attributes(setCookieLine(done, 'mcp_login') as string);
    expect(clearedLogin.value).toBe('');
    expect(clearedLogin.attrs.get('max-age')).toBe('0');
    expect(clearedLogin.attrs.get('path')).toBe('/');

    // The seal holds the id, but does not show it.
    const value = set.value;
    expect(value).not.toContain(await sidOf(value));

    const logout = await browser.request('/bff/logout', { method: 'POST' });
    const cleared = attributes(setCookieLine(logout, 'mcp_session') as string);
    expect(cleared.value).toBe('');
    expect(Object.fromEntries([...cleared.attrs].filter(([k]) => k !== 'expires'))).toEqual({
      'max-age': '0',
      path: '/',
      httponly: '',
      secure: '',
      samesite: 'Strict',
    });
  });

  it('over https: __Host-mcp_session and __Host-mcp_login, HSTS; no Domain anywhere', async () => {
    const https = await startVariantApp({}, { PUBLIC_URL: 'https://localhost:1' });
    try {
      // The BFF trusts PUBLIC_URL, not the scheme of the connection: the browser reaches it over https.
      const browser = https.browser();
      const login = await browser.request('/bff/login?server=default&returnTo=/', { csrf: false });
      expect(login.headers.get('strict-transport-security')).toMatch(/max-age=\d{7,}/);
      const loginLine = setCookieLine(login, '__Host-mcp_login') as string;
      expect(loginLine).toMatch(/; Max-Age=600; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
      const authorize = await fetch(login.headers.get('location') as string, { redirect: 'manual' });
      const callback = new URL(authorize.headers.get('location') as string);
      expect(callback.origin).toBe('https://localhost:1');
      const done = await browser.finishLogin(callback);
      const session = setCookieLine(done, '__Host-mcp_session') as string;
      expect(session).toMatch(/^__Host-mcp_session=Fe26\.2\*1\*[^;]+; Max-Age=28800; Path=\/; HttpOnly; Secure; SameSite=Strict$/);
      const logout = await browser.request('/bff/logout', { method: 'POST', headers: { origin: 'https://localhost:1' } });
      expect(setCookieLine(logout, '__Host-mcp_session')).toMatch(/^__Host-mcp_session=; Max-Age=0; .*Path=\/; HttpOnly; Secure; SameSite=Strict$/);
      for (const line of [...login.headers.getSetCookie(), ...done.headers.getSetCookie(), ...logout.headers.getSetCookie()]) {
        expect(line).not.toMatch(/domain=/i);
      }
    } finally {
      await https.close();
    }
  });
});

describe('session ids', () => {
  it('are 256-bit CSPRNG values: 43 base64url characters, all distinct, bits balanced', async () => {
    const sids: string[] = [];
    for (let i = 0; i < 40; i++) sids.push((await signedIn()).sid);
    expect(new Set(sids).size).toBe(sids.length);
    let ones = 0;
    for (const sid of sids) {
      expect(sid).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const bytes = Buffer.from(sid, 'base64url');
      expect(bytes.length).toBe(32);
      for (const byte of bytes) for (let b = byte; b; b >>= 1) ones += b & 1;
    }
    // 40 × 256 bits: about half are ones (mean 5120, standard deviation 51).
    expect(ones).toBeGreaterThan(4700);
    expect(ones).toBeLessThan(5540);
  });
});

import { unsealData } from 'iron-session';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeAtVariant, loginAtVariant, startVariantApp, TEST_SESSION_SECRET, type VariantApp } from './hostile-support.js';
import type { TestBrowser } from './support.js';

/**
 * Login CSRF through a planted cookie (issue #12, item 1). A sibling subdomain (evil.example.com) can
 * set a cookie for the whole parent domain (Domain=example.com) under any name but a `__Host-` one:
 * browsers refuse `__Host-` cookies that carry a Domain, a Path other than /, or come from another
 * host. So under https the BFF sets only `__Host-` cookies and reads only those. An attacker who starts
 * a login in their own browser holds a perfectly valid sealed transaction (or completion) and its
 * callback URL; planted under any other name, the victim's browser sends it, and it must be ignored.
 */

const PUBLIC_URL = 'https://app.example.com';
let app: VariantApp;
beforeAll(async () => {
  // The BFF trusts PUBLIC_URL, not the scheme of the connection: the browser reaches it over https.
  app = await startVariantApp({}, { PUBLIC_URL });
});
afterAll(() => app.close());

/** Names a sibling subdomain can give a cookie that the browser then sends to this host. */
const PLANTABLE = ['__Secure-mcp_login', 'mcp_login', '__host-mcp_login', '__HOST-mcp_login'];

/** The sealed value of the login cookie (whatever its name) in this answer's Set-Cookie. */
function loginCookieSet(res: Response): string {
  const line = res.headers.getSetCookie().find((l) => /^(__[A-Za-z]+-)?mcp_login=[^;]+/.test(l));
  const value = line?.slice(line.indexOf('=') + 1).split(';')[0];
  if (!value) throw new Error('no login cookie set');
  return value;
}

/** The attacker's half: a login started in their own browser, stopped at the callback URL. */
async function attackersLogin(): Promise<{ callback: string; transaction: string }> {
  const attacker = app.browser();
  const login = await attacker.request('/bff/login?server=default&returnTo=/', { csrf: false });
  expect(login.status).toBe(302);
  const transaction = loginCookieSet(login);
  const authorize = await fetch(login.headers.get('location') as string, { redirect: 'manual' });
  const callback = new URL(authorize.headers.get('location') as string);
  expect(callback.origin).toBe(PUBLIC_URL);
  return { callback: callback.pathname + callback.search, transaction };
}

async function connectionToken(browser: TestBrowser): Promise<string | undefined> {
  const sealed = /mcp_session=([^;]+)/.exec(browser.jar.header(browser.appUrl) ?? '')?.[1];
  if (!sealed) return undefined;
  const { sid } = await unsealData<{ sid: string }>(sealed, { password: { 1: TEST_SESSION_SECRET } });
  return (await app.store.getConnection(sid, 'default'))?.accessToken;
}

describe('under https, a login cookie planted under a name a sibling subdomain can set is never read', () => {
  it('a planted login transaction: the callback is refused and the attacker’s code is never exchanged', async () => {
    const { callback, transaction } = await attackersLogin();
    const victim = app.browser();
    for (const name of PLANTABLE) {
      const res = await victim.request(callback, { csrf: false, headers: { cookie: `${name}=${transaction}` } });
      expect(res.status, name).toBe(400);
      expect(await res.text()).toMatch(/Sign-in failed/);
    }
    expect(app.variant.tokenRequests).toHaveLength(0);
    // Not a vacuous test: the same value under the BFF's own name is a valid transaction. Only the
    // name, which no other host can set, keeps the attacker's transaction out of the victim's browser.
    const own = await victim.request(callback, { csrf: false, headers: { cookie: `__Host-mcp_login=${transaction}` } });
    expect(own.status).toBe(200);
  });

  it('a planted login completion: refused, the victim’s session keeps the victim’s own connection', async () => {
    const attacker = app.browser();
    const callback = await authorizeAtVariant(attacker);
    const page = await attacker.request(callback.pathname + callback.search, { csrf: false });
    expect(page.status).toBe(200);
    const completion = loginCookieSet(page);

    const victim = app.browser();
    expect((await loginAtVariant(victim)).status).toBe(302);
    const victimToken = await connectionToken(victim);
    expect(victimToken).toBeTruthy();
    for (const name of PLANTABLE) {
      const cookie = `${victim.jar.header(app.origin)}; ${name}=${completion}`;
      const res = await victim.request('/bff/callback/complete', { csrf: false, headers: { cookie } });
      expect(res.status, name).toBe(400);
      expect(res.headers.getSetCookie().some((l) => l.includes('mcp_session='))).toBe(false);
    }
    expect(await connectionToken(victim)).toBe(victimToken);
  });
});

describe('under https, every cookie the BFF sets is __Host-: Secure, Path=/, no Domain', () => {
  it('through a login, its callback and bounce, a refused callback, a disconnect and a logout', async () => {
    const browser = app.browser();
    const lines: string[] = [];
    const keep = (res: Response) => {
      lines.push(...res.headers.getSetCookie());
      return res;
    };
    const login = keep(await browser.request('/bff/login?server=default&returnTo=/', { csrf: false }));
    const authorize = await fetch(login.headers.get('location') as string, { redirect: 'manual' });
    const callback = new URL(authorize.headers.get('location') as string);
    keep(await browser.request(callback.pathname + callback.search, { csrf: false }));
    keep(await browser.request('/bff/callback/complete', { csrf: false }));
    keep(await browser.request(callback.pathname + callback.search, { csrf: false }));
    keep(await browser.request('/bff/logout?server=default', { method: 'POST', headers: { origin: PUBLIC_URL } }));
    keep(await browser.request('/bff/logout', { method: 'POST', headers: { origin: PUBLIC_URL } }));

    // Set, cleared, and set again: both cookies, each several times.
    expect(lines.filter((l) => /mcp_login=/.test(l)).length).toBeGreaterThanOrEqual(4);
    expect(lines.filter((l) => /mcp_session=/.test(l)).length).toBeGreaterThanOrEqual(2);
    for (const line of lines) {
      const [pair = '', ...attributes] = line.split(';').map((p) => p.trim());
      expect(pair, line).toMatch(/^__Host-mcp_(login|session)=/);
      const names = attributes.map((a) => a.split('=')[0]?.toLowerCase());
      expect(names, line).toContain('secure');
      expect(names, line).toContain('httponly');
      expect(names, line).not.toContain('domain');
      expect(attributes.filter((a) => /^path=/i.test(a)), line).toEqual(['Path=/']);
    }
  });
});

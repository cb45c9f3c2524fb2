import type { ConnectionDetails } from '@mcp-bff/shared';
import { unsealData } from 'iron-session';
import { afterEach, describe, expect, it } from 'vitest';
import { MCP_HEADERS, rpc, type TestBrowser } from './support.js';
import {
  authorizeAtVariant,
  expectCleanError,
  expectSameOriginPath,
  loginAtVariant,
  SHORT_TIMEOUTS,
  setCookieLine,
  startVariantApp,
  TEST_SESSION_SECRET,
  type VariantApp,
} from './hostile-support.js';
import type { Fault } from './variant-server.js';

/**
 * A broken authorization server at every endpoint the BFF uses: each fault ends in bounded time with a
 * clear code (a login_error redirect for page navigations, a 502/503 JSON for API calls), no session is
 * created or changed, and nothing is stored. AUTH_SERVER_TIMEOUT_MS is 1 s in the tests of a hanging
 * AS (5 s, the default, in the others, so that a slow machine's answers still count as answers).
 */

const apps: VariantApp[] = [];
afterEach(async () => {
  while (apps.length) await apps.pop()?.close();
});

async function start(fault: Fault): Promise<VariantApp> {
  const app = await startVariantApp({}, fault === 'hang' ? { AUTH_SERVER_TIMEOUT_MS: SHORT_TIMEOUTS.AUTH_SERVER_TIMEOUT_MS } : {});
  apps.push(app);
  return app;
}

/** Upper bound for anything that waits on the AS: two timeouts, a retry pause, and a slow machine's margin. */
const BOUND_MS = 8_000;

const COMMON: Fault[] = ['status-500', 'hang', 'malformed-json', 'html', 'huge', 'redirect'];
const TOKEN: Fault[] = [...COMMON, 'no-access-token', 'token-type-mac'];

/** Which code a fault may produce: "the AS is unavailable" for outages, "it failed" for nonsense. */
const UNAVAILABLE = new Set<Fault>(['status-500', 'hang']);

async function sidOf(browser: TestBrowser): Promise<string> {
  const sealed = /mcp_session=([^;]+)/.exec(browser.jar.header(browser.appUrl) ?? '')?.[1];
  if (!sealed) throw new Error('no session cookie');
  return (await unsealData<{ sid: string }>(sealed, { password: { 1: TEST_SESSION_SECRET } })).sid;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = Date.now();
  const value = await fn();
  return [value, Date.now() - started];
}

const FAILED_STEP = { prm: 'resource_metadata', metadata: 'authorization_server_metadata', registration: 'client' } as const;

describe('discovery and registration faults at login: a login_error redirect, nothing stored', () => {
  for (const endpoint of ['prm', 'metadata', 'registration'] as const) {
    it.each(COMMON)(`${endpoint}: %s`, async (fault) => {
      const app = await start(fault);
      app.variant.faults[endpoint] = fault;
      const browser = app.browser();
      const [res, ms] = await timed(() => browser.request('/bff/login?server=default&returnTo=/here', { csrf: false }));
      expect(ms).toBeLessThan(BOUND_MS);
      expect(res.status).toBe(302);
      const location = res.headers.get('location');
      expectSameOriginPath(location, app.origin);
      const code = new URL(location as string, app.origin).searchParams.get('login_error');
      if (UNAVAILABLE.has(fault)) expect(code).toBe('authorization_server_unavailable');
      else expect(['authorization_failed', 'registration_failed']).toContain(code);
      expect(new URL(location as string, app.origin).pathname).toBe('/here');
      expect(await res.text()).toBe('');
      expect(setCookieLine(res, 'mcp_session')).toBeUndefined();
      // No login transaction: the login cookie only points this browser to the failed login's report,
      // which names the step that failed.
      const details = (await (await browser.request('/bff/servers/default/connection')).json()) as ConnectionDetails;
      expect(details.login).toMatchObject({ outcome: 'failed', error: code });
      expect(details.login?.steps.at(-1)).toMatchObject({ step: FAILED_STEP[endpoint], status: 'failed' });
      expect(app.variant.hits[endpoint]).toBeGreaterThan(0);
      expect(app.variant.authorizeRequests).toHaveLength(0);
      expect(app.variant.tokenRequests).toHaveLength(0);
      expect(app.variant.redirectedHits).toBe(0);
      expect(await app.store.getRegisteredClient(app.variant.issuer)).toBeUndefined();
    });
  }
});

describe('token endpoint faults at the code exchange: a login_error redirect, no session', () => {
  it.each(TOKEN)('%s', async (fault) => {
    const app = await start(fault);
    const browser = app.browser();
    const callback = await authorizeAtVariant(browser, '/here');
    app.variant.faults.token = fault;
    const [res, ms] = await timed(() => browser.request(callback.pathname + callback.search, { csrf: false }));
    expect(ms).toBeLessThan(BOUND_MS);
    expect(res.status).toBe(302);
    const location = res.headers.get('location') as string;
    expectSameOriginPath(location, app.origin);
    const code = new URL(location, app.origin).searchParams.get('login_error');
    expect(code).toBe(UNAVAILABLE.has(fault) ? 'authorization_server_unavailable' : 'token_exchange_failed');
    expect(new URL(location, app.origin).pathname).toBe('/here');
    // A code is used once: never retried, whatever happened.
    expect(app.variant.hits.token).toBe(1);
    expect(app.variant.redirectedHits).toBe(0);
    expect(setCookieLine(res, 'mcp_session')).toBeUndefined();
    // Nothing waits to be completed, and the browser has no session.
    const complete = await browser.request('/bff/callback/complete', { csrf: false });
    expect(complete.status).toBe(400);
    expect(setCookieLine(complete, 'mcp_session')).toBeUndefined();
    expect((await (await browser.request('/bff/session')).json()).authenticated).toBe(false);
  });
});

describe('token endpoint faults at refresh: 503 in bounded time, the connection kept as it was', () => {
  it.each(TOKEN)('%s', async (fault) => {
    const app = await start(fault);
    const browser = app.browser();
    expect((await loginAtVariant(browser)).status).toBe(302);
    const sid = await sidOf(browser);
    const record = await app.store.getConnection(sid, 'default');
    if (!record) throw new Error('no connection');
    const now = Date.now();
    await app.store.putConnection(sid, 'default', { ...record, issuedAt: now - 600_000, expiresAt: now + 1_000 });
    const before = await app.store.getConnection(sid, 'default');
    app.variant.faults.refresh = fault;
    const mcpBefore = app.variant.mcpRequests.length;

    const [res, ms] = await timed(() => browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') }));
    expect(ms).toBeLessThan(BOUND_MS);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    await expectCleanError(res, 503, 'authorization_server_unavailable', [app.variant.issuer]);
    expect(app.variant.hits.refresh).toBeGreaterThanOrEqual(1);
    expect(app.variant.hits.refresh).toBeLessThanOrEqual(2);
    expect(app.variant.redirectedHits).toBe(0);
    expect(app.variant.mcpRequests.length).toBe(mcpBefore);
    // The session and its tokens are exactly as they were: the next attempt can still refresh.
    expect(await app.store.getSession(sid)).toBeDefined();
    expect(await app.store.getConnection(sid, 'default')).toEqual(before);

    delete app.variant.faults.refresh;
    const again = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') });
    expect(again.status).toBe(200);
  });
});

describe('revocation faults at logout: the session ends at once, logout answers in bounded time', () => {
  it.each(COMMON)('%s', async (fault) => {
    const app = await start(fault);
    const browser = app.browser();
    expect((await loginAtVariant(browser)).status).toBe(302);
    const sid = await sidOf(browser);
    app.variant.faults.revocation = fault;
    const [res, ms] = await timed(() => browser.request('/bff/logout', { method: 'POST' }));
    // The BFF gives revocation 5 s at most (and each request the AS timeout).
    expect(ms).toBeLessThan(BOUND_MS);
    expect(res.status).toBe(200);
    expect(setCookieLine(res, 'mcp_session')).toMatch(/^mcp_session=; Max-Age=0/);
    expect(app.variant.hits.revocation).toBeGreaterThan(0);
    expect(app.variant.redirectedHits).toBe(0);
    expect(await app.store.getSession(sid)).toBeUndefined();
    expect((await (await browser.request('/bff/session')).json()).authenticated).toBe(false);
    expect((await browser.request('/bff/logout', { method: 'POST' })).status).toBe(200);
  });
});

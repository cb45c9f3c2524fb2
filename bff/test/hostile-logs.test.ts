import { Writable } from 'node:stream';
import { sealData, unsealData } from 'iron-session';
import { expect, it } from 'vitest';
import { DEMO_CLIENT, DEMO_SESSION_SECRET, startStack } from '../../demo/src/stack.js';
import { createLogger } from '../src/log.js';
import { authorizeAtVariant, SHORT_TIMEOUTS, startVariantApp, TEST_SESSION_SECRET } from './hostile-support.js';
import { expireSoon, INITIALIZE, MCP_HEADERS, rpc, TestBrowser } from './support.js';
import type { Fault } from './variant-server.js';

/**
 * The logs at trace level, through logins, refreshes, logouts and a long list of attacks and faults:
 * none of the tokens, codes, verifiers, states, client secrets or cookie values issued along the way
 * appears in them, not even URL-encoded.
 */

function sink(lines: string[]): Writable {
  return new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
}

function cookieValue(browser: TestBrowser, name: string, path = '/'): string | undefined {
  return new RegExp(`${name}=([^;]+)`).exec(browser.jar.header(new URL(path, browser.appUrl)) ?? '')?.[1];
}

function expectNoSecrets(log: string, secrets: Set<string>): void {
  expect(secrets.size).toBeGreaterThan(20);
  const found: string[] = [];
  for (const secret of secrets) {
    expect(secret.length, `a secret worth looking for: ${secret}`).toBeGreaterThanOrEqual(16);
    for (const form of new Set([secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64')])) {
      if (log.includes(form)) found.push(secret.slice(0, 12));
    }
  }
  expect(found).toEqual([]);
}

it('the real demo AS and MCP server: logins, calls, refresh, logout, replays, forgeries, outages', async () => {
  const lines: string[] = [];
  const stack = await startStack({ log: createLogger('trace', sink(lines)) });
  const secrets = new Set<string>([DEMO_SESSION_SECRET, DEMO_CLIENT.client_secret]);
  const addTokens = async (sid: string) => {
    const record = await stack.store.getConnection(sid, 'default');
    if (record?.accessToken) secrets.add(record.accessToken);
    if (record?.refreshToken) secrets.add(record.refreshToken);
  };
  try {
    for (const user of ['alice', 'bob']) {
      const browser = new TestBrowser(stack.appUrl);
      const callback = await browser.authorize({ user });
      const login = cookieValue(browser, 'mcp_login', '/bff/callback') as string;
      const txn = await unsealData<{ state: string; codeVerifier: string; txn: string }>(login, { password: { 1: DEMO_SESSION_SECRET } });
      secrets.add(login).add(txn.state).add(txn.codeVerifier).add(txn.txn).add(callback.searchParams.get('code') as string);

      // Forgeries first: the real code with a wrong state, then a tampered login cookie.
      await browser.request(`/bff/callback/default?code=${callback.searchParams.get('code')}&state=forged-${txn.state}`, { csrf: false });
      await new TestBrowser(stack.appUrl).request(callback.pathname + callback.search, { csrf: false, headers: { cookie: `mcp_login=${login.slice(0, -8)}` } });
      const page = await browser.request(callback.pathname + callback.search, { csrf: false });
      secrets.add(cookieValue(browser, 'mcp_login', '/bff/callback') as string);
      expect(page.status).toBe(200);
      await browser.request('/bff/callback/complete', { csrf: false });
      // The callback replayed with its old cookie.
      await browser.request(callback.pathname + callback.search, { csrf: false, headers: { cookie: `mcp_login=${login}` } });
      const sessionCookie = cookieValue(browser, 'mcp_session') as string;
      const sid = await browser.sessionId();
      secrets.add(sessionCookie).add(sid);
      await addTokens(sid);
      const token = (await stack.store.getConnection(sid, 'default'))?.accessToken as string;

      // Calls, an MCP session, and what a confused or hostile page might send along.
      const init = await browser.request('/mcp/default', {
        method: 'POST',
        headers: { ...MCP_HEADERS, authorization: `Bearer ${token}` },
        body: INITIALIZE,
      });
      await init.text();
      const mcpSession = init.headers.get('mcp-session-id') as string;
      secrets.add(mcpSession);
      await (await browser.request('/mcp/default', { method: 'POST', headers: { ...MCP_HEADERS, 'mcp-session-id': mcpSession }, body: rpc('tools/call', { name: 'whoami', arguments: {} }, 2) })).text();
      await (await browser.request(`/mcp/default?access_token=${token}`, { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') })).text();
      await (await browser.request('/mcp/default', { method: 'POST', headers: { ...MCP_HEADERS, 'mcp-session-id': `${mcpSession}x` }, body: rpc('tools/list') })).text();
      await (await browser.request('/mcp/default', { method: 'POST', headers: { ...MCP_HEADERS, origin: 'https://evil.example' }, body: rpc('tools/list') })).text();
      await (await browser.request('/bff/logout', { method: 'POST', csrf: false })).text();
      await (await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: 'x'.repeat(2 * 1024 * 1024) })).text();
      await (await browser.request('/bff/session', { headers: { cookie: `mcp_session=${sessionCookie.slice(0, 30)}` } })).text();

      // Refresh, with rotation.
      await expireSoon(stack, sid);
      await (await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') })).text();
      await addTokens(sid);

      // The AS down while a refresh is due: 503, and it is logged.
      await expireSoon(stack, sid);
      await stack.stopAuthServer();
      await (await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') })).text();
      await stack.startAuthServer();

      // A refresh token the AS no longer knows: invalid_grant ends the connection.
      if (user === 'bob') {
        const record = await stack.store.getConnection(sid, 'default');
        const revokedRefresh = `${record?.refreshToken}-revoked`;
        secrets.add(revokedRefresh);
        await stack.store.putConnection(sid, 'default', { ...(record as NonNullable<typeof record>), refreshToken: revokedRefresh });
        await expireSoon(stack, sid);
        await (await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') })).text();
      } else {
        await (await browser.request('/bff/logout', { method: 'POST' })).text();
        // The old cookie after logout, and a cookie sealed elsewhere for the same id.
        await (await browser.request('/bff/session', { headers: { cookie: `mcp_session=${sessionCookie}` } })).text();
        const foreign = await sealData({ sid }, { password: { 1: 'another-deployment-secret-0123456789abcdef' }, ttl: 60 });
        secrets.add(foreign);
        await (await browser.request('/bff/session', { headers: { cookie: `mcp_session=${foreign}` } })).text();
      }
    }
  } finally {
    await stack.close();
  }
  const log = lines.join('');
  for (const event of ['login_succeeded', 'token_refreshed', 'logout', 'security', 'refresh_unavailable']) expect(log).toContain(`"event":"${event}"`);
  expectNoSecrets(log, secrets);
}, 60_000);

it('a spec-shaped AS with dynamic registration, faulting at every endpoint', async () => {
  // Short AS timeout: one of the faults is a refresh that hangs.
  const app = await startVariantApp({}, { AUTH_SERVER_TIMEOUT_MS: SHORT_TIMEOUTS.AUTH_SERVER_TIMEOUT_MS }, 'trace');
  const secrets = new Set<string>([TEST_SESSION_SECRET]);
  try {
    const faults: Array<['token' | 'refresh' | 'revocation', Fault]> = [
      ['token', 'token-type-mac'],
      ['token', 'malformed-json'],
      ['token', 'huge'],
      ['refresh', 'token-type-mac'],
      ['refresh', 'html'],
      ['refresh', 'hang'],
      ['revocation', 'status-500'],
    ];
    for (const [endpoint, fault] of faults) {
      const browser = app.browser();
      const callback = await authorizeAtVariant(browser);
      secrets.add(cookieValue(browser, 'mcp_login', '/bff/callback') as string);
      if (endpoint === 'token') {
        app.variant.faults.token = fault;
        await (await browser.request(callback.pathname + callback.search, { csrf: false })).text();
        delete app.variant.faults.token;
        continue;
      }
      expect((await browser.finishLogin(callback)).status).toBe(302);
      const sealed = cookieValue(browser, 'mcp_session') as string;
      secrets.add(sealed);
      const { sid } = await unsealData<{ sid: string }>(sealed, { password: { 1: TEST_SESSION_SECRET } });
      secrets.add(sid);
      app.variant.faults[endpoint] = fault;
      if (endpoint === 'refresh') {
        const record = await app.store.getConnection(sid, 'default');
        await app.store.putConnection(sid, 'default', { ...(record as NonNullable<typeof record>), issuedAt: Date.now() - 600_000, expiresAt: Date.now() + 500 });
        await (await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') })).text();
      } else {
        await (await browser.request('/bff/logout', { method: 'POST' })).text();
      }
      delete app.variant.faults[endpoint];
    }
    const client = await app.store.getRegisteredClient(app.variant.issuer);
    expect(typeof client?.clientSecret).toBe('string');
  } finally {
    await app.close();
  }
  for (const value of app.variant.issued) secrets.add(value);
  const log = app.logs.join('');
  expect(log).toContain('"event":"login_failed"');
  expect(log).toContain('"event":"refresh_unavailable"');
  expectNoSecrets(log, secrets);
}, 60_000);

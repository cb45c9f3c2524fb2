import { join } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { unsealData } from 'iron-session';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Listening, listen } from '../../demo/src/listen.js';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { SqliteTokenStore } from '../src/store/sqlite.js';
import { TEST_SESSION_SECRET } from './hostile-support.js';
import { MCP_HEADERS, rpc, TestBrowser } from './support.js';
import { startVariant, type Variant } from './variant-server.js';
import { cipherFor, newKey, tempDir, until } from './vault-support.js';

/**
 * A login rotates the session id and carries the session's other connections over. Here a refresh of
 * one of them is on its way to the AS when the login completes: the BFF (with a real SQLite store, two
 * MCP servers each behind its own variant AS) must not leave the new session holding the refresh token
 * that refresh just spent.
 */

const dir = tempDir('rotation-race');
let one: Variant;
let two: Variant;
let store: SqliteTokenStore;
let app: Listening;

beforeAll(async () => {
  [one, two] = await Promise.all([startVariant(), startVariant()]);
  store = new SqliteTokenStore({ path: join(dir.path, 'bff.db'), cipher: cipherFor(newKey('k1')) });
  app = await listen(0, '127.0.0.1', 'localhost');
  const config = loadConfig({
    PUBLIC_URL: app.origin,
    MCP_SERVERS: JSON.stringify([
      { id: 'one', url: one.url },
      { id: 'two', url: two.url },
    ]),
    SESSION_SECRET: TEST_SESSION_SECRET,
    ALLOW_HTTP_LOOPBACK: '1',
    LOG_LEVEL: 'silent',
    TOKEN_STORE: 'memory',
    AUTH_SERVER_TIMEOUT_MS: '5000',
  });
  app.handle(getRequestListener(createApp({ config, store, log: createLogger('silent') }).fetch));
}, 30_000);

afterAll(async () => {
  await Promise.all([app?.close(), one?.close(), two?.close()]);
  await store?.close();
  dir.remove();
});

/** /bff/login for `server`, the variant's authorize (it approves at once), the callback and its bounce. */
async function login(browser: TestBrowser, server: string): Promise<Response> {
  const start = await browser.request(`/bff/login?server=${server}&returnTo=/`, { csrf: false });
  if (start.status !== 302) throw new Error(`login answered ${start.status}`);
  const authorize = await fetch(start.headers.get('location') as string, { redirect: 'manual' });
  return browser.finishLogin(new URL(authorize.headers.get('location') as string));
}

async function sessionId(browser: TestBrowser): Promise<string> {
  const sealed = /mcp_session=([^;]+)/.exec(browser.jar.header(app.origin) ?? '')?.[1] as string;
  return (await unsealData<{ sid: string }>(sealed, { password: { 1: TEST_SESSION_SECRET } })).sid;
}

/** Makes the stored access token for `server` look nearly expired, so that its next use refreshes it. */
async function expireSoon(sid: string, server: string): Promise<void> {
  const record = await store.getConnection(sid, server);
  if (!record) throw new Error(`no connection to ${server}`);
  const now = Date.now();
  await store.putConnection(sid, server, { ...record, issuedAt: now - 600_000, expiresAt: now + 1_000 });
}

const callOne = (browser: TestBrowser) => browser.request('/mcp/one', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') });

it('a login that completes while another connection is being refreshed: the new session gets the refreshed tokens', async () => {
  const browser = new TestBrowser(app.origin);
  expect((await login(browser, 'one')).status).toBe(302);
  expect((await login(browser, 'two')).status).toBe(302);
  const before = await sessionId(browser);
  await expireSoon(before, 'one');
  const spent = (await store.getConnection(before, 'one'))?.refreshToken;

  // A call to "one" refreshes its token; the AS holds the request.
  one.faults.refresh = 'hold';
  const call = callOne(browser);
  await until(() => one.held === 1, 5_000, 'the refresh to reach the AS');
  // Meanwhile the browser connects "two" again: the login completes and rotates the session.
  const relogin = login(browser, 'two');
  // Time for the completion to get to the rotation (which must wait for the refresh).
  await new Promise((resolve) => setTimeout(resolve, 500));
  delete one.faults.refresh;
  one.release();

  expect((await relogin).status).toBe(302);
  expect((await call).status).toBe(200);
  const after = await sessionId(browser);
  expect(after).not.toBe(before);
  expect(await store.getSession(before)).toBeUndefined();
  const carried = await store.getConnection(after, 'one');
  expect(carried?.refreshToken).toBeDefined();
  expect(carried?.refreshToken).not.toBe(spent);

  // And it works: the next refresh sends the refresh token the AS issued last, not the spent one.
  await expireSoon(after, 'one');
  const refreshesBefore = one.hits.refresh;
  expect((await callOne(browser)).status).toBe(200);
  expect(one.hits.refresh).toBe(refreshesBefore + 1);
  expect(one.tokenRequests.at(-1)?.params.get('refresh_token')).toBe(carried?.refreshToken);
});

import { join } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthServer, createAuthServer } from '../../demo/src/auth-server.js';
import { type Listening, listen } from '../../demo/src/listen.js';
import { createMcpServer, type McpDemo } from '../../demo/src/mcp-server.js';
import { DEMO_SESSION_SECRET } from '../../demo/src/stack.js';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import type { RegisteredClient } from '../src/oauth/registration.js';
import { StoreClientRegistry } from '../src/store/client-registry.js';
import { SqliteTokenStore } from '../src/store/sqlite.js';
import { INITIALIZE, MCP_HEADERS, TestBrowser } from './support.js';
import { cipherFor, newKey, tempDir } from './vault-support.js';

/**
 * A dynamically registered client's life at the real demo authorization server (oidc-provider): the AS
 * forgets it (an AS that purges registrations), or hands out secrets that expire. The BFF runs in this
 * process with a SQLite store; the person logs in through the AS's own pages.
 *
 * oidc-provider, asked to authorize a client it does not know, shows its own error page: it does not
 * redirect back (it cannot trust a redirect_uri it has no client for), so the BFF never hears of it
 * there. What tells the BFF is the token endpoint's invalid_client, and, before a login, the AS's
 * registration endpoint (RFC 7592), which answers 401 for a client it no longer knows.
 */

interface Setup {
  as: AuthServer;
  store: SqliteTokenStore;
  registry: StoreClientRegistry;
  issuer: string;
  appUrl: string;
  close(): Promise<void>;
}

const setups: Setup[] = [];
afterAll(async () => {
  for (const s of setups) await s.close();
});

async function start(asOptions: { registeredClientSecretTtlSeconds?: number } = {}): Promise<Setup> {
  const dir = tempDir('registration');
  const asListener = await listen(0, '127.0.0.1');
  const mcpListener = await listen(0, '127.0.0.1');
  const appListener: Listening = await listen(0, '127.0.0.1', 'localhost');
  const issuer = asListener.origin;
  const mcpUrl = `${mcpListener.origin}/mcp`;
  const as = await createAuthServer({ issuer, resource: mcpUrl, clients: [], ...asOptions });
  asListener.handle(as.handler);
  const mcp: McpDemo = createMcpServer({ resource: mcpUrl, issuer });
  mcpListener.handle(mcp.handler);
  const store = new SqliteTokenStore({ path: join(dir.path, 'bff.db'), cipher: cipherFor(newKey('k1')) });
  const config = loadConfig({
    PUBLIC_URL: appListener.origin,
    MCP_SERVER_URL: mcpUrl,
    OAUTH_SCOPES: 'mcp:tools',
    SESSION_SECRET: DEMO_SESSION_SECRET,
    ALLOW_HTTP_LOOPBACK: '1',
    LOG_LEVEL: process.env.TEST_LOG ?? 'silent',
    TOKEN_STORE: 'memory',
  });
  appListener.handle(getRequestListener(createApp({ config, store, log: createLogger(process.env.TEST_LOG ?? 'silent') }).fetch));
  const setup: Setup = {
    as,
    store,
    registry: new StoreClientRegistry(store),
    issuer,
    appUrl: appListener.origin,
    async close() {
      await mcp.close();
      await Promise.all([asListener.close(), mcpListener.close(), appListener.close()]);
      await store.close();
      dir.remove();
    },
  };
  setups.push(setup);
  return setup;
}

async function registered(s: Setup): Promise<RegisteredClient> {
  const client = await s.registry.get(s.issuer);
  if (!client) throw new Error('no client registered');
  return client;
}

/** As if the client had been registered an hour ago: replacing it is not held back (see REREGISTER_INTERVAL_MS). */
async function registeredLongAgo(s: Setup): Promise<void> {
  await s.registry.put({ ...(await registered(s)), registeredAt: Date.now() - 3_600_000 });
}

/** Makes the stored access token look nearly expired, so that its next use refreshes it. */
async function expireSoon(s: Setup, browser: TestBrowser): Promise<void> {
  const sid = await browser.sessionId();
  const record = await s.store.getConnection(sid, 'default');
  if (!record) throw new Error('no connection');
  const now = Date.now();
  await s.store.putConnection(sid, 'default', { ...record, issuedAt: now - 600_000, expiresAt: now + 1_000 });
}

const call = (browser: TestBrowser) => browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE });

describe('a registered client the authorization server has forgotten', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await start();
  }, 30_000);

  it('the next login registers a new client (the registration endpoint no longer knows the old one) and works', async () => {
    const first = new TestBrowser(s.appUrl);
    await first.login();
    const forgotten = await registered(s);
    await registeredLongAgo(s);
    await s.as.forgetClient(forgotten.clientId);

    // Without a check first, the AS would show this person its invalid_client page, and every login after.
    const second = new TestBrowser(s.appUrl);
    expect((await second.login()).status).toBe(302);
    expect((await call(second)).status).toBe(200);
    const replacement = await registered(s);
    expect(replacement.clientId).not.toBe(forgotten.clientId);
    expect(s.as.registrations.map((r) => r.clientId)).toEqual([forgotten.clientId, replacement.clientId]);
  });

  it('a refresh answered invalid_client ends that connection, marks the client rejected once, and the next login registers again', async () => {
    const browser = new TestBrowser(s.appUrl);
    await browser.login();
    const forgotten = await registered(s);
    await registeredLongAgo(s);
    await s.as.forgetClient(forgotten.clientId);
    await expireSoon(s, browser);

    const refused = await call(browser);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: 'login_required' });
    expect(await s.store.getConnection(await browser.sessionId(), 'default')).toBeUndefined();
    expect(await registered(s)).toMatchObject({ clientId: forgotten.clientId, rejectedAt: expect.any(Number) });

    const registrations = s.as.registrations.length;
    expect((await browser.login()).status).toBe(302);
    expect((await call(browser)).status).toBe(200);
    expect(s.as.registrations).toHaveLength(registrations + 1);
    expect((await registered(s)).clientId).not.toBe(forgotten.clientId);
  });

  it('an AS that forgets every new client at once: one new registration a minute, never a loop', async () => {
    const browser = new TestBrowser(s.appUrl);
    await browser.login();
    const registrations = s.as.registrations.length;
    // Registered moments ago, and already forgotten.
    await s.as.forgetClient((await registered(s)).clientId);

    // The login start finds the client unknown, but does not register another yet: the AS shows its
    // error page (what the person sees), and nothing else happens.
    await expect(new TestBrowser(s.appUrl).login()).rejects.toThrow();
    await expireSoon(s, browser);
    expect((await call(browser)).status).toBe(401);
    // Rejected at the token endpoint now: the next login is refused by the BFF itself, without a request.
    const retry = await browser.request('/bff/login?server=default&returnTo=/', { csrf: false });
    expect(retry.headers.get('location')).toMatch(/^\/\?login_error=registration_failed&login_ref=[0-9a-f-]{36}$/);
    expect(s.as.registrations).toHaveLength(registrations);
  });
});

describe('client secrets that expire', () => {
  it('a new client is registered before the secret expires; tokens issued to the old one refresh while it lasts', async () => {
    const s = await start({ registeredClientSecretTtlSeconds: 8 });
    const early = new TestBrowser(s.appUrl);
    await early.login();
    const first = await registered(s);

    // Half its lifetime gone: a login started now gets a new client.
    const registeredAt = (s.as.registrations[0] as { at: number }).at;
    await new Promise((resolve) => setTimeout(resolve, registeredAt + 4_300 - Date.now()));
    const late = new TestBrowser(s.appUrl);
    expect((await late.login()).status).toBe(302);
    const second = await registered(s);
    expect(second.clientId).not.toBe(first.clientId);
    expect(second.previous?.clientId).toBe(first.clientId);
    expect(s.as.registrations).toHaveLength(2);

    // The earlier connection's tokens belong to the first client, which still works: they refresh with it.
    await expireSoon(s, early);
    const refreshes = s.as.tokenRequests.filter((r) => r.grantType === 'refresh_token').length;
    expect((await call(early)).status).toBe(200);
    expect(s.as.tokenRequests.filter((r) => r.grantType === 'refresh_token')).toHaveLength(refreshes + 1);
    expect((await call(late)).status).toBe(200);
  });
});

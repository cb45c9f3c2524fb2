import { unsealData } from 'iron-session';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CLIENT, DEMO_SESSION_SECRET } from '../../demo/src/stack.js';
import { RedisTokenStore } from '../src/store/redis.js';
import type { TokenStore } from '../src/store/types.js';
import { INITIALIZE, MCP_HEADERS, rpc, TestBrowser } from './support.js';
import {
  type BffProcess,
  bffEnv,
  cipherFor,
  type Forwarder,
  newKey,
  type RedisServer,
  startBffProcess,
  startForwarder,
  startRedis,
  startUpstreams,
  type Upstreams,
  until,
} from './vault-support.js';

/**
 * Two BFF processes (bff/src/main.ts, as `pnpm serve` runs it) behind a round-robin load balancer,
 * sharing one real redis-server; the real demo authorization server and MCP server behind them.
 */

const key = newKey('k1');
let redis: RedisServer;
let lb: Forwarder;
let up: Upstreams;
let env: Record<string, string>;
/** env with a 1 s AS timeout, for the kill test: a refresh lock unrenewed lapses after half of (timeout + 2 s). */
let shortAsTimeoutEnv: Record<string, string>;
let a: BffProcess;
let b: BffProcess;
/** The test's own view of the same Redis, with the same key: to age tokens and look at records. */
let store: TokenStore;
let browser: TestBrowser;

function grants(grantType: string): number {
  return up.as.tokenRequests.filter((r) => r.grantType === grantType).length;
}

async function expireSoon(sid: string): Promise<void> {
  const record = await store.getConnection(sid, 'default');
  if (!record) throw new Error('no connection to expire');
  const now = Date.now();
  await store.putConnection(sid, 'default', { ...record, issuedAt: now - 600_000, expiresAt: now + 1_000 });
}

async function initialize(client: TestBrowser): Promise<Response> {
  const res = await client.request('/mcp/default', {
    method: 'POST',
    headers: MCP_HEADERS,
    body: INITIALIZE,
  });
  await res.text();
  return res;
}

function useBackends(...instances: BffProcess[]): void {
  lb.targets.splice(0, lb.targets.length, ...instances.map((i) => i.url));
}

beforeAll(async () => {
  redis = await startRedis();
  lb = await startForwarder('localhost');
  up = await startUpstreams(`${lb.origin}/bff/callback/default`);
  // A generous AS timeout: a refresh that timed out would be retried with a refresh token the AS may
  // already have spent, which a loaded machine must not bring about (50 calls at once refresh below).
  env = bffEnv({ publicUrl: lb.origin, mcpUrl: up.mcpUrl, store: redis.url, keys: key.env, extra: { AUTH_SERVER_TIMEOUT_MS: '10000' } });
  shortAsTimeoutEnv = { ...env, AUTH_SERVER_TIMEOUT_MS: '1000' };
  [a, b] = await Promise.all([startBffProcess(env), startBffProcess(env)]);
  useBackends(a, b);
  store = new RedisTokenStore({ url: redis.url, cipher: cipherFor(key) });
  browser = new TestBrowser(lb.origin);
  await browser.login();
}, 60_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await store?.close();
  await Promise.all([lb?.close(), up?.close()]);
  await redis?.close();
});

describe('two BFF instances sharing Redis', () => {
  it('50 concurrent calls on an expiring token, split across both: one refresh at the AS, all succeed with the new token', async () => {
    const client = await browser.mcpClient();
    const sid = await browser.sessionId();
    await expireSoon(sid);
    const stale = await store.getConnection(sid, 'default');
    const refreshesBefore = grants('refresh_token');
    const countsBefore = new Map(lb.counts);
    const received = up.mcp.received.length;

    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => client.callTool({ name: 'add', arguments: { a: i, b: 1 } })));

    expect(results.map((r) => (r.content as Array<{ text: string }>)[0]?.text)).toEqual(Array.from({ length: 50 }, (_, i) => String(i + 1)));
    expect(grants('refresh_token')).toBe(refreshesBefore + 1);
    const served = [a, b].map((i) => (lb.counts.get(i.url) ?? 0) - (countsBefore.get(i.url) ?? 0));
    expect(served[0]).toBeGreaterThanOrEqual(20);
    expect(served[1]).toBeGreaterThanOrEqual(20);

    const fresh = await store.getConnection(sid, 'default');
    expect(fresh?.accessToken).not.toBe(stale?.accessToken);
    expect(fresh?.refreshToken).not.toBe(stale?.refreshToken);
    expect(fresh?.generation).toBe((stale?.generation ?? 0) + 1);
    const upstream = up.mcp.received.slice(received).filter((r) => r.method === 'POST');
    expect(upstream.length).toBeGreaterThanOrEqual(50);
    for (const r of upstream) expect(r.headers.authorization).toBe(`Bearer ${fresh?.accessToken}`);
    // One instance refreshed; the other waited for the lock and read the result.
    const refreshed = [...a.logs, ...b.logs].filter((l) => l.event === 'token_refreshed');
    expect(refreshed).toHaveLength(1);
    await client.close();
  });

  it('Redis stopped: 503 (never 401) on both instances, nobody logged out; service resumes by itself', async () => {
    const logins = grants('authorization_code');
    expect((await initialize(browser)).status).toBe(200);
    await redis.stop();
    try {
      for (let i = 0; i < 2; i++) {
        const call = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') });
        expect(call.status).toBe(503);
        expect(call.headers.get('retry-after')).toBe('2');
        expect(await call.json()).toMatchObject({ error: 'service_unavailable' });
        const session = await browser.request('/bff/session');
        expect(session.status).toBe(503);
        await session.text();
        // No Set-Cookie that would clear the session cookie.
        expect(session.headers.get('set-cookie')).toBeNull();
      }
    } finally {
      await redis.start();
    }
    // Both instances reconnect on their own.
    await until(async () => (await initialize(browser)).status === 200 && (await initialize(browser)).status === 200, 15_000, 'service to resume');
    expect(await browser.session()).toMatchObject({ authenticated: true, connections: [{ status: 'connected' }] });
    expect(grants('authorization_code')).toBe(logins);
  });

  it('restarting every instance keeps the browser session: no new login', async () => {
    const logins = grants('authorization_code');
    await Promise.all([a.stop(), b.stop()]);
    [a, b] = await Promise.all([startBffProcess(env), startBffProcess(env)]);
    useBackends(a, b);
    const client = await browser.mcpClient();
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    expect(result.structuredContent).toMatchObject({ sub: 'alice' });
    await client.close();
    expect(grants('authorization_code')).toBe(logins);
  }, 60_000);

  it('an instance killed in the middle of a refresh: no session lost, the refresh token used once', async () => {
    // Instances whose refresh lock lapses 1.5 s after its holder dies (and last renewed it), not 6 s.
    await Promise.all([a.stop(), b.stop()]);
    [a, b] = await Promise.all([startBffProcess(shortAsTimeoutEnv), startBffProcess(shortAsTimeoutEnv)]);
    const sid = await browser.sessionId();
    await expireSoon(sid);
    const stale = await store.getConnection(sid, 'default');
    const refreshesBefore = grants('refresh_token');
    useBackends(a);
    up.holdRefresh = true;
    // a takes the lock and sends the refresh, which the AS's front holds: the AS never sees it.
    const doomed = browser
      .request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') })
      .then((r) => r.status, () => 0);
    // At least one: a may already have retried its held request after its 1 s AS timeout (the front
    // never lets a held one reach the AS, so the refresh token stays unspent either way).
    await until(() => up.held >= 1, 10_000, 'the refresh to be held');
    await a.kill();
    // Cut off (502), or, on a very slow machine, a's own 503 after its AS timeouts: never a 401.
    expect([502, 503]).toContain(await doomed);
    up.holdRefresh = false;

    // b waits for the dead instance's lock to lapse, then refreshes with the stored (unspent) token.
    useBackends(b);
    const res = await initialize(browser);
    expect(res.status).toBe(200);
    expect(grants('refresh_token')).toBe(refreshesBefore + 1);
    const fresh = await store.getConnection(sid, 'default');
    expect(fresh?.generation).toBe((stale?.generation ?? 0) + 1);
    expect(fresh?.refreshToken).not.toBe(stale?.refreshToken);

    a = await startBffProcess(env);
    useBackends(a, b);
  }, 60_000);

  it('a dump of Redis holds no token, code, verifier, state, session id, cookie or MCP session id', async () => {
    const fresh = new TestBrowser(lb.origin);
    const callback = await fresh.authorize();
    const loginCookie = fresh.jar.header(callback)?.match(/mcp_login=([^;]+)/)?.[1] as string;
    const transaction = await unsealData<{ codeVerifier: string; state: string }>(loginCookie, { password: { 1: DEMO_SESSION_SECRET } });
    const code = callback.searchParams.get('code') as string;
    await fresh.finishLogin(callback);
    const init = await initialize(fresh);
    expect(init.status).toBe(200);
    const sid = await fresh.sessionId();
    const record = await store.getConnection(sid, 'default');
    const secrets = {
      accessToken: record?.accessToken as string,
      refreshToken: record?.refreshToken as string,
      code,
      verifier: transaction.codeVerifier,
      state: transaction.state,
      sessionId: sid,
      sessionCookie: fresh.jar.header(lb.origin)?.match(/mcp_session=([^;]+)/)?.[1] as string,
      mcpSessionId: init.headers.get('mcp-session-id') as string,
      clientSecret: DEMO_CLIENT.client_secret,
      encryptionKey: key.key.toString('base64'),
    };
    for (const [name, value] of Object.entries(secrets)) expect(value, name).toBeTruthy();

    const dump = await redis.dump();
    expect(dump).toMatch(/mcp-bff:s:/);
    expect(dump).toContain('v2.k1.');
    for (const [name, value] of Object.entries(secrets)) {
      expect(dump.includes(value), `${name} in the Redis dump`).toBe(false);
      // A long token's middle part would show even if its ends were cut or re-encoded.
      if (value.length > 40) expect(dump.includes(value.slice(10, 40)), `${name} (part) in the Redis dump`).toBe(false);
    }
    for (const instance of [a, b]) {
      await instance.flushed();
      for (const [name, value] of Object.entries(secrets)) expect(instance.output().includes(value), `${name} in the logs`).toBe(false);
    }
  });
});

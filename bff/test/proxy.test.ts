import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../../demo/src/stack.js';
import { expireSoon, grants, INITIALIZE, initializeMcp, MCP_HEADERS, rpc, TestBrowser } from './support.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

async function loggedIn(user = 'alice'): Promise<TestBrowser> {
  const browser = new TestBrowser(stack.appUrl);
  await browser.login({ user });
  return browser;
}

const initialize = initializeMcp;

describe('proxy', () => {
  it('forwards MCP calls with the bearer token and nothing of the browser’s', async () => {
    const browser = await loggedIn();
    const client = await browser.mcpClient();
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    expect(result.structuredContent).toMatchObject({ sub: 'alice', scopes: ['mcp:tools'] });
    const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
    expect(sum.content).toEqual([{ type: 'text', text: '5' }]);
    await client.close();

    const seen = stack.mcp.received.length;
    const res = await browser.request('/mcp/default', {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: 'Bearer browser-supplied', 'x-forwarded-host': 'evil.example' },
      body: INITIALIZE,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toBeNull();
    const forwarded = stack.mcp.received[seen]?.headers ?? {};
    expect(forwarded.cookie).toBeUndefined();
    expect(forwarded.authorization).toMatch(/^Bearer eyJ/);
    expect(forwarded.authorization).not.toContain('browser-supplied');
    expect(forwarded['x-forwarded-host']).toBeUndefined();
  });

  it('streams SSE: progress notifications arrive before the result', async () => {
    const browser = await loggedIn();
    const client = await browser.mcpClient();
    const progress: number[] = [];
    const result = await client.callTool({ name: 'slow_task', arguments: { steps: 3, delayMs: 50 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(progress).toEqual([1, 2, 3]);
    expect(result.content).toEqual([{ type: 'text', text: 'Completed 3 steps' }]);
    await client.close();
  });

  it('binds an MCP session to the BFF session that created it', async () => {
    const alice = await loggedIn();
    const mcpSessionId = await initialize(alice);
    const bob = await loggedIn('bob');
    const res = await bob.request('/mcp/default', {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'mcp-session-id': mcpSessionId },
      body: rpc('tools/list'),
    });
    expect(res.status).toBe(404);
  });

  it('answers 401 login_required without a session, and refuses tokens in the URL', async () => {
    const anonymous = new TestBrowser(stack.appUrl);
    const res = await anonymous.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'login_required', loginUrl: '/bff/login?server=default&returnTo=%2F&challengeScope=mcp%3Atools' });

    const browser = await loggedIn();
    const seen = stack.mcp.received.length;
    const q = await browser.request('/mcp/default?access_token=x', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') });
    expect(q.status).toBe(400);
    expect(stack.mcp.received.length).toBe(seen);
  });

  it('refuses other methods and oversized bodies before forwarding', async () => {
    const browser = await loggedIn();
    const seen = stack.mcp.received.length;
    const put = await browser.request('/mcp/default', { method: 'PUT', headers: MCP_HEADERS, body: '{}' });
    expect(put.status).toBe(405);
    const big = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: 'x'.repeat(2 * 1024 * 1024) });
    expect(big.status).toBe(413);
    expect(stack.mcp.received.length).toBe(seen);
  });
});

describe('CSRF', () => {
  it('refuses /mcp and /bff API calls without X-CSRF or from a foreign Origin, before forwarding', async () => {
    const browser = await loggedIn();
    const seen = stack.mcp.received.length;
    const noHeader = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list'), csrf: false });
    expect(noHeader.status).toBe(403);
    expect(await noHeader.json()).toMatchObject({ error: 'csrf_failed' });
    const foreign = await browser.request('/mcp/default', {
      method: 'POST',
      headers: { ...MCP_HEADERS, origin: 'https://evil.example' },
      body: rpc('tools/list'),
    });
    expect(foreign.status).toBe(403);
    const crossSite = await browser.request('/mcp/default', {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'sec-fetch-site': 'cross-site' },
      body: rpc('tools/list'),
    });
    expect(crossSite.status).toBe(403);
    expect(stack.mcp.received.length).toBe(seen);

    const logout = await browser.request('/bff/logout', { method: 'POST', csrf: false });
    expect(logout.status).toBe(403);
    expect((await browser.session()).authenticated).toBe(true);
    expect((await browser.request('/bff/session', { csrf: false })).status).toBe(403);
  });

  it('answers no CORS at all', async () => {
    const res = await fetch(`${stack.appUrl}/mcp/default`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-csrf' },
    });
    expect([...res.headers.keys()].filter((k) => k.startsWith('access-control-'))).toEqual([]);
  });
});

describe('refresh', () => {
  it('50 concurrent calls on an expiring token cause exactly one refresh, with rotation', async () => {
    const browser = await loggedIn();
    const client = await browser.mcpClient();
    const sid = await browser.sessionId();
    const old = await stack.store.getConnection(sid, 'default');
    await expireSoon(stack, sid);
    const before = grants(stack, 'refresh_token');
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => client.callTool({ name: 'add', arguments: { a: i, b: 1 } })));
    expect(results.map((r) => (r.content as Array<{ text: string }>)[0]?.text)).toEqual(Array.from({ length: 50 }, (_, i) => String(i + 1)));
    expect(grants(stack, 'refresh_token')).toBe(before + 1);
    const now = await stack.store.getConnection(sid, 'default');
    expect(now?.accessToken).not.toBe(old?.accessToken);
    expect(now?.refreshToken).toBeDefined();
    expect(now?.refreshToken).not.toBe(old?.refreshToken);
    await client.close();
  });

  it('invalid_grant ends the connection: 401 login_required', async () => {
    const browser = await loggedIn();
    const sid = await browser.sessionId();
    const record = await stack.store.getConnection(sid, 'default');
    await stack.store.putConnection(sid, 'default', { ...(record as NonNullable<typeof record>), refreshToken: 'revoked-or-unknown' });
    await expireSoon(stack, sid);
    const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'login_required', loginUrl: expect.stringContaining('/bff/login') });
    expect(await stack.store.getConnection(sid, 'default')).toBeUndefined();
    expect((await browser.session()).connections[0]?.status).toBe('login_required');
  });

  it('an upstream 401 triggers one refresh and one retry', async () => {
    const browser = await loggedIn();
    const sid = await browser.sessionId();
    const record = await stack.store.getConnection(sid, 'default');
    await stack.store.putConnection(sid, 'default', { ...(record as NonNullable<typeof record>), accessToken: 'eyJ.not-valid.anymore' });
    const before = grants(stack, 'refresh_token');
    const seen = stack.mcp.received.length;
    const mcpSessionId = await initialize(browser);
    expect(mcpSessionId).toBeTruthy();
    expect(grants(stack, 'refresh_token')).toBe(before + 1);
    expect(stack.mcp.received.length).toBe(seen + 2);
  });

  it('AS down: 503 with Retry-After and the session kept; works again once the AS is back', async () => {
    const browser = await loggedIn();
    const sid = await browser.sessionId();
    await expireSoon(stack, sid);
    await stack.stopAuthServer();
    try {
      const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(await res.json()).toMatchObject({ error: 'authorization_server_unavailable' });
      expect(await stack.store.getConnection(sid, 'default')).toBeDefined();
    } finally {
      await stack.startAuthServer();
    }
    expect(await initialize(browser)).toBeTruthy();
  });
});

describe('logout', () => {
  it('revokes at the AS, ends the session and the old cookie stops working', async () => {
    const browser = await loggedIn();
    const sid = await browser.sessionId();
    const record = await stack.store.getConnection(sid, 'default');
    const oldCookie = browser.jar.header(stack.appUrl) as string;
    const revocations = stack.as.revocations.length;
    const res = await browser.request('/bff/logout', { method: 'POST' });
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie().join()).toMatch(/mcp_session=;.*Max-Age=0/);
    expect(stack.as.revocations.length).toBe(revocations + 2);
    expect(await stack.store.getSession(sid)).toBeUndefined();

    const replay = await browser.request('/mcp/default', {
      method: 'POST',
      headers: { ...MCP_HEADERS, cookie: oldCookie },
      body: rpc('tools/list'),
    });
    expect(replay.status).toBe(401);
    const session = await browser.request('/bff/session', { headers: { cookie: oldCookie } });
    expect((await session.json()).authenticated).toBe(false);

    // The refresh token is dead at the AS too.
    const refresh = await fetch(`${stack.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from('mcp-bff-demo:demo-only-client-secret-not-for-production').toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: record?.refreshToken as string }),
    });
    expect(refresh.status).toBe(400);
    expect((await refresh.json()).error).toBe('invalid_grant');
  });
});

describe('streaming', () => {
  it('closes the upstream stream when the browser goes away', async () => {
    const browser = await loggedIn();
    const mcpSessionId = await initialize(browser);
    const controller = new AbortController();
    const stream = await browser.request('/mcp/default', {
      method: 'GET',
      headers: { accept: 'text/event-stream', 'mcp-session-id': mcpSessionId, 'mcp-protocol-version': '2025-11-25' },
      signal: controller.signal,
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/text\/event-stream/);
    const upstream = stack.mcp.received.filter((r) => r.method === 'GET').at(-1);
    expect(upstream?.closed).toBe(false);
    controller.abort();
    await expect.poll(() => upstream?.closed).toBe(true);
  });

  it('streams an answer through with the security headers, without buffering it', async () => {
    const browser = await loggedIn();
    const mcpSessionId = await initialize(browser);
    const res = await browser.request('/mcp/default', {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'mcp-session-id': mcpSessionId },
      body: rpc('tools/call', { name: 'slow_task', arguments: { steps: 3, delayMs: 300 }, _meta: { progressToken: 1 } }, 2),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cross-origin-resource-policy')).toBe('same-origin');
    expect(res.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(res.headers.get('x-request-id')).toBeTruthy();
    // Unbuffered: the first chunk is the first progress event alone, not the whole answer.
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain('notifications/progress');
    expect(first).not.toContain('Completed');
    let rest = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest).toContain('Completed 3 steps');
  });
});

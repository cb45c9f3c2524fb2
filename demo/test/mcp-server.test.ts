import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DemoStack, startDemoStack } from '../src/demo-stack.js';
import { type Listening, listen } from '../src/listen.js';
import { createMcpServer, type McpDemo } from '../src/mcp-server.js';
import { initializeRequest, mcpHeaders, mcpPost, openSession, readSse } from './mcp-http.js';
import { loginAndGetTokens, refreshTokens, type TestClient, type TokenResponse } from './oauth-flow.js';

const client: TestClient = {
  client_id: 'mcp-test-client',
  client_secret: 'mcp-test-secret',
  redirect_uri: 'http://localhost:3999/bff/callback',
};

let stack: DemoStack;
let alice: TokenResponse; // mcp:tools only
let aliceAdmin: TokenResponse; // mcp:tools mcp:admin
let bob: TokenResponse;
let metadataUrl: string;

beforeAll(async () => {
  stack = await startDemoStack({
    clients: [{ client_id: client.client_id, client_secret: client.client_secret, redirect_uris: [client.redirect_uri] }],
  });
  const { issuer, resource } = stack;
  metadataUrl = `${stack.mcpListening.origin}/.well-known/oauth-protected-resource/mcp`;
  [alice, aliceAdmin, bob] = await Promise.all([
    loginAndGetTokens({ issuer, resource, client, scope: 'mcp:tools' }),
    loginAndGetTokens({ issuer, resource, client, scope: 'mcp:tools mcp:admin' }),
    loginAndGetTokens({ issuer, resource, client, scope: 'mcp:tools', user: 'bob', password: 'bob-demo-password' }),
  ]);
});

afterAll(async () => {
  await stack?.close();
});

async function sdkClient(token: string): Promise<Client> {
  const mcpClient = new Client({ name: 'demo-test', version: '0.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(stack.resource), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await mcpClient.connect(transport);
  return mcpClient;
}

describe('protected resource metadata (RFC 9728)', () => {
  it('is served path-inserted and at the root well-known', async () => {
    const expected = {
      resource: stack.resource,
      authorization_servers: [stack.issuer],
      scopes_supported: ['mcp:tools', 'mcp:admin'],
      bearer_methods_supported: ['header'],
    };
    for (const url of [metadataUrl, `${stack.mcpListening.origin}/.well-known/oauth-protected-resource`]) {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toMatchObject(expected);
    }
  });
});

describe('bearer token checks', () => {
  it('answers 401 with a discovery challenge when there is no token', async () => {
    const res = await mcpPost(stack.resource, undefined, initializeRequest());
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${metadataUrl}", scope="mcp:tools"`);
    expect(await res.json()).toMatchObject({ error: 'unauthorized' });
  });

  it('answers 401 invalid_token for a malformed token', async () => {
    const res = await mcpPost(stack.resource, 'not-a-jwt', initializeRequest());
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^Bearer error="invalid_token", /);
    expect(challenge).toContain(`resource_metadata="${metadataUrl}"`);
    expect(challenge).toContain('scope="mcp:tools"');
    expect(await res.json()).toMatchObject({ error: 'invalid_token' });
  });

  it('refuses a valid token minted for another audience', async () => {
    // A second MCP server, same authorization server, different URL: alice's token is not for it.
    const other: Listening = await listen(0);
    const otherMcp: McpDemo = createMcpServer({ resource: `${other.origin}/mcp`, issuer: stack.issuer });
    other.handle(otherMcp.handler);
    try {
      const res = await mcpPost(`${other.origin}/mcp`, alice.access_token, initializeRequest());
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
      expect(res.headers.get('www-authenticate')).toContain(`resource_metadata="${other.origin}/.well-known/oauth-protected-resource/mcp"`);
      // ... while the real one accepts it.
      const ok = await mcpPost(stack.resource, alice.access_token, initializeRequest());
      expect(ok.status).toBe(200);
      await readSse(ok);
    } finally {
      await otherMcp.close();
      await other.close();
    }
  });

  it('refuses a token with the right claims signed by someone else', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const jwk = await exportJWK(publicKey);
    const forged = await new SignJWT({ scope: 'mcp:tools mcp:admin', client_id: client.client_id })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'forged', jwk })
      .setIssuer(stack.issuer)
      .setAudience(stack.resource)
      .setSubject('alice')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const res = await mcpPost(stack.resource, forged, initializeRequest());
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('refuses an ID token used as an access token (typ at+jwt)', async () => {
    const tokens = await loginAndGetTokens({ issuer: stack.issuer, resource: stack.resource, client, scope: 'openid mcp:tools' });
    expect(tokens.id_token).toBeTruthy();
    const res = await mcpPost(stack.resource, tokens.id_token, initializeRequest());
    expect(res.status).toBe(401);
  });

  it('refuses a token in the query string, even a valid one', async () => {
    const res = await mcpPost(`${stack.resource}?access_token=${alice.access_token}`, alice.access_token, initializeRequest());
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('answers 403 insufficient_scope when the token lacks mcp:tools', async () => {
    const adminOnly = await loginAndGetTokens({ issuer: stack.issuer, resource: stack.resource, client, scope: 'mcp:admin' });
    const res = await mcpPost(stack.resource, adminOnly.access_token, initializeRequest());
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer error="insufficient_scope", resource_metadata="${metadataUrl}", scope="mcp:tools"`,
    );
  });

  it('answers 405 for other methods and 404 elsewhere', async () => {
    const put = await fetch(stack.resource, { method: 'PUT', headers: { authorization: `Bearer ${alice.access_token}` } });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, POST, DELETE');
    const elsewhere = await fetch(`${stack.mcpListening.origin}/nope`);
    expect(elsewhere.status).toBe(404);
  });
});

describe('MCP over Streamable HTTP', () => {
  it('initializes, lists and calls tools, reads the resource and the prompt (SDK client)', async () => {
    const mcpClient = await sdkClient(alice.access_token);
    try {
      const { tools } = await mcpClient.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual([
        'add',
        'add_note',
        'admin_report',
        'ask_model',
        'ask_profile',
        'bump_counter',
        'color_swatch',
        'confirm_in_browser',
        'create_event',
        'divide',
        'echo',
        'emit_logs',
        'get_report',
        'list_roots',
        'plan_trip',
        'slow_task',
        'whoami',
      ]);

      const who = await mcpClient.callTool({ name: 'whoami', arguments: {} });
      expect(who.structuredContent).toEqual({ sub: 'alice', scopes: ['mcp:tools'], clientId: client.client_id });
      expect(JSON.parse((who.content as Array<{ text: string }>)[0]?.text ?? '')).toEqual(who.structuredContent);

      const sum = await mcpClient.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
      expect(sum.content).toEqual([{ type: 'text', text: '42' }]);
      expect(sum.structuredContent).toEqual({ sum: 42 });

      const echo = await mcpClient.callTool({ name: 'echo', arguments: { message: 'héllo <b>' } });
      expect(echo.content).toEqual([{ type: 'text', text: 'héllo <b>', annotations: { audience: ['user'], priority: 0.5 } }]);

      const readme = await mcpClient.readResource({ uri: 'demo://readme' });
      expect(readme.contents[0]).toMatchObject({ uri: 'demo://readme', mimeType: 'text/plain' });

      const { prompts } = await mcpClient.listPrompts();
      expect(prompts.map((p) => p.name)).toEqual(['greeting', 'code_review']);
      const prompt = await mcpClient.getPrompt({ name: 'greeting', arguments: { name: 'Ada' } });
      expect(JSON.stringify(prompt.messages)).toContain('Ada');
    } finally {
      await mcpClient.close();
    }
  });

  it('passes the verified token to the tools and records what it received', async () => {
    const before = stack.mcp.received.length;
    const sessionId = await openSession(stack.resource, alice.access_token);
    const seen = stack.mcp.received.slice(before);
    expect(seen.map((r) => r.method)).toEqual(['POST', 'POST']);
    expect(seen[0]?.headers.authorization).toBe(`Bearer ${alice.access_token}`);
    expect(seen[1]?.headers['mcp-session-id']).toBe(sessionId);
  });

  it('streams slow_task progress over SSE before the result', async () => {
    const sessionId = await openSession(stack.resource, alice.access_token);
    const res = await mcpPost(
      stack.resource,
      alice.access_token,
      { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'slow_task', arguments: { steps: 3, delayMs: 500 }, _meta: { progressToken: 'p1' } } },
      sessionId,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const messages = await readSse(res);
    const progress = messages.filter((m) => m.data.method === 'notifications/progress');
    expect(progress.map((m) => m.data.params)).toEqual([1, 2, 3].map((n) => ({ progressToken: 'p1', progress: n, total: 3, message: `Step ${n} of 3` })));
    const result = messages.at(-1);
    expect(result?.data).toMatchObject({ id: 7, result: { content: [{ type: 'text', text: 'Completed 3 steps' }] } });
    // Streamed, not buffered: the first read of the body held progress and no result yet; the result came
    // in a later read. (Buffered, every message would arrive in one read; here two more 500 ms steps
    // separate the first progress from the result, so only a client stall of over a second could merge them.)
    const firstRead = messages.filter((m) => m.read === messages[0]?.read);
    expect(firstRead.length).toBeGreaterThanOrEqual(1);
    expect(firstRead.every((m) => m.data.method === 'notifications/progress')).toBe(true);
    expect(result?.read).toBeGreaterThan(progress[0]?.read ?? Number.POSITIVE_INFINITY);
  });

  it('reports progress to the SDK client and honours cancellation', async () => {
    const mcpClient = await sdkClient(alice.access_token);
    try {
      const seen: number[] = [];
      const done = await mcpClient.callTool({ name: 'slow_task', arguments: { steps: 2, delayMs: 20 } }, undefined, {
        onprogress: (p) => seen.push(p.progress),
      });
      expect(seen).toEqual([1, 2]);
      expect(done.content).toEqual([{ type: 'text', text: 'Completed 2 steps' }]);

      const controller = new AbortController();
      const cancelled = mcpClient.callTool({ name: 'slow_task', arguments: { steps: 50, delayMs: 1000 } }, undefined, {
        signal: controller.signal,
      });
      setTimeout(() => controller.abort('user cancelled'), 100);
      await expect(cancelled).rejects.toThrow();
      // The session is still usable afterwards.
      const sum = await mcpClient.callTool({ name: 'add', arguments: { a: 1, b: 1 } });
      expect(sum.structuredContent).toEqual({ sum: 2 });
    } finally {
      await mcpClient.close();
    }
  });

  it('stops a cancelled slow_task and ends its SSE stream without a result', async () => {
    const sessionId = await openSession(stack.resource, alice.access_token);
    // 50 steps of 500 ms: run to the end, the task would stream progress for 25 s.
    const res = await mcpPost(
      stack.resource,
      alice.access_token,
      { jsonrpc: '2.0', id: 'slow-1', method: 'tools/call', params: { name: 'slow_task', arguments: { steps: 50, delayMs: 500 }, _meta: { progressToken: 'c1' } } },
      sessionId,
    );
    expect(res.status).toBe(200);
    let progressSeen = 0;
    let firstProgress: () => void = () => {};
    const progressStarted = new Promise<void>((resolve) => {
      firstProgress = resolve;
    });
    const reading = readSse(res, (m) => {
      if (m.data.method !== 'notifications/progress') return;
      progressSeen++;
      firstProgress();
    });
    // Cancel only once progress has visibly started; note how far it had got. (If the stream ended
    // without progress, progressAtCancel stays 0 and the test fails below instead of hanging.)
    await Promise.race([progressStarted, reading]);
    const progressAtCancel = progressSeen;
    const cancelledAt = Date.now();
    const cancel = await mcpPost(
      stack.resource,
      alice.access_token,
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'slow-1', reason: 'test' } },
      sessionId,
    );
    expect(cancel.status).toBe(202);
    const messages = await reading; // resolves only when the server ends the stream
    // The stream ended a step or so after the cancel, long before the 25 s the task would have taken.
    expect(Date.now() - cancelledAt).toBeLessThan(10_000);
    const progress = messages.filter((m) => m.data.method === 'notifications/progress').length;
    expect(progressAtCancel).toBeGreaterThanOrEqual(1);
    expect(progress - progressAtCancel).toBeLessThanOrEqual(3);
    expect(progress).toBeLessThan(25);
    expect(messages.some((m) => 'result' in m.data || 'error' in m.data)).toBe(false);
  });

  it('serves the standalone GET SSE stream', async () => {
    const sessionId = await openSession(stack.resource, alice.access_token);
    const controller = new AbortController();
    const res = await fetch(stack.resource, {
      headers: { authorization: `Bearer ${alice.access_token}`, accept: 'text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': LATEST_PROTOCOL_VERSION },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    controller.abort();
  });

  it('gates admin_report on mcp:admin with a 403 step-up challenge before the transport', async () => {
    const sessionId = await openSession(stack.resource, alice.access_token);
    const call = { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'admin_report', arguments: {} } };
    const denied = await mcpPost(stack.resource, alice.access_token, call, sessionId);
    expect(denied.status).toBe(403);
    expect(denied.headers.get('www-authenticate')).toBe(
      `Bearer error="insufficient_scope", resource_metadata="${metadataUrl}", scope="mcp:tools mcp:admin"`,
    );
    expect(await denied.json()).toMatchObject({ error: 'insufficient_scope', scope: 'mcp:tools mcp:admin' });

    const adminClient = await sdkClient(aliceAdmin.access_token);
    try {
      const report = await adminClient.callTool({ name: 'admin_report', arguments: {} });
      expect(report.isError).toBeFalsy();
      expect((report.content as Array<{ text: string }>)[0]?.text).toMatch(/^Admin report for alice/);
    } finally {
      await adminClient.close();
    }
  });

  it('binds each MCP session to the token subject', async () => {
    const sessionId = await openSession(stack.resource, alice.access_token);
    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list' };

    const asBob = await mcpPost(stack.resource, bob.access_token, list, sessionId);
    expect(asBob.status).toBe(404);
    const bobGet = await fetch(stack.resource, {
      headers: { authorization: `Bearer ${bob.access_token}`, accept: 'text/event-stream', 'mcp-session-id': sessionId },
    });
    expect(bobGet.status).toBe(404);
    const bobDelete = await fetch(stack.resource, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${bob.access_token}`, 'mcp-session-id': sessionId },
    });
    expect(bobDelete.status).toBe(404);

    // Another token of the same subject (different scopes) may use it.
    const asAlice = await mcpPost(stack.resource, aliceAdmin.access_token, list, sessionId);
    expect(asAlice.status).toBe(200);
    await readSse(asAlice);

    // DELETE ends the session.
    const del = await fetch(stack.resource, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${alice.access_token}`, 'mcp-session-id': sessionId, 'mcp-protocol-version': LATEST_PROTOCOL_VERSION },
    });
    expect(del.status).toBe(200);
    const after = await mcpPost(stack.resource, alice.access_token, list, sessionId);
    expect(after.status).toBe(404);
  });

  it('needs a session for anything but initialize', async () => {
    const res = await mcpPost(stack.resource, alice.access_token, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect(res.status).toBe(400);
  });
});

describe("the benchmark's stateless mode", () => {
  it('answers a session-less 2025-11-25 tools/call as JSON, or as SSE with its progress, and mints no session', async () => {
    // Same resource URL (the token's audience), another listener: only the path is matched.
    const listening = await listen(0);
    const json = createMcpServer({ resource: stack.resource, issuer: stack.issuer, stateless: true, enableJsonResponse: true });
    const sse = createMcpServer({ resource: stack.resource, issuer: stack.issuer, stateless: true });
    let server = json;
    listening.handle((req, res) => server.handler(req, res));
    const url = `${listening.origin}/mcp`;
    const headers = { ...mcpHeaders(alice.access_token), 'mcp-protocol-version': LATEST_PROTOCOL_VERSION };
    try {
      const echo = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hello from pnpm bench' } } };
      const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(echo) });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('mcp-session-id')).toBeNull();
      expect(await res.json()).toMatchObject({ id: 1, result: { content: [{ type: 'text', text: 'hello from pnpm bench' }] } });

      server = sse;
      const slow = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'slow_task', arguments: { steps: 2, delayMs: 10 }, _meta: { progressToken: 1 } } };
      const streamed = await fetch(url, { method: 'POST', headers, body: JSON.stringify(slow) });
      expect(streamed.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const messages = (await readSse(streamed)).map((m) => m.data);
      expect(messages.map((m) => m.method ?? 'result')).toEqual(['notifications/progress', 'notifications/progress', 'result']);
    } finally {
      await Promise.all([json.close(), sse.close()]);
      await listening.close();
    }
  });
});

describe('token expiry', () => {
  it('refuses an expired token with a clear description; a refreshed one works', async () => {
    const shortLived = await startDemoStack({
      clients: [{ client_id: client.client_id, client_secret: client.client_secret, redirect_uris: [client.redirect_uri] }],
      // The first token lives at most a second (JWT times are whole seconds); the refreshed one long
      // enough that a slow machine cannot let it expire before it is used.
      accessTokenTtlSeconds: (grantType) => (grantType === 'refresh_token' ? 300 : 1),
    });
    try {
      const tokens = await loginAndGetTokens({ issuer: shortLived.issuer, resource: shortLived.resource, client });
      expect(tokens.expires_in).toBe(1);
      await new Promise((r) => setTimeout(r, 2100));
      const res = await mcpPost(shortLived.resource, tokens.access_token, initializeRequest());
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token", error_description="The access token expired"');

      const refreshed = await refreshTokens(shortLived.issuer, client, tokens.refresh_token ?? '', shortLived.resource);
      expect(refreshed.status).toBe(200);
      expect(refreshed.body.expires_in).toBe(300);
      const ok = await mcpPost(shortLived.resource, refreshed.body.access_token as string, initializeRequest());
      expect(ok.status).toBe(200);
      await readSse(ok);
      expect(shortLived.authServer.tokenRequests.map((r) => r.grantType)).toEqual(['authorization_code', 'refresh_token']);
    } finally {
      await shortLived.close();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../../demo/src/stack.js';
import { REQUEST_HEADER_LIMITS } from '../src/mcp/headers.js';
import { rawHttp } from './hostile-support.js';
import { initializeMcp, TestBrowser } from './support.js';

/**
 * The BFF's side of MCP 2026-07-28, against the real demo stack (its MCP server speaks both revisions):
 * the per-request headers pass through checked, every request is authorized on its own (there is no MCP
 * session to bind), and a subscriptions/listen answer streams like any SSE answer.
 */

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'bff-test', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

/** A 2026-07-28 JSON-RPC request body: the per-request `_meta` envelope instead of an MCP session. */
function modern(method: string, params: Record<string, unknown> = {}, id = 1): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method, params: { ...params, _meta: META } });
}

/** The headers a 2026-07-28 client sends with it. */
function modernHeaders(method: string, name?: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': method,
    ...(name === undefined ? {} : { 'mcp-name': name }),
  };
}

async function loggedIn(user = 'alice'): Promise<TestBrowser> {
  const browser = new TestBrowser(stack.appUrl);
  await browser.login({ user });
  return browser;
}

/** Reads an SSE answer until `text` has arrived; the stream stays open. */
async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, seen: { text: string }, text: string): Promise<void> {
  const decoder = new TextDecoder();
  while (!seen.text.includes(text)) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`the stream ended before ${text}`);
    seen.text += decoder.decode(value, { stream: true });
  }
}

describe('2026-07-28 request headers', () => {
  it('valid ones reach the MCP server unchanged (Base64 sentinel, several Mcp-Param-*), which finds them matching the body', async () => {
    const browser = await loggedIn();
    const sent = {
      ...modernHeaders('tools/call', '=?base64?ZWNobw==?='), // "echo"
      'mcp-param-region': 'us-west1',
      'mcp-param-greeting': '=?base64?SGVsbG8sIOS4lueVjA==?=', // "Hello, 世界"
      'mcp-param-note': 'two words',
    };
    const before = stack.mcp.received.length;
    const cookie = browser.jar.header(stack.appUrl) as string;
    const res = await browser.request('/mcp/default', {
      method: 'POST',
      headers: { ...sent, authorization: 'Bearer browser-supplied', cookie: `${cookie}; other=browser-cookie` },
      body: modern('tools/call', { name: 'echo', arguments: { message: 'hi' } }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: 1, result: { content: [{ type: 'text', text: 'hi' }] } });
    const forwarded = stack.mcp.received.slice(before);
    expect(forwarded).toHaveLength(1);
    const h = forwarded[0]?.headers ?? {};
    for (const [name, value] of Object.entries(sent)) expect(h[name], name).toBe(value);
    expect(h.authorization).toMatch(/^Bearer eyJ/);
    expect(h.cookie).toBeUndefined();
    expect(h['mcp-session-id']).toBeUndefined();
  });

  it('whether a header matches the body is the MCP server’s to judge: a well-formed mismatch goes through and it answers HeaderMismatch', async () => {
    const browser = await loggedIn();
    const res = await browser.request('/mcp/default', {
      method: 'POST',
      headers: modernHeaders('tools/call', 'whoami'),
      body: modern('tools/call', { name: 'echo', arguments: { message: 'hi' } }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32020 } });
  });

  describe('malformed, oversized, too many or repeated: 400 before the body is read, nothing upstream', () => {
    let browser: TestBrowser;
    beforeAll(async () => {
      browser = await loggedIn();
    });

    /** A raw POST (fetch() joins repeated headers into one line, and sends only what it thinks valid). */
    function raw(lines: string[], body = modern('tools/list'), defaults = ['Content-Type: application/json', 'Accept: application/json, text/event-stream']) {
      const port = Number(new URL(stack.appUrl).port);
      const head = [
        'POST /mcp/default HTTP/1.1',
        `Host: localhost:${port}`,
        'X-CSRF: 1',
        `Cookie: ${browser.jar.header(stack.appUrl)}`,
        ...defaults,
        ...lines,
        `Content-Length: ${Buffer.byteLength(body)}`,
        'Connection: close',
      ];
      return rawHttp(port, `${head.join('\r\n')}\r\n\r\n${body}`);
    }

    const params = (n: number) => Array.from({ length: n }, (_, i) => `Mcp-Param-P${i}: v${i}`);
    const { mirroredValue, method, paramName, params: maxParams, value: maxValue } = REQUEST_HEADER_LIMITS;

    it.each([
      ['MCP-Protocol-Version that is no revision date', ['MCP-Protocol-Version: latest'], /MCP-Protocol-Version header must be a revision date/],
      ['MCP-Protocol-Version twice', ['MCP-Protocol-Version: 2026-07-28', 'MCP-Protocol-Version: 2026-07-28'], /MCP-Protocol-Version header is sent more than once/],
      ['Mcp-Method with a space', ['Mcp-Method: tools/ list'], /Mcp-Method header must be a JSON-RPC method name/],
      ['Mcp-Method too long', [`Mcp-Method: ${'m'.repeat(method + 1)}`], /Mcp-Method header is longer than/],
      ['Mcp-Method twice', ['Mcp-Method: tools/list', 'mcp-method: tools/call'], /Mcp-Method header is sent more than once/],
      ['Mcp-Name not ASCII', ['Mcp-Name: caf\u00e9-\u4e16\u754c'], /Mcp-Name header must be visible ASCII/],
      ['Mcp-Name with broken Base64', ['Mcp-Name: =?base64?ZWNobw=?='], /Mcp-Name header must be visible ASCII .* or =\?base64\?/],
      ['Mcp-Name too long', [`Mcp-Name: ${'n'.repeat(mirroredValue + 1)}`], /Mcp-Name header is longer than/],
      ['Mcp-Name twice', ['Mcp-Name: echo', 'Mcp-Name: whoami'], /Mcp-Name header is sent more than once/],
      ['Mcp-Param-* not ASCII', ['Mcp-Param-Region: \u00fcber'], /Mcp-Param-region header must be visible ASCII/],
      ['Mcp-Param-* with broken Base64', ['Mcp-Param-Region: =?base64?***?='], /Mcp-Param-region header must be/],
      ['Mcp-Param-* too long', [`Mcp-Param-Region: ${'r'.repeat(mirroredValue + 1)}`], /Mcp-Param-region header is longer than/],
      ['Mcp-Param-* twice (names differ only in case)', ['Mcp-Param-Region: a', 'mcp-param-region: b'], /Mcp-Param-region header is sent more than once/],
      ['Mcp-Param- without a name', ['Mcp-Param-: x'], /Mcp-Param-\{Name\} header needs a \{Name\}/],
      ['an Mcp-Param-* name too long', [`Mcp-Param-${'p'.repeat(paramName + 1)}: x`], /Mcp-Param-\{Name\} header needs a \{Name\}/],
      [`${maxParams + 1} Mcp-Param-* headers`, params(maxParams + 1), /At most \d+ Mcp-Param-\* headers/],
      ['headers too long together', [`Mcp-Name: ${'n'.repeat(4000)}`, `Mcp-Param-A: ${'a'.repeat(4000)}`, `Mcp-Param-B: ${'b'.repeat(400)}`], /longer than \d+ characters together/],
      ['Last-Event-ID too long (no longer dropped)', [`Last-Event-ID: ${'e'.repeat(maxValue + 1)}`], /Last-Event-ID header is longer than/],
      ['Mcp-Session-Id twice', ['Mcp-Session-Id: a', 'Mcp-Session-Id: b'], /Mcp-Session-Id header is sent more than once/],
    ])('%s', async (_name, lines, message) => {
      const before = stack.mcp.received.length;
      const res = await raw(lines);
      expect(res.status).toBe(400);
      const body = JSON.parse(res.raw.slice(res.raw.indexOf('\r\n\r\n') + 4)) as { error: string; message: string };
      expect(body.error).toBe('bad_request');
      expect(body.message).toMatch(message);
      expect(body.message.length).toBeLessThan(200);
      expect(stack.mcp.received.slice(before)).toEqual([]);
    });

    it('Accept and Content-Type over the bound: 400 too (they used to be dropped and the rest forwarded)', async () => {
      const before = stack.mcp.received.length;
      for (const name of ['Accept', 'Content-Type']) {
        const res = await raw([`${name}: ${'x'.repeat(maxValue + 1)}`], modern('tools/list'), [name === 'Accept' ? 'Content-Type: application/json' : 'Accept: */*']);
        expect(res.status).toBe(400);
        expect(res.raw).toContain(`The ${name} header is longer than ${maxValue} characters.`);
      }
      expect(stack.mcp.received.slice(before)).toEqual([]);
    });

    it('the refusal comes before the body is read: it arrives while the declared body never does', async () => {
      const before = stack.mcp.received.length;
      const port = Number(new URL(stack.appUrl).port);
      const res = await rawHttp(
        port,
        `POST /mcp/default HTTP/1.1\r\nHost: localhost:${port}\r\nX-CSRF: 1\r\nCookie: ${browser.jar.header(stack.appUrl)}\r\n` +
          `Content-Type: application/json\r\nMcp-Name: a\r\nMcp-Name: b\r\nContent-Length: 100000\r\n\r\n`,
        5_000,
      );
      expect(res.status).toBe(400);
      expect(res.raw).toMatch(/"error":"bad_request"/);
      expect(stack.mcp.received.slice(before)).toEqual([]);
    });
  });
});

describe('no MCP session in 2026-07-28: every request is authorized on its own', () => {
  it('without a connection 401 login_required; with one it is answered; after logout 401 again', async () => {
    const browser = new TestBrowser(stack.appUrl);
    const call = () => browser.request('/mcp/default', { method: 'POST', headers: modernHeaders('tools/list'), body: modern('tools/list') });

    const before = stack.mcp.received.length;
    const anonymous = await call();
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: 'login_required', loginUrl: '/bff/login?server=default&returnTo=%2F&challengeScope=mcp%3Atools' });
    // Lazy login: it went upstream without a token, and the MCP server's challenge said how to log in.
    expect(stack.mcp.received.slice(before).map((r) => r.headers.authorization)).toEqual([undefined]);

    await browser.login();
    const answered = await call();
    expect(answered.status).toBe(200);
    expect(answered.headers.get('mcp-session-id')).toBeNull();
    const { result } = (await answered.json()) as { result: { tools: Array<{ name: string }> } };
    expect(result.tools.map((t) => t.name)).toContain('echo');
    expect(stack.mcp.received.at(-1)?.headers.authorization).toMatch(/^Bearer eyJ/);

    expect((await browser.request('/bff/logout', { method: 'POST' })).status).toBe(200);
    expect((await call()).status).toBe(401);
  });

  it('an Mcp-Session-Id on a 2026-07-28 request is still held to the browser session that made it', async () => {
    const alice = await loggedIn();
    const bob = await loggedIn('bob');
    const id = await initializeMcp(alice);
    const before = stack.mcp.received.length;
    const res = await bob.request('/mcp/default', {
      method: 'POST',
      headers: { ...modernHeaders('tools/list'), 'mcp-session-id': id },
      body: modern('tools/list'),
    });
    expect(res.status).toBe(404);
    expect(stack.mcp.received.slice(before)).toEqual([]);
  });
});

describe('subscriptions/listen', () => {
  it('its SSE answer streams through as it comes, stays open, and is closed upstream when the browser leaves', async () => {
    const browser = await loggedIn();
    const controller = new AbortController();
    const listen = await browser.request('/mcp/default', {
      method: 'POST',
      headers: modernHeaders('subscriptions/listen'),
      body: modern('subscriptions/listen', { notifications: { resourcesListChanged: true } }, 7),
      signal: controller.signal,
    });
    expect(listen.status).toBe(200);
    expect(listen.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(listen.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(listen.headers.get('x-accel-buffering')).toBe('no');
    const upstream = stack.mcp.received.filter((r) => r.headers['mcp-method'] === 'subscriptions/listen').at(-1);
    expect(upstream?.headers.authorization).toMatch(/^Bearer eyJ/);

    const reader = (listen.body as ReadableStream<Uint8Array>).getReader();
    const seen = { text: '' };
    await readUntil(reader, seen, 'notifications/subscriptions/acknowledged');
    expect(seen.text).not.toContain('notifications/resources/list_changed');

    // A change made by another request arrives on the open stream.
    const change = await browser.request('/mcp/default', {
      method: 'POST',
      headers: modernHeaders('tools/call', 'add_note'),
      body: modern('tools/call', { name: 'add_note', arguments: { text: 'from the listen test' } }, 8),
    });
    expect(change.status).toBe(200);
    await change.text();
    await readUntil(reader, seen, 'notifications/resources/list_changed');
    expect(upstream?.closed).toBe(false);

    controller.abort();
    await expect.poll(() => upstream?.closed).toBe(true);
  });
});

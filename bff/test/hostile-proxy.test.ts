import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Listening, listen } from '../../demo/src/listen.js';
import { type Stack, startStack } from '../../demo/src/stack.js';
import { expectCleanError, loginAtVariant, rawHttp, SHORT_TIMEOUTS, startVariantApp, type VariantApp } from './hostile-support.js';
import { initializeMcp, MCP_HEADERS, rpc, TestBrowser } from './support.js';

/**
 * The proxy under attack: only the configured upstream is ever contacted, only MCP's headers cross it,
 * MCP sessions stay with the BFF session that made them, tokens stay out of URLs, bodies are bounded.
 */

let app: VariantApp;
let browser: TestBrowser;
/** Stands for any host an attacker would like the BFF to contact: counts every connection. */
let evil: Listening;
let evilConnections = 0;
const SECRET_MARKER = 'evil-marker-7f3a';

beforeAll(async () => {
  app = await startVariantApp({
    mcpResponseHeaders: {
      'set-cookie': `upstream=${SECRET_MARKER}; Path=/`,
      'x-powered-by': SECRET_MARKER,
      'x-internal-token': SECRET_MARKER,
      server: SECRET_MARKER,
      'proxy-authenticate': `Basic realm="${SECRET_MARKER}"`,
      'access-control-allow-origin': '*',
      'access-control-allow-credentials': 'true',
      'content-security-policy': 'default-src * unsafe-inline',
      'x-frame-options': 'ALLOWALL',
      'keep-alive': 'timeout=999',
      connection: `keep-alive, x-hop-${SECRET_MARKER}`,
      [`x-hop-${SECRET_MARKER}`]: SECRET_MARKER,
      link: `<https://evil.example/${SECRET_MARKER}>; rel=preload`,
      refresh: `0;url=https://evil.example/${SECRET_MARKER}`,
      'x-accel-redirect': `/internal/${SECRET_MARKER}`,
      'alt-svc': `h3=":443"; ma=${SECRET_MARKER.length}`,
      'strict-transport-security': 'max-age=0',
    },
  });
  browser = app.browser();
  expect((await loginAtVariant(browser)).status).toBe(302);
  evil = await listen(0, '127.0.0.1', 'localhost');
  evil.server.on('connection', () => {
    evilConnections++;
  });
  evil.handle((_req, res) => res.end('{}'));
});
afterAll(async () => {
  await Promise.all([app.close(), evil.close()]);
});

function appPort(): number {
  return app.port;
}

/** A raw request with this browser's cookie and the SPA's headers, `target` and `host` exactly as given. */
function raw(method: string, target: string, extra = '', body = '', host = `localhost:${appPort()}`): ReturnType<typeof rawHttp> {
  const cookie = browser.jar.header(app.origin) as string;
  return rawHttp(
    appPort(),
    `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\nX-CSRF: 1\r\nCookie: ${cookie}\r\nContent-Type: application/json\r\n` +
      `Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2025-11-25\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

describe('only the configured upstream is ever contacted', () => {
  const evilOrigin = () => `http://localhost:${evil.port}`;
  it.each([
    ['/mcp/default/../default', 200],
    ['/mcp/x/../default', 200],
    ['/mcp/%2e%2e/mcp/default', 200],
    ['/mcp/default/%2e%2e/default', 200],
    ['/mcp/default/..%2f..%2fadmin', 404],
    ['/mcp/default/..%5c..%5cadmin', 404],
    ['/mcp//default', 404],
    ['//mcp/default', 404],
    ['/mcp/default/', 404],
    ['/mcp/default/x', 404],
    ['/MCP/default', 404],
    ['/mcp/DEFAULT', 404],
    ['/mcp/%64efault', 200],
    ['/mcp/default%00', 404],
    ['/mcp/default;evil', 404],
    ['/mcp/default%2f..%2f..%2fevil', 404],
    ['/mcp/default?url=http://localhost:EVIL_PORT/', 200],
    ['/mcp/default?target=//localhost:EVIL_PORT', 200],
    ['/mcp/default#http://localhost:EVIL_PORT', 200],
    ['http://localhost:EVIL_PORT/mcp/default', 200],
    ['http://evil.example/mcp/default', 200],
    ['https://localhost:EVIL_PORT/mcp/default', 200],
    ['http://localhost:EVIL_PORT/../mcp/default', 200],
  ])('%s', async (target, status) => {
    const before = app.variant.mcpRequests.length;
    const connections = evilConnections;
    const res = await raw('POST', target.replaceAll('EVIL_PORT', String(evil.port)), '', rpc('tools/list'));
    expect(res.status).toBe(status);
    const sent = app.variant.mcpRequests.slice(before);
    if (status === 200) {
      // Forwarded to exactly the configured URL, without the browser's query or path.
      expect(sent.map((r) => r.url)).toEqual(['/mcp']);
      expect(sent[0]?.headers.host).toBe(new URL(app.variant.url).host);
    } else {
      expect(sent).toEqual([]);
    }
    expect(evilConnections).toBe(connections);
    expect(res.raw).not.toContain(evilOrigin());
  });

  it('Host, X-Forwarded-Host, Forwarded and friends change nothing', async () => {
    const before = app.variant.mcpRequests.length;
    const connections = evilConnections;
    const evilHost = `localhost:${evil.port}`;
    const headers =
      `X-Forwarded-Host: ${evilHost}\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: ${evil.port}\r\nX-Forwarded-Server: ${evilHost}\r\n` +
      `Forwarded: host=${evilHost};proto=http\r\nX-Original-URL: http://${evilHost}/\r\nX-Rewrite-URL: http://${evilHost}/\r\nX-Host: ${evilHost}\r\n`;
    const res = await raw('POST', '/mcp/default', headers, rpc('tools/list'), evilHost);
    expect(res.status).toBe(200);
    expect(app.variant.mcpRequests.slice(before).map((r) => r.url)).toEqual(['/mcp']);
    expect(evilConnections).toBe(connections);
  });

  it('a missing Host and a malformed Host are answered 400 and forward nothing', async () => {
    const before = app.variant.mcpRequests.length;
    const body = rpc('tools/list');
    const noHost = await rawHttp(appPort(), `POST /mcp/default HTTP/1.1\r\nX-CSRF: 1\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    expect(noHost.status).toBe(400);
    for (const host of ['evil.example:abc', 'a b', '[::1', 'localhost:99999999']) {
      const res = await raw('POST', '/mcp/default', '', body, host);
      expect([400, 404]).toContain(res.status);
      expect(res.raw).not.toMatch(/\bat .+\(|node:internal|Error:/);
    }
    expect(app.variant.mcpRequests.length).toBe(before);
  });
});

describe('methods', () => {
  it.each(['PUT', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'HEAD'])('%s → 405 with Allow, nothing forwarded', async (method) => {
    const before = app.variant.mcpRequests.length;
    const res = await raw(method, '/mcp/default', '', method === 'HEAD' ? '' : '{}');
    expect(res.status).toBe(405);
    expect(res.headers).toMatch(/\r\nallow: GET, POST, DELETE\r\n/i);
    expect(res.headers).toMatch(/\r\ncache-control: no-store\r\n/i);
    expect(app.variant.mcpRequests.length).toBe(before);
  });

  it('a method HTTP does not know: 400 from the HTTP parser itself, nothing forwarded', async () => {
    const before = app.variant.mcpRequests.length;
    const res = await raw('FOO', '/mcp/default', '', '{}');
    expect(res.status).toBe(400);
    expect(app.variant.mcpRequests.length).toBe(before);
  });

  it('CONNECT: the connection is refused, nothing forwarded', async () => {
    const before = app.variant.mcpRequests.length;
    const connections = evilConnections;
    const res = await rawHttp(appPort(), `CONNECT localhost:${evil.port} HTTP/1.1\r\nHost: localhost:${evil.port}\r\nX-CSRF: 1\r\n\r\n`, 5_000);
    expect(res.closed).toBe(true);
    expect(res.status).not.toBe(200);
    expect(app.variant.mcpRequests.length).toBe(before);
    expect(evilConnections).toBe(connections);
  });
});

describe('headers', () => {
  it('only MCP’s request headers go upstream; the browser’s Authorization, Cookie and the rest never do', async () => {
    const before = app.variant.mcpRequests.length;
    const cookie = browser.jar.header(app.origin) as string;
    const res = await browser.request('/mcp/default', {
      method: 'POST',
      headers: {
        ...MCP_HEADERS,
        authorization: `Bearer ${SECRET_MARKER}`,
        'proxy-authorization': `Basic ${SECRET_MARKER}`,
        cookie: `${cookie}; other=${SECRET_MARKER}`,
        'x-forwarded-for': SECRET_MARKER,
        'x-real-ip': SECRET_MARKER,
        forwarded: `for=${SECRET_MARKER}`,
        referer: `https://evil.example/${SECRET_MARKER}`,
        'user-agent': SECRET_MARKER,
        'x-custom': SECRET_MARKER,
        'x-api-key': SECRET_MARKER,
        'mcp-method': 'tools/list',
        'last-event-id': 'evt-1',
        via: SECRET_MARKER,
        te: 'trailers',
        'x-http-method-override': 'DELETE',
      },
      body: rpc('tools/list'),
    });
    expect(res.status).toBe(200);
    const sent = app.variant.mcpRequests.slice(before);
    expect(sent).toHaveLength(1);
    const h = sent[0]?.headers ?? {};
    expect(JSON.stringify(h)).not.toContain(SECRET_MARKER);
    expect(h.cookie).toBeUndefined();
    expect(h.authorization).toMatch(/^Bearer at-[0-9a-f]+$/);
    expect(h['x-http-method-override']).toBeUndefined();
    expect(h['mcp-method']).toBe('tools/list');
    expect(h['last-event-id']).toBe('evt-1');
    expect(h['mcp-protocol-version']).toBe('2025-11-25');
    expect(sent[0]?.method).toBe('POST');
  });

  it('nothing of the upstream’s comes back but MCP’s response headers; the BFF’s own security headers win', async () => {
    const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') });
    expect(res.status).toBe(200);
    await res.text();
    const all = [...res.headers.entries()].map(([k, v]) => `${k}: ${v}`).join('\n');
    expect(all).not.toContain(SECRET_MARKER);
    expect(res.headers.getSetCookie()).toEqual([]);
    for (const name of ['x-powered-by', 'server', 'proxy-authenticate', 'link', 'refresh', 'x-accel-redirect', 'alt-svc', 'strict-transport-security']) {
      expect(res.headers.get(name), name).toBeNull();
    }
    // Keep-Alive, if any, is the BFF's own connection's, not the upstream's.
    expect(res.headers.get('keep-alive')).not.toBe('timeout=999');
    expect([...res.headers.keys()].filter((k) => k.startsWith('access-control-'))).toEqual([]);
    expect(res.headers.get('content-security-policy')).toMatch(/^default-src 'self'/);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});

describe('tokens never in a URL', () => {
  it.each(['access_token=at-stolen', 'x=1&access_token=', 'access_token'])('?%s is refused before forwarding', async (query) => {
    const before = app.variant.mcpRequests.length;
    const res = await browser.request(`/mcp/default?${query}`, { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') });
    await expectCleanError(res, 400, 'bad_request', [app.variant.url]);
    expect(app.variant.mcpRequests.length).toBe(before);
  });

  it('no query string of any spelling reaches the upstream, and the bearer token only travels in Authorization', async () => {
    const before = app.variant.mcpRequests.length;
    for (const query of ['ACCESS_TOKEN=x', 'Access_Token=x', 'access%5Ftoken=x', 'token=x', 'bearer=x']) {
      const res = await browser.request(`/mcp/default?${query}`, { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') });
      await res.arrayBuffer();
    }
    const sent = app.variant.mcpRequests.slice(before);
    expect(sent.length).toBeGreaterThan(0);
    for (const r of sent) {
      expect(r.url).toBe('/mcp');
      expect(r.headers.authorization).toMatch(/^Bearer /);
    }
    // Nor in any URL the BFF hands the browser: its session view and login URLs.
    const info = JSON.stringify(await (await browser.request('/bff/session')).json());
    for (const token of app.variant.tokens.keys()) expect(info).not.toContain(token);
  });
});

describe('bodies', () => {
  it('a declared 50 MB body is refused with 413 before a byte of it is sent', async () => {
    const before = app.variant.mcpRequests.length;
    const cookie = browser.jar.header(app.origin) as string;
    // Headers only: the answer must come without the body ever being sent.
    const res = await rawHttp(
      appPort(),
      `POST /mcp/default HTTP/1.1\r\nHost: localhost:${appPort()}\r\nX-CSRF: 1\r\nCookie: ${cookie}\r\nContent-Type: application/json\r\nContent-Length: ${50 * 1024 * 1024}\r\n\r\n`,
      5_000,
    );
    expect(res.status).toBe(413);
    expect(res.raw).toMatch(/"error":"payload_too_large"/);
    expect(app.variant.mcpRequests.length).toBe(before);
  });

  it('a streamed body without Content-Length is cut at the limit: 413, nothing forwarded', async () => {
    const before = app.variant.mcpRequests.length;
    const chunk = new Uint8Array(64 * 1024).fill(0x20);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 8 * 1024 * 1024) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body, duplex: 'half' } as RequestInit);
    await expectCleanError(res, 413, 'payload_too_large');
    expect(app.variant.mcpRequests.length).toBe(before);
    // It stopped reading long before the end.
    expect(sent).toBeLessThan(8 * 1024 * 1024);
  });
});

describe('upstream timeouts', () => {
  it('an MCP server that never answers: 504 in bounded time, the session kept', async () => {
    // A BFF of its own with UPSTREAM_TIMEOUT_MS at 1 s (the shared one allows a slow machine 5 s).
    const hanging = await startVariantApp({}, { UPSTREAM_TIMEOUT_MS: SHORT_TIMEOUTS.UPSTREAM_TIMEOUT_MS });
    try {
      const person = hanging.browser();
      expect((await loginAtVariant(person)).status).toBe(302);
      hanging.variant.faults.mcp = 'hang';
      const started = Date.now();
      const res = await person.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') });
      await expectCleanError(res, 504, 'upstream_timeout', [hanging.variant.url]);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect((await (await person.request('/bff/session')).json()).authenticated).toBe(true);
    } finally {
      await hanging.close();
    }
  });
});

describe('a browser that leaves', () => {
  it('while the MCP server is still thinking: the upstream request is closed at once, not at the timeout', async () => {
    app.variant.faults.mcp = 'hang';
    try {
      const closedBefore = app.variant.hangsClosed.length;
      const forwardedBefore = app.variant.hits.mcp;
      const controller = new AbortController();
      const pending = browser
        .request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list'), signal: controller.signal })
        .catch((error: unknown) => error);
      // Forwarded and waiting (the shared BFF allows the MCP server 5 s).
      await expect.poll(() => app.variant.hits.mcp).toBe(forwardedBefore + 1);
      expect(app.variant.hangsClosed.length).toBe(closedBefore);
      const left = Date.now();
      controller.abort();
      expect(await pending).toMatchObject({ name: 'AbortError' });
      await expect.poll(() => app.variant.hangsClosed.length, { timeout: 4_000 }).toBe(closedBefore + 1);
      expect((app.variant.hangsClosed.at(-1) ?? Number.POSITIVE_INFINITY) - left).toBeLessThan(4_000);
      // Nothing broke for this browser.
      delete app.variant.faults.mcp;
      expect((await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') })).status).toBe(200);
    } finally {
      delete app.variant.faults.mcp;
    }
  });
});

describe('a call whose body is still arriving', () => {
  it('the session and its token are read once the body is in: a logout during a slow upload is seen', async () => {
    const lookups: boolean[] = [];
    let bodyComplete = false;
    const original = app.store.getSessionWithConnection;
    // Nothing in the app's session cache (store/session-cache.ts): its read reaches the store, seen here.
    app.store.changes.listeners.reset();
    app.store.getSessionWithConnection = function (this: typeof app.store, ...args) {
      lookups.push(bodyComplete);
      return original.apply(this, args);
    };
    try {
      const cookie = browser.jar.header(app.origin) as string;
      const body = rpc('tools/list');
      const half = Math.floor(body.length / 2);
      const arrived = new Promise<IncomingMessage>((resolve) => app.server.once('request', resolve));
      const socket = connect(app.port, '127.0.0.1');
      let raw = '';
      socket.on('data', (d) => {
        raw += d.toString('latin1');
      });
      const closed = new Promise((resolve) => socket.on('close', resolve));
      socket.write(
        `POST /mcp/default HTTP/1.1\r\nHost: localhost:${app.port}\r\nX-CSRF: 1\r\nCookie: ${cookie}\r\nContent-Type: application/json\r\n` +
          `Accept: application/json, text/event-stream\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, half)}`,
      );
      const request = await arrived;
      // The BFF is reading the body now: everything that comes before that has run.
      await expect.poll(() => request.listenerCount('data')).toBeGreaterThan(0);
      expect(lookups).toEqual([]);
      bodyComplete = true;
      socket.write(body.slice(half));
      await closed;
      expect(raw).toMatch(/^HTTP\/1\.1 200 /);
      expect(lookups).toEqual([true]);
    } finally {
      app.store.getSessionWithConnection = original;
    }
  });
});

describe('MCP sessions (against the real demo MCP server)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ secondServer: true });
  });
  afterAll(() => stack.close());

  const initialize = initializeMcp;

  it('an MCP session id is usable only from the BFF session that created it', async () => {
    const alice = new TestBrowser(stack.appUrl);
    await alice.login();
    const bob = new TestBrowser(stack.appUrl);
    await bob.login({ user: 'bob' });
    const anonymous = new TestBrowser(stack.appUrl);
    const id = await initialize(alice);
    expect(id).toMatch(/^[\x21-\x7e]+$/);

    const forwarded = stack.mcp.received.length;
    for (const [who, method] of [
      [bob, 'POST'],
      [bob, 'GET'],
      [bob, 'DELETE'],
      [anonymous, 'POST'],
      [anonymous, 'DELETE'],
    ] as const) {
      const res = await who.request('/mcp/default', {
        method,
        headers: { ...MCP_HEADERS, 'mcp-session-id': id },
        ...(method === 'POST' ? { body: rpc('tools/list') } : {}),
      });
      await expectCleanError(res, 404, 'not_found', [stack.mcpUrl]);
    }
    expect(stack.mcp.received.length).toBe(forwarded);

    // Nor at another MCP server, from the very session that created it.
    const second = stack.second?.mcp.received.length;
    const elsewhere = await alice.request('/mcp/notes', { method: 'POST', headers: { ...MCP_HEADERS, 'mcp-session-id': id }, body: rpc('tools/list') });
    await expectCleanError(elsewhere, 404, 'not_found');
    expect(stack.second?.mcp.received.length).toBe(second);

    // After alice logs out, her old MCP session id is worthless even to her new session.
    await alice.request('/bff/logout', { method: 'POST' });
    await alice.login();
    const after = await alice.request('/mcp/default', { method: 'POST', headers: { ...MCP_HEADERS, 'mcp-session-id': id }, body: rpc('tools/list') });
    expect(after.status).toBe(404);
    expect(stack.mcp.received.length).toBe(forwarded);
  });

  it.each([
    ['empty', ''],
    ['257 characters', 'a'.repeat(257)],
    ['a space inside', 'abc def'],
    ['a tab inside', 'abc\tdef'],
    ['non-ASCII', 'abc\u00e9def'],
    ['DEL', 'abc\u007fdef'],
  ])('an Mcp-Session-Id with %s: 400, nothing forwarded', async (_name, value) => {
    const who = new TestBrowser(stack.appUrl);
    await who.login();
    const forwarded = stack.mcp.received.length;
    const cookie = who.jar.header(stack.appUrl) as string;
    const port = Number(new URL(stack.appUrl).port);
    const body = rpc('tools/list');
    const res = await rawHttp(
      port,
      `POST /mcp/default HTTP/1.1\r\nHost: localhost:${port}\r\nX-CSRF: 1\r\nCookie: ${cookie}\r\nContent-Type: application/json\r\n` +
        `Accept: application/json, text/event-stream\r\nMcp-Session-Id: ${value}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    expect(res.status).toBe(400);
    expect(stack.mcp.received.length).toBe(forwarded);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../../demo/src/stack.js';
import { expectCleanError, rawHttp } from './hostile-support.js';
import { INITIALIZE, MCP_HEADERS, rpc, TestBrowser } from './support.js';

/**
 * Requests another site can make the browser send (with its cookies, where SameSite lets them through):
 * refused at the CSRF check, before anything is forwarded or changed. The BFF answers no CORS at all.
 */

let stack: Stack;
let victim: TestBrowser;
beforeAll(async () => {
  stack = await startStack();
  victim = new TestBrowser(stack.appUrl);
  await victim.login();
});
afterAll(() => stack.close());

const EVIL = 'https://evil.example';

interface Target {
  name: string;
  method: string;
  path: string;
  body?: string;
  headers?: Record<string, string>;
}

const TARGETS: Target[] = [
  { name: 'POST /mcp/default', method: 'POST', path: '/mcp/default', body: rpc('tools/list'), headers: MCP_HEADERS },
  { name: 'GET /mcp/default (SSE)', method: 'GET', path: '/mcp/default', headers: { accept: 'text/event-stream' } },
  { name: 'DELETE /mcp/default', method: 'DELETE', path: '/mcp/default' },
  { name: 'POST /bff/logout', method: 'POST', path: '/bff/logout' },
  { name: 'POST /bff/logout?server=default (one server)', method: 'POST', path: '/bff/logout?server=default' },
  { name: 'GET /bff/session', method: 'GET', path: '/bff/session' },
];

/** Header sets a browser would send from another site (or that a forger would try), each without a way in. */
const ATTACKS: Array<[string, Record<string, string>, { csrf: boolean }]> = [
  ['no X-CSRF', {}, { csrf: false }],
  ['X-CSRF: 0', { 'x-csrf': '0' }, { csrf: false }],
  ['X-CSRF: true', { 'x-csrf': 'true' }, { csrf: false }],
  ['X-CSRF empty', { 'x-csrf': '' }, { csrf: false }],
  ['X-CSRF: 1, 1', { 'x-csrf': '1, 1' }, { csrf: false }],
  ['a foreign Origin', { origin: EVIL }, { csrf: true }],
  ['Origin: null', { origin: 'null' }, { csrf: true }],
  ['the app’s host on another port', { origin: 'http://localhost:1' }, { csrf: true }],
  ['the app’s port on another host', { origin: 'http://127.0.0.1:APP_PORT' }, { csrf: true }],
  ['the app’s origin over https', { origin: 'https://localhost:APP_PORT' }, { csrf: true }],
  ['the app’s origin with a path', { origin: 'APP_ORIGIN/' }, { csrf: true }],
  ['the app’s origin and another, joined', { origin: `APP_ORIGIN, ${EVIL}` }, { csrf: true }],
  ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }, { csrf: true }],
  ['Sec-Fetch-Site: same-site (a sibling subdomain)', { 'sec-fetch-site': 'same-site' }, { csrf: true }],
  ['Sec-Fetch-Site: none', { 'sec-fetch-site': 'none' }, { csrf: true }],
  ['a simple text/plain POST from a form', { 'content-type': 'text/plain', origin: EVIL, 'sec-fetch-site': 'cross-site' }, { csrf: false }],
  ['a simple form-urlencoded POST', { 'content-type': 'application/x-www-form-urlencoded', origin: EVIL, 'sec-fetch-site': 'cross-site' }, { csrf: false }],
  ['a simple multipart POST', { 'content-type': 'multipart/form-data; boundary=x', origin: EVIL, 'sec-fetch-site': 'cross-site' }, { csrf: false }],
  ['a no-cors fetch (opaque, same headers as a form)', { 'content-type': 'text/plain', origin: EVIL, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' }, { csrf: false }],
  ['a text/plain POST from the same origin without X-CSRF', { 'content-type': 'text/plain', origin: 'APP_ORIGIN', 'sec-fetch-site': 'same-origin' }, { csrf: false }],
];

function fill(headers: Record<string, string>): Record<string, string> {
  const url = new URL(stack.appUrl);
  return Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [k, v.replaceAll('APP_ORIGIN', stack.appUrl).replaceAll('APP_PORT', url.port)]),
  );
}

describe('refused before anything is forwarded or changed', () => {
  for (const target of TARGETS) {
    it.each(ATTACKS)(`${target.name}: %s`, async (_name, attack, { csrf }) => {
      const forwarded = stack.mcp.received.length;
      const revocations = stack.as.revocations.length;
      const sid = await victim.sessionId();
      const res = await victim.request(target.path, {
        method: target.method,
        headers: { ...target.headers, ...fill(attack) },
        ...(target.body !== undefined ? { body: target.body } : {}),
        csrf,
      });
      await expectCleanError(res, 403, 'csrf_failed', [stack.mcpUrl, stack.issuer]);
      expect(res.headers.getSetCookie()).toEqual([]);
      expect([...res.headers.keys()].filter((k) => k.startsWith('access-control-'))).toEqual([]);
      expect(stack.mcp.received.length).toBe(forwarded);
      expect(stack.as.revocations.length).toBe(revocations);
      expect(await stack.store.getSession(sid)).toBeDefined();
      expect(await stack.store.getConnection(sid, 'default')).toBeDefined();
      expect((await victim.session()).authenticated).toBe(true);
    });
  }

  it('a request with X-CSRF, the app’s Origin and Sec-Fetch-Site: same-origin goes through (the control)', async () => {
    const res = await victim.request('/bff/session', { headers: { origin: stack.appUrl, 'sec-fetch-site': 'same-origin' } });
    expect(res.status).toBe(200);
    expect((await res.json()).authenticated).toBe(true);
  });

  it('two Origin headers (the app’s and a foreign one) over a raw connection', async () => {
    const port = new URL(stack.appUrl).port;
    const cookie = victim.jar.header(stack.appUrl) as string;
    const forwarded = stack.mcp.received.length;
    const body = rpc('tools/list');
    const res = await rawHttp(
      Number(port),
      `POST /mcp/default HTTP/1.1\r\nHost: localhost:${port}\r\nOrigin: ${stack.appUrl}\r\nOrigin: ${EVIL}\r\nX-CSRF: 1\r\nCookie: ${cookie}\r\n` +
        `Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    expect(res.status).toBe(403);
    expect(stack.mcp.received.length).toBe(forwarded);
  });
});

describe('no CORS', () => {
  const PATHS = ['/mcp/default', '/mcp/other', '/bff/logout', '/bff/session', '/bff/login', '/bff/callback', '/bff/oauth-client.json', '/', '/healthz'];

  it.each(PATHS)('a preflight for %s from another origin gets no Access-Control-Allow-*', async (path) => {
    for (const origin of [EVIL, 'null', stack.appUrl]) {
      const res = await fetch(`${stack.appUrl}${path}`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'x-csrf, content-type, mcp-session-id',
          'access-control-request-private-network': 'true',
        },
      });
      await res.arrayBuffer();
      expect([...res.headers.keys()].filter((k) => k.startsWith('access-control-'))).toEqual([]);
      expect(res.status).not.toBe(204);
    }
  });

  it('ordinary answers carry no Access-Control-* either, whatever the Origin', async () => {
    const answers = [
      await victim.request('/bff/session', { headers: { origin: EVIL } }),
      await victim.request('/bff/session'),
      await victim.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE }),
      await fetch(`${stack.appUrl}/healthz`, { headers: { origin: EVIL } }),
    ];
    for (const res of answers) {
      await res.arrayBuffer();
      expect([...res.headers.keys()].filter((k) => k.startsWith('access-control-'))).toEqual([]);
    }
  });
});

describe('logout only by a same-origin POST', () => {
  it.each([
    ['a cross-site GET (an <img>, a link)', { origin: EVIL, 'sec-fetch-site': 'cross-site' }, false],
    ['a GET even with X-CSRF', {}, true],
    ['a HEAD', {}, true],
  ])('%s does nothing', async (name, headers, csrf) => {
    const sid = await victim.sessionId();
    const revocations = stack.as.revocations.length;
    const res = await victim.request('/bff/logout', { method: name.includes('HEAD') ? 'HEAD' : 'GET', headers, csrf });
    expect(res.status).toBe(404);
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(await stack.store.getSession(sid)).toBeDefined();
    expect(stack.as.revocations.length).toBe(revocations);
    expect((await victim.session()).authenticated).toBe(true);
  });
});

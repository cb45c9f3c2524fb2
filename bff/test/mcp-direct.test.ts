import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../../demo/src/stack.js';
import { directMcpServer } from '../src/app.js';
import { createLogger } from '../src/log.js';
import { INITIALIZE, MCP_HEADERS, rpc, TestBrowser } from './support.js';

/**
 * On Node, /mcp/<server id> is served without Hono's router (app.ts `directMcpServer`); every other
 * spelling of the same route goes through Hono. A percent-encoded letter in the id is such a spelling:
 * Hono decodes it to the same id, so each check below is made both ways and must answer the same.
 */
describe('directMcpServer', () => {
  it.each([
    ['/mcp/default', 'default'],
    ['/mcp/default?x=1', 'default'],
    ['/mcp/a_b-9', 'a_b-9'],
    ['/mcp/default/', undefined],
    ['/mcp/default/more', undefined],
    ['/mcp/Default', undefined],
    ['/mcp/%64efault', undefined],
    ['/mcp/', undefined],
    ['/mcp', undefined],
    ['/mcp/-x', undefined],
    [`/mcp/${'a'.repeat(33)}`, undefined],
    ['http://localhost/mcp/default', undefined],
    ['//mcp/default', undefined],
    ['/bff/mcp/default', undefined],
  ])('%s → %s', (url, id) => {
    expect(directMcpServer({ method: 'POST', url, headers: { host: 'localhost:3000' } })).toBe(id);
  });
  it.each([undefined, '', 'Localhost', 'a b', 'evil.example:abc', '[::1', 'localhost:99999999', 'localhost:80'])('not with Host %s: the adapter checks it', (host) => {
    expect(directMcpServer({ method: 'POST', url: '/mcp/default', headers: host === undefined ? {} : { host } })).toBeUndefined();
  });
  it.each(['example.com', 'bff.example.com:8443', '127.0.0.1:3000'])('with Host %s', (host) => {
    expect(directMcpServer({ method: 'POST', url: '/mcp/default', headers: { host } })).toBe('default');
  });
  it.each(['GET', 'DELETE'])('%s too', (method) => {
    expect(directMcpServer({ method, url: '/mcp/default', headers: { host: 'localhost:3000' } })).toBe('default');
  });
  it.each(['HEAD', 'PUT', 'OPTIONS', 'PATCH'])('not %s: it goes through Hono', (method) => {
    expect(directMcpServer({ method, url: '/mcp/default', headers: { host: 'localhost:3000' } })).toBeUndefined();
  });
});

describe('the direct /mcp route answers as the Hono route does', () => {
  let stack: Stack;
  const lines: Array<Record<string, unknown>> = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    stack = await startStack({ log: createLogger('info', sink) });
  });
  afterAll(() => stack.close());

  const DIRECT = '/mcp/default';
  const ROUTED = '/mcp/%64efault';
  const SECURITY = ['content-security-policy', 'x-content-type-options', 'referrer-policy', 'x-frame-options', 'cross-origin-opener-policy', 'cross-origin-resource-policy', 'permissions-policy'];

  /** What a test compares between the two paths: status, JSON body without its request id, and the headers that matter. */
  async function answer(res: Response) {
    const requestId = res.headers.get('x-request-id');
    const type = res.headers.get('content-type') ?? '';
    const body = type.startsWith('application/json') ? ((await res.json()) as Record<string, unknown>) : await res.text();
    if (typeof body === 'object' && 'requestId' in body) {
      expect(body.requestId).toBe(requestId);
      delete body.requestId;
    }
    if (typeof body === 'object' && 'id' in body) delete body.id;
    return {
      status: res.status,
      body,
      type,
      requestId: requestId !== null,
      security: SECURITY.map((name) => res.headers.get(name)),
      cacheControl: res.headers.get('cache-control'),
      allow: res.headers.get('allow'),
    };
  }

  it('proxies a call with the session’s token', async () => {
    const browser = new TestBrowser(stack.appUrl);
    await browser.login();
    const call = { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE };
    const direct = await answer(await browser.request(DIRECT, call));
    const routed = await answer(await browser.request(ROUTED, call));
    expect(direct.status).toBe(200);
    expect(direct).toEqual(routed);
    expect(direct.security.every((value) => value !== null)).toBe(true);
  });

  it.each([
    ['without the CSRF header', 'POST', DIRECT, ROUTED, { csrf: false }, 403],
    ['for a server that is not configured', 'POST', '/mcp/nope', '/mcp/%6Eope', {}, 404],
    ['with a method the proxy refuses', 'PUT', DIRECT, ROUTED, {}, 405],
    ['with a token in the query', 'POST', `${DIRECT}?access_token=x`, `${ROUTED}?access_token=x`, {}, 400],
  ] as const)('refuses a request %s the same way', async (_what, method, direct, routed, options, status) => {
    const browser = new TestBrowser(stack.appUrl);
    const init = { method, headers: MCP_HEADERS, body: rpc('tools/list'), ...options };
    const a = await answer(await browser.request(direct, init));
    const b = await answer(await browser.request(routed, init));
    expect(a.status).toBe(status);
    expect(a).toEqual(b);
    expect(a.security.every((value) => value !== null)).toBe(true);
    expect(a.cacheControl).toBe('no-store');
  });

  it('logs each request once, with its path, status and request id', async () => {
    const browser = new TestBrowser(stack.appUrl);
    const res = await browser.request(DIRECT, { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list'), csrf: false });
    await res.arrayBuffer();
    const id = res.headers.get('x-request-id');
    const logged = lines.filter((line) => line.event === 'request' && line.reqId === id);
    expect(logged).toEqual([expect.objectContaining({ method: 'POST', path: DIRECT, status: 403 })]);
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../../bff/test/hostile-support.js';
import { TestBrowser } from '../../bff/test/support.js';

/**
 * The Resources page's loader, in Node through the real BFF, against a server that declares resources
 * but answers `resources/templates/list` with "method not found" (as some do): the resources are
 * still listed and the missing list says so, instead of the whole page failing. A fake MCP server, for
 * a fault the demo server cannot show; no authorization (the BFF forwards without a token).
 */

let mcp: Server;
let app: TestApp;
const realFetch = globalThis.fetch;

beforeAll(async () => {
  mcp = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      if (req.method !== 'POST') {
        res.writeHead(405).end();
        return;
      }
      const message = JSON.parse(body) as { id?: number; method: string };
      if (message.id === undefined) {
        res.writeHead(202).end();
        return;
      }
      const answer = (payload: Record<string, unknown>, status = 200) => {
        res.writeHead(status, { 'content-type': 'application/json', 'mcp-session-id': 'fake-session' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: message.id, ...payload }));
      };
      if (message.method === 'initialize') {
        answer({ result: { protocolVersion: '2025-11-25', capabilities: { resources: {} }, serverInfo: { name: 'partial', version: '1' } } });
      } else if (message.method === 'resources/list') {
        answer({ result: { resources: [{ uri: 'demo://one', name: 'One' }] } });
      } else if (message.method === 'server/discover') {
        // A 2025-11-25 server: a modern request without a session is refused the old way.
        answer({ error: { code: -32000, message: 'Bad Request: Mcp-Session-Id header is required' } }, 400);
      } else {
        answer({ error: { code: -32601, message: 'Method not found' } });
      }
    });
  });
  await new Promise<void>((resolve) => mcp.listen(0, '127.0.0.1', resolve));
  app = await startApp(`http://127.0.0.1:${(mcp.address() as AddressInfo).port}/mcp`);
  // What the page has that Node does not: its origin, and a fetch with the browser's cookie jar.
  const browser = new TestBrowser(app.origin);
  Object.assign(globalThis, { window: { location: { origin: app.origin } } });
  globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input), app.origin);
    const headers = new Headers(init?.headers);
    const cookie = browser.jar.header(url);
    if (cookie) headers.set('cookie', cookie);
    const res = await realFetch(url, { ...init, headers, redirect: 'manual' });
    browser.jar.store(url, res.headers);
    return res;
  }) as typeof fetch;
});
afterAll(async () => {
  globalThis.fetch = realFetch;
  await app.close();
  await new Promise<void>((resolve) => mcp.close(() => resolve()));
});

describe('a server without resources/templates/list', () => {
  it('still shows its resources; the missing list says why', async () => {
    const { loader } = await import('../src/routes/resources.js');
    const data = (await loader({
      params: { server: 'default' },
      request: new Request(`${app.origin}/servers/default/resources`),
      context: {},
    } as unknown as Parameters<typeof loader>[0])) as Awaited<ReturnType<typeof loader>>;
    expect(data.resources.items.map((r) => r.uri)).toEqual(['demo://one']);
    expect(data.resources.nextCursor).toBeUndefined();
    expect(data.resourcesError).toBeUndefined();
    expect(data.templates.items).toEqual([]);
    expect(data.templatesError).toMatch(/Method not found/);
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../../bff/test/hostile-support.js';
import { TestBrowser } from '../../bff/test/support.js';

/**
 * The pages' list calls (web/src/calls.ts), in Node through the real BFF, against a server whose paging
 * goes wrong in ways the demo server's does not: it hands out the same cursor for ever, its tool pages
 * never end, its cursor is not a string, it refuses a cursor it gave. Each is bounded and says what
 * happened; nothing hangs. A fake MCP server (2025-11-25, no authorization), for faults only.
 */

let mcp: Server;
let app: TestApp;
const realFetch = globalThis.fetch;
const requests: Record<string, number> = {};

type Answer = { result: Record<string, unknown> } | { error: { code: number; message: string } };

function list(method: string, cursor: string | undefined): Answer {
  if (method === 'resources/list') {
    // Every cursor leads to the same cursor again.
    return { result: { resources: [{ uri: `demo://${cursor ?? 'first'}`, name: 'item' }], nextCursor: 'round' } };
  }
  if (method === 'tools/list') {
    // A new cursor every time, for ever.
    const n = cursor === undefined ? 0 : Number(cursor.slice(1));
    return { result: { tools: [{ name: `tool-${n}`, inputSchema: { type: 'object' } }], nextCursor: `c${n + 1}` } };
  }
  if (method === 'prompts/list') return { result: { prompts: [{ name: 'one' }], nextCursor: 42 } };
  if (method === 'resources/templates/list') {
    return cursor === undefined
      ? { result: { resourceTemplates: [{ uriTemplate: 'demo://t/{id}', name: 't' }], nextCursor: 'gone' } }
      : { error: { code: -32602, message: 'Invalid cursor' } };
  }
  return { error: { code: -32601, message: 'Method not found' } };
}

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
      const message = JSON.parse(body) as { id?: number; method: string; params?: { cursor?: string } };
      if (message.id === undefined) {
        res.writeHead(202).end();
        return;
      }
      requests[message.method] = (requests[message.method] ?? 0) + 1;
      const answer = (payload: Answer, status = 200) => {
        res.writeHead(status, { 'content-type': 'application/json', 'mcp-session-id': 'fake-session' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: message.id, ...payload }));
      };
      if (message.method === 'initialize') {
        answer({
          result: {
            protocolVersion: '2025-11-25',
            capabilities: { resources: {}, tools: {}, prompts: {} },
            serverInfo: { name: 'looping', version: '1' },
          },
        });
      } else if (message.method === 'server/discover') {
        answer({ error: { code: -32000, message: 'Bad Request: Mcp-Session-Id header is required' } }, 400);
      } else {
        answer(list(message.method, message.params?.cursor));
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

describe('paging that goes wrong', () => {
  it('a cursor handed out again stops the list there, with the reason, and the next pages it had', async () => {
    const { getListPages, getNextListPage } = await import('../src/calls.js');
    const first = await getListPages('default', 'resources');
    expect(first.nextCursor).toBe('round');
    const second = await getNextListPage('default', first);
    expect(second.items.map((r) => r.uri)).toEqual(['demo://first', 'demo://round']);
    expect(second.nextCursor).toBeUndefined();
    expect(second.stopped).toMatch(/already given/);
    // What the page comes back to is the list as far as it went, not another round.
    expect(await getListPages('default', 'resources')).toBe(second);
    expect(await getNextListPage('default', second)).toBe(second);
    expect(requests['resources/list']).toBe(2);
  });

  it('a tool looked for on pages that never end is given up on, saying so', async () => {
    const { findTool, getListPages } = await import('../src/calls.js');
    await expect(findTool('default', 'tool-3')).resolves.toMatchObject({ name: 'tool-3' });
    const before = requests['tools/list'] ?? 0;
    await expect(findTool('default', 'no-such-tool')).rejects.toThrow(/Looked through \d+ pages/);
    expect((requests['tools/list'] ?? 0) - before).toBe(200);
    // What was loaded on the way is there for the tools page.
    expect((await getListPages('default', 'tools')).items.length).toBeGreaterThan(200);
  });

  it('a cursor that is not a string fails the page with the reason', async () => {
    const { getListPages } = await import('../src/calls.js');
    await expect(getListPages('default', 'prompts')).rejects.toThrow(/nextCursor/);
  });

  it('a cursor the server refuses fails that page only; what is loaded stays', async () => {
    const { getListPages, getNextListPage } = await import('../src/calls.js');
    const first = await getListPages('default', 'resourceTemplates');
    await expect(getNextListPage('default', first)).rejects.toThrow(/Invalid cursor/);
    expect(await getListPages('default', 'resourceTemplates')).toBe(first);
  });
});

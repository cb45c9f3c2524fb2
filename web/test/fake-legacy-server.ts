import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startApp } from '../../bff/test/hostile-support.js';
import { TestBrowser } from '../../bff/test/support.js';
import { pageFetch } from './page-fetch.js';

/**
 * For faults the demo server cannot show: a fake MCP server that speaks 2025-11-25 only (no
 * authorization: the BFF forwards without a token), behind the real BFF, and the page's view of it
 * in Node — `window.location.origin` and a `fetch` that carries the browser's cookies.
 */
export type Answer = { result: Record<string, unknown> } | { error: { code: number; message: string } };

export interface FakeLegacyServer {
  /** The server's name in its initialize result. */
  name: string;
  capabilities: Record<string, unknown>;
  /** The answer to any request other than initialize and server/discover. */
  answer: (method: string, params: { cursor?: string } | undefined) => Answer;
}

/** Starts the fake server and a BFF for it, and points the page's globals at the BFF; `close` undoes it all. */
export async function startFakeLegacyApp(fake: FakeLegacyServer): Promise<{ origin: string; close(): Promise<void> }> {
  const mcp = createServer((req, res) => {
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
      const send = (payload: Answer, status = 200) => {
        res.writeHead(status, { 'content-type': 'application/json', 'mcp-session-id': 'fake-session' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: message.id, ...payload }));
      };
      if (message.method === 'initialize') {
        send({ result: { protocolVersion: '2025-11-25', capabilities: fake.capabilities, serverInfo: { name: fake.name, version: '1' } } });
      } else if (message.method === 'server/discover') {
        // A 2025-11-25 server: a modern request without a session is refused the old way.
        send({ error: { code: -32000, message: 'Bad Request: Mcp-Session-Id header is required' } }, 400);
      } else {
        send(fake.answer(message.method, message.params));
      }
    });
  });
  await new Promise<void>((resolve) => mcp.listen(0, '127.0.0.1', resolve));
  const app = await startApp(`http://127.0.0.1:${(mcp.address() as AddressInfo).port}/mcp`);
  const realFetch = globalThis.fetch;
  const browser = new TestBrowser(app.origin);
  Object.assign(globalThis, { window: { location: { origin: app.origin } } });
  globalThis.fetch = pageFetch(browser, realFetch);
  return {
    origin: app.origin,
    async close() {
      globalThis.fetch = realFetch;
      await app.close();
      await new Promise<void>((resolve) => mcp.close(() => resolve()));
    },
  };
}

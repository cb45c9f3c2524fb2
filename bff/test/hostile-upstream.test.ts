import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanError, startApp, type TestApp } from './hostile-support.js';
import { MCP_HEADERS, rpc } from './support.js';

/**
 * An MCP server that answers with bytes no well-behaved server sends: the browser gets a clear error,
 * and the BFF keeps no connection to it (nothing is drained for ever, nothing is held paused).
 */

/** What the raw MCP server writes once it has read a request; it never closes a connection itself. */
let answer = '';
let upstream: Server;
let upstreamUrl = '';
const upstreamSockets = new Set<Socket>();
let app: TestApp;

beforeAll(async () => {
  upstream = createServer((socket) => {
    upstreamSockets.add(socket);
    socket.on('close', () => upstreamSockets.delete(socket));
    socket.on('error', () => {});
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) return;
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(buffered.slice(0, end))?.[1] ?? 0);
      if (buffered.length < end + 4 + length) return;
      buffered = buffered.slice(end + 4 + length);
      socket.write(Buffer.from(answer, 'latin1'));
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const address = upstream.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  upstreamUrl = `http://127.0.0.1:${address.port}/mcp`;

  app = await startApp(upstreamUrl, {}, 'info');
});
afterAll(async () => {
  await app.close();
  for (const socket of upstreamSockets) socket.destroy();
  await new Promise((resolve) => upstream.close(resolve));
});

async function call(): Promise<Response> {
  app.logs.length = 0;
  return app.browser().request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') });
}

describe('hostile answers from the MCP server', () => {
  it('a 401 whose body never ends: the browser is told to log in, and the BFF closes the connection instead of reading on', async () => {
    answer =
      'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="mcp"\r\nContent-Type: text/event-stream\r\n' +
      'Transfer-Encoding: chunked\r\n\r\n5\r\n: x\n\n\r\n';
    const res = await call();
    expect(res.status).toBe(401);
    expect((await res.json()).error).toBe('login_required');
    await expect.poll(() => upstreamSockets.size).toBe(0);
  });

  it('a status code past 599: 502, and the connection is closed', async () => {
    answer = 'HTTP/1.1 999 Whatever\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n';
    const res = await call();
    await expectCleanError(res, 502, 'upstream_unavailable');
    await expect.poll(() => upstreamSockets.size).toBe(0);
  });

  it('a header value with a control character (DEL): 502, and the connection is closed', async () => {
    answer = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\x7f\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n';
    const res = await call();
    await expectCleanError(res, 502, 'upstream_unavailable');
    await expect.poll(() => upstreamSockets.size).toBe(0);
    // The MCP server's fault, not a failure of the BFF's.
    expect(app.logs.join('')).not.toMatch(/unhandled_error/);
  });
});

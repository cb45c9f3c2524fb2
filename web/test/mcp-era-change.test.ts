import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBrowser } from '../../bff/test/support.js';
import { type Stack, startStack } from '../../demo/src/stack.js';
import { pageFetch } from './page-fetch.js';

/**
 * The SPA's per-server client module (web/src/mcp.ts) when the server changes era under it, as a
 * server being upgraded or rolled back does: the next call notices, negotiates once from scratch, and
 * goes on in the new era without the person doing anything. Run in Node against the real BFF and demo
 * server; the page's `window.location` and `fetch` are the only stand-ins (the browser's cookie jar).
 */

let stack: Stack;
let browser: TestBrowser;
let mcp: typeof import('../src/mcp.js');
const realFetch = globalThis.fetch;

beforeAll(async () => {
  stack = await startStack({ mcpProtocols: 'both' });
  browser = new TestBrowser(stack.appUrl);
  await browser.login({ user: 'alice' });
  // What the page has that Node does not: its origin, and a fetch that carries the session cookie.
  Object.assign(globalThis, { window: { location: { origin: stack.appUrl } } });
  globalThis.fetch = pageFetch(browser, realFetch);
  mcp = await import('../src/mcp.js');
  mcp.noteConnections([{ server: 'default', name: 'Demo MCP server', status: 'connected', protocol: 'auto' }]);
});
afterAll(async () => {
  await mcp?.closeAllClients();
  globalThis.fetch = realFetch;
  await stack.close();
});

async function echo(message: string): Promise<string> {
  const result = await mcp.withClient('default', (client) => client.callTool({ name: 'echo', arguments: { message } }));
  return JSON.stringify(result.content);
}

describe('a server that changes era between requests', () => {
  it('rolled back to 2025-11-25: the next call negotiates again and succeeds in the old era', async () => {
    expect((await mcp.serverFacts('default')).era).toBe('modern');
    expect(await echo('one')).toContain('one');

    stack.mcp.setProtocols('2025-11-25');
    expect(await echo('two')).toContain('two');
    expect((await mcp.serverFacts('default')).protocolVersion).toBe('2025-11-25');
  });

  it('upgraded to speak only 2026-07-28: its refusal of the old session leads back to the new era', async () => {
    stack.mcp.setProtocols('2026-07-28');
    expect(await echo('three')).toContain('three');
    expect((await mcp.serverFacts('default')).era).toBe('modern');
  });

  it('an ordinary error is not mistaken for an era change: one request, no reconnect', async () => {
    const before = stack.mcp.received.length;
    const error = await mcp.withClient('default', (client) => client.callTool({ name: 'no_such_tool', arguments: {} })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    // The call and nothing else: no server/discover, no initialize, no retry.
    expect(stack.mcp.received.length - before).toBe(1);
    expect((await mcp.serverFacts('default')).era).toBe('modern');
  });
});

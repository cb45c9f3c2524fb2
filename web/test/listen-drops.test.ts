import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TestBrowser } from '../../bff/test/support.js';
import { type Stack, startStack } from '../../demo/src/stack.js';
import { pageFetch } from './page-fetch.js';

/**
 * The SPA's 2026-07-28 listen stream (web/src/mcp.ts) when it is dropped: the page listens again after
 * a pause, unless it is being left. A browser drops a page's streams as it leaves the page, before the
 * page hears of it (pagehide); listening again at once sent a subscriptions/listen that the BFF
 * forwarded to the MCP server for nobody. Run in Node against the real BFF and demo server; the page's
 * `window` (an event target with an origin) and `fetch` (the browser's cookie jar, and a network that
 * can drop a stream) are the stand-ins.
 */

const PAUSE_MS = 1_000;

let stack: Stack;
let browser: TestBrowser;
let mcp: typeof import('../src/mcp.js');
const realFetch = globalThis.fetch;
const page = Object.assign(new EventTarget(), { location: { origin: '' } });

/** Every subscriptions/listen the page sent, when, and the way to drop its stream as a network would. */
const listens: Array<{ at: number; drop: () => void }> = [];

/** The listen requests that reached the MCP server. */
function listensReceived(): number {
  return stack.mcp.received.filter((r) => r.headers['mcp-method'] === 'subscriptions/listen').length;
}

beforeAll(async () => {
  stack = await startStack({ mcpProtocols: '2026-07-28' });
  browser = new TestBrowser(stack.appUrl);
  await browser.login({ user: 'alice' });
  page.location.origin = stack.appUrl;
  Object.assign(globalThis, { window: page });
  globalThis.fetch = pageFetch(browser, realFetch, (headers, init) => {
    if (headers.get('mcp-method') !== 'subscriptions/listen') return init;
    const network = new AbortController();
    listens.push({ at: performance.now(), drop: () => network.abort(new TypeError('network error')) });
    return { ...init, signal: init.signal ? AbortSignal.any([init.signal, network.signal]) : network.signal };
  });
  mcp = await import('../src/mcp.js');
  mcp.noteConnections([{ server: 'default', name: 'Demo MCP server', status: 'connected', protocol: 'auto' }]);
  await mcp.withClient('default', (client) => client.listTools());
  await vi.waitFor(() => {
    expect(listens).toHaveLength(1);
    expect(listensReceived()).toBe(1);
  });
});

afterAll(async () => {
  await mcp?.closeAllClients();
  globalThis.fetch = realFetch;
  Reflect.deleteProperty(globalThis, 'window');
  await stack?.close();
});

describe('a dropped listen stream', () => {
  it('is not listened to again while the page is being left; a page back from the back/forward cache listens again', async () => {
    // As a browser does it: the stream is dropped, then the page hears it is being left. A first drop
    // would be listened to again after one pause; a timer set now for two pauses fires after that one.
    (listens[0] as (typeof listens)[number]).drop();
    page.dispatchEvent(new Event('pagehide'));
    await new Promise((resolve) => setTimeout(resolve, 2 * PAUSE_MS));
    expect(listens).toHaveLength(1);
    expect(listensReceived()).toBe(1);

    page.dispatchEvent(new Event('pageshow'));
    await expect.poll(() => listens.length).toBe(2);
    await expect.poll(listensReceived).toBe(2);
    // And it is a working stream: a call still goes through next to it.
    expect(JSON.stringify((await mcp.withClient('default', (client) => client.callTool({ name: 'echo', arguments: { message: 'back' } }))).content)).toContain('back');
  });

  it('is listened to again, not at once but after a pause that doubles with each drop in a row', async () => {
    const dropped = performance.now();
    (listens[1] as (typeof listens)[number]).drop();
    await expect.poll(() => listens.length, { timeout: 5_000 }).toBe(3);
    expect((listens[2] as (typeof listens)[number]).at - dropped).toBeGreaterThanOrEqual(PAUSE_MS - 5);
    await expect.poll(listensReceived).toBe(3);

    const droppedAgain = performance.now();
    (listens[2] as (typeof listens)[number]).drop();
    await expect.poll(() => listens.length, { timeout: 8_000 }).toBe(4);
    expect((listens[3] as (typeof listens)[number]).at - droppedAgain).toBeGreaterThanOrEqual(2 * PAUSE_MS - 5);
    await expect.poll(listensReceived).toBe(4);
  });
});

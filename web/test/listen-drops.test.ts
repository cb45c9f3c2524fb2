import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TestBrowser } from '../../bff/test/support.js';
import { type Stack, startStack } from '../../demo/src/stack.js';
import { pageFetch } from './page-fetch.js';

/**
 * The SPA's 2026-07-28 listen stream (web/src/mcp.ts) when it is dropped or cannot be opened: the page
 * listens again after a pause, unless it is being left. A browser drops a page's streams as it leaves
 * the page, before the page hears of it (pagehide); listening again at once sent a subscriptions/listen
 * that the BFF forwarded to the MCP server for nobody. Changes to the stream run one at a time and keep
 * the old stream until the new one is open. Run in Node against the real BFF and demo server; the
 * page's `window` (an event target with an origin) and `fetch` (the browser's cookie jar, and a network
 * that can fail a request or drop a stream) are the stand-ins. The tests run in order, on one page.
 */

const PAUSE_MS = 1_000;

let stack: Stack;
let browser: TestBrowser;
let mcp: typeof import('../src/mcp.js');
const realFetch = globalThis.fetch;
const page = Object.assign(new EventTarget(), { location: { origin: '' } });

/**
 * Every subscriptions/listen the page sent: when, whether the page has heard the server acknowledge it
 * (the stream is open), the way to drop its stream as a network would, and whether the page closed it.
 */
const listens: Array<{ at: number; acked: Promise<void>; drop: () => void; closedByPage: boolean }> = [];
/** Faults for the next listen requests, in order: fail before it goes out, or drop before the ack is read. */
const faults: Array<'fail' | 'drop before ack'> = [];

/** The listen requests that reached the MCP server. */
function listensReceived(): number {
  return stack.mcp.received.filter((r) => r.headers['mcp-method'] === 'subscriptions/listen').length;
}

/** The n-th listen request, once the page has sent it. */
async function listen(n: number): Promise<(typeof listens)[number]> {
  return vi.waitFor(
    () => {
      const sent = listens[n];
      if (!sent) throw new Error(`listen request ${n} not sent yet`);
      return sent;
    },
    { timeout: 10_000, interval: 10 },
  );
}

/** The page's fetch, which sees each listen stream through and can break it. */
function listenAwareFetch(appFetch: typeof fetch): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    if (new Headers(init?.headers).get('mcp-method') !== 'subscriptions/listen') return appFetch(input, init);
    const network = new AbortController();
    let acked = () => {};
    const sent = {
      at: performance.now(),
      acked: new Promise<void>((resolve) => {
        acked = resolve;
      }),
      drop: () => network.abort(new TypeError('network error')),
      closedByPage: false,
    };
    listens.push(sent);
    init?.signal?.addEventListener('abort', () => {
      sent.closedByPage = true;
    });
    const fault = faults.shift();
    if (fault === 'fail') throw new TypeError('network error');
    const res = await appFetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, network.signal]) : network.signal });
    if (fault === 'drop before ack') network.abort(new TypeError('network error'));
    if (!res.body) return res;
    const decoder = new TextDecoder();
    let text = '';
    const watch = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        text += decoder.decode(chunk, { stream: true });
        if (text.includes('notifications/subscriptions/acknowledged')) acked();
        controller.enqueue(chunk);
      },
    });
    return new Response(res.body.pipeThrough(watch), { status: res.status, statusText: res.statusText, headers: res.headers });
  }) as typeof fetch;
}

beforeAll(async () => {
  stack = await startStack({ mcpProtocols: '2026-07-28' });
  browser = new TestBrowser(stack.appUrl);
  await browser.login({ user: 'alice' });
  page.location.origin = stack.appUrl;
  Object.assign(globalThis, { window: page });
  globalThis.fetch = listenAwareFetch(pageFetch(browser, realFetch));
  mcp = await import('../src/mcp.js');
  mcp.noteConnections([{ server: 'default', name: 'Demo MCP server', status: 'connected', protocol: 'auto' }]);
  await mcp.withClient('default', (client) => client.listTools());
  await (await listen(0)).acked;
  expect(listensReceived()).toBe(1);
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
    (await listen(0)).drop();
    page.dispatchEvent(new Event('pagehide'));
    await new Promise((resolve) => setTimeout(resolve, 2 * PAUSE_MS));
    expect(listens).toHaveLength(1);
    expect(listensReceived()).toBe(1);

    page.dispatchEvent(new Event('pageshow'));
    await (await listen(1)).acked;
    expect(listensReceived()).toBe(2);
    // And it is a working stream: a call still goes through next to it.
    expect(JSON.stringify((await mcp.withClient('default', (client) => client.callTool({ name: 'echo', arguments: { message: 'back' } }))).content)).toContain('back');
  });

  it('is listened to again, not at once but after a pause that doubles with each drop in a row', async () => {
    const dropped = performance.now();
    (await listen(1)).drop();
    const again = await listen(2);
    expect(again.at - dropped).toBeGreaterThanOrEqual(PAUSE_MS - 5);
    await again.acked;
    expect(listensReceived()).toBe(3);

    const droppedAgain = performance.now();
    again.drop();
    const third = await listen(3);
    expect(third.at - droppedAgain).toBeGreaterThanOrEqual(2 * PAUSE_MS - 5);
    await third.acked;
    expect(listensReceived()).toBe(4);
  });
});

describe('a listen stream that cannot be opened', () => {
  it('is tried again after a pause that doubles: the request failed, or the stream dropped before the server acknowledged it', async () => {
    // A new connection (after the last one closed) opens its stream by itself, no one awaiting it.
    await mcp.closeAllClients();
    faults.push('fail', 'drop before ack');
    await mcp.withClient('default', (client) => client.listTools());

    const failed = await listen(4);
    const dropped = await listen(5);
    expect(dropped.at - failed.at).toBeGreaterThanOrEqual(PAUSE_MS - 5);
    const opened = await listen(6);
    expect(opened.at - dropped.at).toBeGreaterThanOrEqual(2 * PAUSE_MS - 5);
    await opened.acked;
    // The one that failed never left the page; the one dropped before its ack reached the server.
    expect(listensReceived()).toBe(6);
    expect(JSON.stringify((await mcp.withClient('default', (client) => client.callTool({ name: 'echo', arguments: { message: 'open' } }))).content)).toContain('open');
  });
});

describe('two changes to what the page listens for at once', () => {
  it('open one stream, which carries both', async () => {
    const before = listens.length;
    await Promise.all([mcp.subscribeResource('default', 'demo://counter'), mcp.subscribeResource('default', 'demo://readme')]);
    // Each change opened its stream before it resolved: a second one would be here by now.
    expect(listens).toHaveLength(before + 1);
    await (await listen(before)).acked;

    let updated = 0;
    const stop = mcp.watchResource('default', 'demo://counter', () => updated++);
    await mcp.withClient('default', (client) => client.callTool({ name: 'bump_counter', arguments: {} }));
    await expect.poll(() => updated).toBe(1);
    stop();
  });
});

describe('a change to what the page listens for that cannot be opened', () => {
  it('fails, and leaves the stream there was: it still carries updates, and the next change closes it', async () => {
    const current = listens.length - 1;
    faults.push('fail');
    await expect(mcp.subscribeResource('default', 'demo://notes/1')).rejects.toThrow();
    expect(listens).toHaveLength(current + 2);

    let updated = 0;
    const stop = mcp.watchResource('default', 'demo://counter', () => updated++);
    await mcp.withClient('default', (client) => client.callTool({ name: 'bump_counter', arguments: {} }));
    await expect.poll(() => updated).toBe(1);
    stop();

    await mcp.subscribeResource('default', 'demo://notes/1');
    expect(listens).toHaveLength(current + 3);
    await (await listen(current + 2)).acked;
    expect((await listen(current)).closedByPage).toBe(true);
  });
});

import { getRequestListener } from '@hono/node-server';
import { runInNewContext } from 'node:vm';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AuthServer, createAuthServer } from '../../demo/src/auth-server.js';
import { type Listening, listen } from '../../demo/src/listen.js';
import { createMcpServer, type McpDemo } from '../../demo/src/mcp-server.js';
import { DEMO_CLIENT } from '../../demo/src/stack.js';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { MemoryTokenStore } from '../src/store/memory.js';
import { TEST_SESSION_SECRET } from './hostile-support.js';
import type { SoakClientOptions, SoakResult } from './soak-client.js';
import { startVariant, type Variant } from './variant-server.js';

/**
 * A soak on loopback: 20,000 anonymous requests in a few seconds, from four client addresses, mixed over
 * /bff/login (a server with a working authorization server, and one whose registration endpoint fails),
 * /bff/callback with junk codes and real states (each would be a token request as the BFF), and POSTs to
 * /mcp/default without a cookie. The BFF runs in this process, at its default limits, in front of the
 * real demo authorization server and MCP server and a variant AS. Afterwards, the heap (after GC) has not
 * grown beyond a bound, no session was stored, and the authorization servers saw a bounded number of
 * token and registration requests.
 */

const TOTAL = 20_000;
const ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];
const CONCURRENCY = 32;
/** The BFF's defaults (config.ts), which this soak runs with. */
const LIMITS = { login: 30, callback: 30 };

let asListener: Listening;
let mcpListener: Listening;
let appListener: Listening;
let as: AuthServer;
let mcp: McpDemo;
let variant: Variant;
let store: MemoryTokenStore;

/** Calls to the store that write a session, a connection or an MCP session binding, by method. */
const writes = new Map<string, number>();

/** The store, counting every call that would leave a session, connection or binding row behind. */
function counting(inner: MemoryTokenStore): MemoryTokenStore {
  return new Proxy(inner, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== 'function' || typeof name !== 'string') return value;
      const writesRows = /^(create|rotate|put|replace|bind|touch)/.test(name);
      return (...args: unknown[]) => {
        if (writesRows) writes.set(name, (writes.get(name) ?? 0) + 1);
        return value.apply(target, args);
      };
    },
  });
}

/** Node's gc(), also when the test process was not started with --expose-gc. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  for (let i = 0; i < 3; i++) gc();
}

/**
 * The young generation's reserved size. V8 grows it under a burst of allocations and keeps it after GC:
 * Node 24's V8 up to 128 MiB on the test machine (two 64 MiB semi-spaces), Node 20's and 22's
 * up to 32 MiB. Reserved, not retained: no object survives in it, so it is no leak.
 */
function youngGenerationBytes(): number {
  return getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;
}

beforeAll(async () => {
  asListener = await listen(0, '127.0.0.1');
  mcpListener = await listen(0, '127.0.0.1');
  appListener = await listen(0, '127.0.0.1', 'localhost');
  const mcpUrl = `${mcpListener.origin}/mcp`;
  as = await createAuthServer({
    issuer: asListener.origin,
    resource: mcpUrl,
    clients: [{ ...DEMO_CLIENT, redirect_uris: [`${appListener.origin}/bff/callback`, `${appListener.origin}/bff/callback/default`] }],
  });
  asListener.handle(as.handler);
  mcp = createMcpServer({ resource: mcpUrl, issuer: asListener.origin });
  mcpListener.handle(mcp.handler);
  variant = await startVariant({ faults: { registration: 'status-500' } });
  const config = loadConfig({
    PUBLIC_URL: appListener.origin,
    MCP_SERVERS: JSON.stringify([
      { id: 'default', url: mcpUrl, clientId: DEMO_CLIENT.client_id, clientSecret: DEMO_CLIENT.client_secret, issuer: asListener.origin, scopes: 'mcp:tools' },
      { id: 'registers', url: variant.url },
    ]),
    SESSION_SECRET: TEST_SESSION_SECRET,
    ALLOW_HTTP_LOOPBACK: '1',
    LOG_LEVEL: 'silent',
    TOKEN_STORE: 'memory',
  });
  store = new MemoryTokenStore();
  appListener.handle(getRequestListener(createApp({ config, store: counting(store), log: createLogger('silent') }).fetch));
}, 30_000);

afterAll(async () => {
  await mcp?.close();
  await Promise.all([appListener?.close(), mcpListener?.close(), asListener?.close(), variant?.close()]);
});

/** The flood's client, in a worker thread (soak-client.ts): its CPU is not the BFF's, nor its heap. */
function startClient(options: SoakClientOptions): { run(total: number): Promise<SoakResult>; close(): Promise<void> } {
  const worker = new Worker(new URL('./soak-client-entry.mjs', import.meta.url), { workerData: options });
  return {
    run: (total) =>
      new Promise((resolve, reject) => {
        worker.once('message', (result: SoakResult | { error: string }) =>
          'error' in result ? reject(new Error(result.error)) : resolve(result),
        );
        worker.once('error', reject);
        worker.postMessage({ total });
      }),
    close: async () => {
      worker.postMessage({ close: true });
      await worker.terminate();
    },
  };
}

it('20,000 anonymous requests in a few seconds: memory flat, no session stored, bounded token and registration requests', async () => {
  writes.clear();
  const client = startClient({
    base: appListener.origin.replace('localhost', '127.0.0.1'),
    host: new URL(appListener.origin).host,
    issuer: asListener.origin,
    addresses: ADDRESSES,
    concurrency: CONCURRENCY,
  });
  try {
    // Warm up with a flood like the measured one (code paths compiled, pools, caches and the native
    // allocator's arenas filled: Node 24's RSS grows ~60 MiB over a first flood and then stays), then the
    // baseline. The measured flood must leave memory where the first one left it.
    await client.run(TOTAL);
    collectGarbage();
    const before = process.memoryUsage();
    const youngBefore = youngGenerationBytes();
    const result = await client.run(TOTAL);
    collectGarbage();
    const after = process.memoryUsage();
    const youngGrowth = youngGenerationBytes() - youngBefore;
    const heapGrowth = after.heapUsed - before.heapUsed;
    const rssGrowth = after.rss - before.rss;
    const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
    console.log(
      `soak: ${result.sent} requests in ${(result.ms / 1000).toFixed(1)} s; heap ${mib(before.heapUsed)} → ${mib(after.heapUsed)} MiB, ` +
        `rss ${mib(before.rss)} → ${mib(after.rss)} MiB (young generation +${mib(youngGrowth)}); token requests ${as.tokenRequests.length}, registrations ${variant.hits.registration}\n` +
        Object.entries(result.outcomes)
          .map(([what, n]) => `  ${n} × ${what}`)
          .join('\n'),
    );

    expect(result.sent).toBeGreaterThanOrEqual(TOTAL);
    // Flat: what the flood left behind after GC is within a few MiB (its own bookkeeping), and so is the
    // process's memory, apart from the young generation V8 keeps reserved (youngGenerationBytes).
    expect(heapGrowth).toBeLessThan(8 * 2 ** 20);
    expect(rssGrowth - youngGrowth).toBeLessThan(64 * 2 ** 20);
    // Nothing in the store: not one session, connection or binding was written during the flood (the
    // single-use markers of the callbacks let through are all it may leave, each expiring in 10 minutes).
    expect(Object.fromEntries(writes)).toEqual({});
    // Every junk code that reached the AS came with a callback within the limit, per address, in at
    // most two windows (the run may straddle one boundary).
    // Over both floods (about 10 s, so at most two one-minute windows).
    expect(as.tokenRequests.length).toBeLessThanOrEqual(LIMITS.callback * ADDRESSES.length * 2);
    // The failing registration endpoint: once per failure TTL (30 s), not once per login.
    expect(variant.hits.registration).toBeLessThanOrEqual(2);
    // Every answer was one the BFF means to give: no 5xx from the BFF itself.
    for (const what of Object.keys(result.outcomes)) expect(what).not.toMatch(/ 5\d\d/);
    // Refusing is cheap: about 6 s here on 2 cores (without the limits, 30 s, most of it at the AS).
    expect(result.ms).toBeLessThan(25_000);
  } finally {
    await client.close();
  }
}, 60_000);

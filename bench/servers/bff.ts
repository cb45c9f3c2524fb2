import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { createApp as CreateApp } from '../../bff/src/app.js';
import type { loadConfig as LoadConfig } from '../../bff/src/config.js';
import type { createLogger as CreateLogger } from '../../bff/src/log.js';
import type { openTokenStore as OpenTokenStore } from '../../bff/src/store/open.js';
import { DEMO_CLIENT, DEMO_SESSION_SECRET } from '../../demo/src/stack.js';
import { serveRpc } from '../lib/child.js';
import { gcAndMeasure } from '../lib/memory.js';

/**
 * The BFF as bff/src/main.ts runs it (createApp + its Node request listener, the store TOKEN_STORE
 * names, info-level request logs), configured for the demo stack, plus a control channel for the bench.
 * argv: port, MCP server URL, token store (memory, sqlite:<file>, redis://…).
 * BENCH_BFF_ROOT: another checkout's bff/ directory to run instead (the "before" of the fixes).
 * BENCH_STATIC_DIR: the built SPA to serve as well (web/dist).
 * BENCH_BFF_DPOP=1: DPoP-bound tokens (the bench's AS offers DPoP; without it the BFF asks for bearer tokens).
 */
const [port, mcpUrl, tokenStore] = process.argv.slice(2) as [string, string, string];

const bffRoot = new URL(process.env.BENCH_BFF_ROOT ? `${pathToFileURL(process.env.BENCH_BFF_ROOT).href}/` : '../../bff/', import.meta.url);
const load = <T>(path: string): Promise<T> => import(new URL(path, bffRoot).href) as Promise<T>;
const { createApp } = await load<{ createApp: typeof CreateApp }>('src/app.ts');
const { loadConfig } = await load<{ loadConfig: typeof LoadConfig }>('src/config.ts');
const { createLogger } = await load<{ createLogger: typeof CreateLogger }>('src/log.ts');
const { openTokenStore } = await load<{ openTokenStore: typeof OpenTokenStore }>('src/store/open.ts');

// The BFF's own copy of @hono/node-server (bench/ is not a workspace package with dependencies).
type Serve = typeof import('../../bff/node_modules/@hono/node-server/dist/index.mjs').serve;
const bffRequire = createRequire(new URL('package.json', bffRoot));
const { serve } = (await import(pathToFileURL(bffRequire.resolve('@hono/node-server')).href)) as { serve: Serve };

const config = loadConfig({
  PUBLIC_URL: `http://localhost:${port}`,
  PORT: port,
  MCP_SERVER_URL: mcpUrl,
  OAUTH_CLIENT_ID: DEMO_CLIENT.client_id,
  OAUTH_CLIENT_SECRET: DEMO_CLIENT.client_secret,
  OAUTH_SCOPES: 'mcp:tools',
  SESSION_SECRET: DEMO_SESSION_SECRET,
  ALLOW_HTTP_LOOPBACK: '1',
  LOG_LEVEL: process.env.BENCH_BFF_LOG_LEVEL ?? 'info',
  TOKEN_STORE: tokenStore,
  TOKEN_ENCRYPTION_KEYS: `bench:${randomBytes(32).toString('base64')}`,
  OAUTH_DPOP: process.env.BENCH_BFF_DPOP === '1' ? '1' : '0',
  // The built SPA, for the first-load measurement (bench/lib/firstload.ts).
  ...(process.env.BENCH_STATIC_DIR ? { STATIC_DIR: process.env.BENCH_STATIC_DIR } : {}),
});
const log = createLogger(config.logLevel);
const store = await openTokenStore(config, log);
const app = createApp({ config, store, log });
// As main.ts serves it: its own listener where the BFF has one (from 2026-12-05 on), else the adapter's.
const { nodeRequestListener } = await load<{ nodeRequestListener?: (a: typeof app) => import('node:http').RequestListener }>('src/app.ts');
if (nodeRequestListener) {
  const server = createServer(nodeRequestListener(app));
  await new Promise<void>((resolve) => server.listen(config.port, '127.0.0.1', () => resolve()));
} else {
  await new Promise<void>((resolve) => serve({ fetch: app.fetch, hostname: '127.0.0.1', port: config.port }, () => resolve()));
}

serveRpc({
  /** The session's access token, for the direct and nginx setups: the same token the BFF sends. */
  accessToken: async (sid: string) => {
    const record = await store.getConnection(sid, 'default');
    if (!record) throw new Error('no connection for that session');
    return record.accessToken;
  },
  /** Makes the stored access token look nearly expired, so the next use must refresh it. */
  expireSoon: async (sid: string) => {
    const record = await store.getConnection(sid, 'default');
    if (!record) throw new Error('no connection for that session');
    const now = Date.now();
    await store.putConnection(sid, 'default', { ...record, issuedAt: now - 600_000, expiresAt: now + 1_000, generation: record.generation + 1 });
  },
  memory: () => gcAndMeasure(),
  /** The monotonic clock in µs: the CPU profiler's timestamps are on it. */
  clock: () => Number(process.hrtime.bigint() / 1000n),
  exit: () => {
    store.close().finally(() => process.exit(0));
  },
});

import { getRequestListener } from '@hono/node-server';
import { createApp } from '../../bff/src/app.js';
import { loadConfig } from '../../bff/src/config.js';
import { createLogger, type Logger } from '../../bff/src/log.js';
import { MemoryTokenStore } from '../../bff/src/store/memory.js';
import type { TokenStore } from '../../bff/src/store/types.js';
import { type AuthServer, createAuthServer } from './auth-server.js';
import { listen } from './listen.js';
import { createMcpServer, type McpDemo } from './mcp-server.js';

/**
 * Demo-only client credentials, pre-registered at the demo authorization server. Never use them for
 * anything else: they are public in this repository.
 */
export const DEMO_CLIENT = {
  client_id: 'mcp-bff-demo',
  client_secret: 'demo-only-client-secret-not-for-production',
} as const;

/** Demo-only cookie secret (public in this repository). */
export const DEMO_SESSION_SECRET = 'demo-only-session-secret-do-not-use-in-production';

export interface StackOptions {
  /** 0 picks free ports (tests); the demo uses 3000, 4000 and 4100. */
  appPort?: number;
  asPort?: number;
  mcpPort?: number;
  accessTokenTtlSeconds?: number;
  /** Directory of the built SPA; omitted in API-only tests. */
  staticDir?: string;
  logLevel?: string;
  log?: Logger;
  store?: TokenStore;
  /** Extra environment for the BFF's configuration (e.g. OAUTH_SCOPES). */
  env?: Record<string, string>;
  upstreamFetch?: typeof fetch;
}

export interface Stack {
  /** The app as the browser sees it: http://localhost:<port> (a different site from 127.0.0.1). */
  appUrl: string;
  /** The authorization server's issuer: http://127.0.0.1:<port>. */
  issuer: string;
  /** The MCP server's URL: http://127.0.0.1:<port>/mcp. */
  mcpUrl: string;
  as: AuthServer;
  mcp: McpDemo;
  store: TokenStore;
  app: ReturnType<typeof createApp>;
  /** Stops and starts the authorization server's listener on the same port, to show an outage. */
  stopAuthServer(): Promise<void>;
  startAuthServer(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the real demo authorization server, the real demo MCP server and the BFF, wired to each other.
 * Each listener is bound first so that, with port 0, every part knows the others' URLs.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const asListener = await listen(options.asPort ?? 0, '127.0.0.1');
  const mcpListener = await listen(options.mcpPort ?? 0, '127.0.0.1');
  const appListener = await listen(options.appPort ?? 0, '127.0.0.1', 'localhost');
  const issuer = asListener.origin;
  const mcpUrl = `${mcpListener.origin}/mcp`;
  const appUrl = appListener.origin;

  const as = await createAuthServer({
    issuer,
    resource: mcpUrl,
    clients: [{ ...DEMO_CLIENT, redirect_uris: [`${appUrl}/bff/callback`] }],
    ...(options.accessTokenTtlSeconds ? { accessTokenTtlSeconds: options.accessTokenTtlSeconds } : {}),
  });
  asListener.handle(as.handler);
  const mcp = createMcpServer({ resource: mcpUrl, issuer });
  mcpListener.handle(mcp.handler);

  const config = loadConfig({
    PUBLIC_URL: appUrl,
    PORT: String(appListener.port),
    MCP_SERVER_URL: mcpUrl,
    MCP_SERVER_NAME: 'Demo MCP server',
    OAUTH_CLIENT_ID: DEMO_CLIENT.client_id,
    OAUTH_CLIENT_SECRET: DEMO_CLIENT.client_secret,
    OAUTH_SCOPES: 'mcp:tools',
    SESSION_SECRET: DEMO_SESSION_SECRET,
    ALLOW_HTTP_LOOPBACK: '1',
    LOG_LEVEL: options.logLevel ?? 'silent',
    ...(options.staticDir ? { STATIC_DIR: options.staticDir } : {}),
    ...options.env,
  });
  const log = options.log ?? createLogger(config.logLevel);
  const store = options.store ?? new MemoryTokenStore();
  const app = createApp({ config, store, log, ...(options.upstreamFetch ? { upstreamFetch: options.upstreamFetch } : {}) });
  appListener.handle(getRequestListener(app.fetch));

  let asDown = false;
  return {
    appUrl,
    issuer,
    mcpUrl,
    as,
    mcp,
    store,
    app,
    async stopAuthServer() {
      asDown = true;
      await new Promise<void>((resolve) => {
        asListener.server.close(() => resolve());
        asListener.server.closeAllConnections();
      });
    },
    async startAuthServer() {
      if (!asDown) return;
      await new Promise<void>((resolve, reject) => {
        asListener.server.once('error', reject);
        asListener.server.listen(asListener.port, '127.0.0.1', () => resolve());
      });
      asDown = false;
    },
    async close() {
      await Promise.all([appListener.close(), mcp.close().then(() => mcpListener.close()), asDown ? undefined : asListener.close()]);
    },
  };
}

import { getRequestListener } from '@hono/node-server';
import { listen } from '../../demo/src/listen.js';
import { createMcpServer, type McpDemo } from '../../demo/src/mcp-server.js';
import { DEMO_SESSION_SECRET } from '../../demo/src/stack.js';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { MemoryTokenStore } from '../src/store/memory.js';

/**
 * The demo MCP server and the BFF in front of an authorization server that is not the demo's: the MCP
 * server names `issuer` in its resource metadata and trusts the tokens `issuer` issues (as JWTs, or by
 * introspection); the BFF has no client there and registers itself (RFC 7591).
 */
export interface ExternalAsStack {
  appUrl: string;
  mcpUrl: string;
  mcp: McpDemo;
  store: MemoryTokenStore;
  close(): Promise<void>;
}

export async function startAgainst(options: {
  /** Exactly as the AS's metadata names itself. */
  issuer: string;
  introspectionEndpoint?: string;
  /** Binds the MCP server's URL before the AS exists, when the AS must know it. */
  mcpListener?: Awaited<ReturnType<typeof listen>>;
  env?: Record<string, string>;
}): Promise<ExternalAsStack> {
  // TEST_BFF_LOG=info shows the BFF's log while a test against another AS is being debugged.
  const mcpListener = options.mcpListener ?? (await listen(0, '127.0.0.1'));
  const appListener = await listen(0, '127.0.0.1', 'localhost');
  const mcpUrl = `${mcpListener.origin}/mcp`;
  const mcp = createMcpServer({
    resource: mcpUrl,
    issuer: options.issuer,
    protocols: '2025-11-25',
    ...(options.introspectionEndpoint ? { introspectionEndpoint: options.introspectionEndpoint } : {}),
  });
  mcpListener.handle(mcp.handler);
  const config = loadConfig({
    PUBLIC_URL: appListener.origin,
    MCP_SERVER_URL: mcpUrl,
    MCP_SERVER_NAME: 'Demo MCP server',
    SESSION_SECRET: DEMO_SESSION_SECRET,
    ALLOW_HTTP_LOOPBACK: '1',
    LOG_LEVEL: process.env.TEST_BFF_LOG ?? 'silent',
    ...options.env,
  });
  const store = new MemoryTokenStore();
  const app = createApp({ config, store, log: createLogger(process.env.TEST_BFF_LOG ?? 'silent') });
  appListener.handle(getRequestListener(app.fetch));
  return {
    appUrl: appListener.origin,
    mcpUrl,
    mcp,
    store,
    async close() {
      await Promise.all([appListener.close(), mcp.close().then(() => mcpListener.close())]);
    },
  };
}

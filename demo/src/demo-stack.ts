import { type AuthServer, type AuthServerOptions, createAuthServer } from './auth-server.js';
import { listen, type Listening } from './listen.js';
import { createMcpServer, type McpDemo, type McpProtocols } from './mcp-server.js';

/**
 * Starts the demo authorization server and the demo MCP server together: both are bound first (port 0
 * is fine), then each gets its handler knowing the other's URL. Used by the tests; `pnpm start` can use
 * it with the fixed demo ports.
 */
export interface DemoStackOptions {
  host?: string;
  asPort?: number;
  mcpPort?: number;
  clients: AuthServerOptions['clients'];
  accessTokenTtlSeconds?: AuthServerOptions['accessTokenTtlSeconds'];
  refreshTokenTtlSeconds?: number;
  /** Passed to the MCP server: answer POSTs with JSON instead of SSE. */
  enableJsonResponse?: boolean;
  /** Passed to the MCP server: which protocol eras it speaks (default both). */
  protocols?: McpProtocols;
}

export interface DemoStack {
  /** e.g. http://127.0.0.1:4000 */
  issuer: string;
  /** e.g. http://127.0.0.1:4100/mcp */
  resource: string;
  authServer: AuthServer;
  mcp: McpDemo;
  asListening: Listening;
  mcpListening: Listening;
  close(): Promise<void>;
}

export async function startDemoStack(options: DemoStackOptions): Promise<DemoStack> {
  const host = options.host ?? '127.0.0.1';
  const asListening = await listen(options.asPort ?? 0, host);
  const mcpListening = await listen(options.mcpPort ?? 0, host).catch(async (err: unknown) => {
    await asListening.close();
    throw err;
  });
  const issuer = asListening.origin;
  const resource = `${mcpListening.origin}/mcp`;
  const authServer = await createAuthServer({
    issuer,
    resource,
    clients: options.clients,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds,
    refreshTokenTtlSeconds: options.refreshTokenTtlSeconds,
  });
  const mcp = createMcpServer({ resource, issuer, enableJsonResponse: options.enableJsonResponse, protocols: options.protocols });
  asListening.handle(authServer.handler);
  mcpListening.handle(mcp.handler);
  return {
    issuer,
    resource,
    authServer,
    mcp,
    asListening,
    mcpListening,
    async close() {
      await mcp.close();
      await Promise.all([mcpListening.close(), asListening.close()]);
    },
  };
}
